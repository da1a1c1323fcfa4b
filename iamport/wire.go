package iamport

import (
	"encoding/json"
)

// Wire shapes: what answers are decoded into before they become the exported types. Every
// field has a tolerant type (decode.go) that reads its value in place, so an envelope and
// its response are decoded by one json.Unmarshal, with no second pass over any part.

// paymentWire is PaymentAnnotation as the client reads it.
type paymentWire struct {
	ImpUID            flexString   `json:"imp_uid"`
	MerchantUID       flexString   `json:"merchant_uid"`
	PayMethod         flexString   `json:"pay_method"`
	Channel           flexString   `json:"channel"`
	PGProvider        flexString   `json:"pg_provider"`
	EmbPGProvider     flexString   `json:"emb_pg_provider"`
	PGTID             flexString   `json:"pg_tid"`
	PGID              flexString   `json:"pg_id"`
	Sandbox           optBool      `json:"sandbox"`
	Escrow            flexBool     `json:"escrow"`
	ApplyNum          flexString   `json:"apply_num"`
	BankCode          flexString   `json:"bank_code"`
	BankName          flexString   `json:"bank_name"`
	CardCode          flexString   `json:"card_code"`
	CardName          flexString   `json:"card_name"`
	CardIssuerCode    flexString   `json:"card_issuer_code"`
	CardIssuerName    flexString   `json:"card_issuer_name"`
	CardPublisherCode flexString   `json:"card_publisher_code"`
	CardPublisherName flexString   `json:"card_publisher_name"`
	CardQuota         flexInt      `json:"card_quota"`
	CardNumber        flexString   `json:"card_number"`
	CardType          flexCardType `json:"card_type"`
	Name              flexString   `json:"name"`
	Amount            flexAmount   `json:"amount"`
	CancelAmount      flexAmount   `json:"cancel_amount"`
	Currency          flexString   `json:"currency"`
	BuyerName         flexString   `json:"buyer_name"`
	BuyerEmail        flexString   `json:"buyer_email"`
	BuyerTel          flexString   `json:"buyer_tel"`
	BuyerAddr         flexString   `json:"buyer_addr"`
	BuyerPostcode     flexString   `json:"buyer_postcode"`
	CustomData        flexString   `json:"custom_data"`
	UserAgent         flexString   `json:"user_agent"`
	Status            flexString   `json:"status"`
	StartedAt         Timestamp    `json:"started_at"`
	PaidAt            Timestamp    `json:"paid_at"`
	FailedAt          Timestamp    `json:"failed_at"`
	CancelledAt       Timestamp    `json:"cancelled_at"`
	FailReason        flexString   `json:"fail_reason"`
	CancelReason      flexString   `json:"cancel_reason"`
	ReceiptURL        flexString   `json:"receipt_url"`
	CancelHistory     []cancelWire `json:"cancel_history"`
	CashReceiptIssued flexBool     `json:"cash_receipt_issued"`
	CustomerUID       flexString   `json:"customer_uid"`
	CustomerUIDUsage  flexString   `json:"customer_uid_usage"`
}

func (w *paymentWire) into(p *Payment) {
	*p = Payment{
		ImpUID:            string(w.ImpUID),
		MerchantUID:       string(w.MerchantUID),
		PayMethod:         string(w.PayMethod),
		Channel:           string(w.Channel),
		PGProvider:        string(w.PGProvider),
		EmbPGProvider:     string(w.EmbPGProvider),
		PGTID:             string(w.PGTID),
		PGID:              string(w.PGID),
		Sandbox:           w.Sandbox.ptr(),
		Escrow:            bool(w.Escrow),
		ApplyNum:          string(w.ApplyNum),
		BankCode:          string(w.BankCode),
		BankName:          string(w.BankName),
		CardCode:          string(w.CardCode),
		CardName:          string(w.CardName),
		CardIssuerCode:    string(w.CardIssuerCode),
		CardIssuerName:    string(w.CardIssuerName),
		CardPublisherCode: string(w.CardPublisherCode),
		CardPublisherName: string(w.CardPublisherName),
		CardQuota:         int(w.CardQuota),
		CardNumber:        string(w.CardNumber),
		CardType:          w.CardType.ptr(),
		Name:              string(w.Name),
		Amount:            w.Amount.v,
		CancelAmount:      w.CancelAmount.v,
		AmountNotWhole:    w.Amount.notWhole || w.CancelAmount.notWhole,
		Currency:          string(w.Currency),
		BuyerName:         string(w.BuyerName),
		BuyerEmail:        string(w.BuyerEmail),
		BuyerTel:          string(w.BuyerTel),
		BuyerAddr:         string(w.BuyerAddr),
		BuyerPostcode:     string(w.BuyerPostcode),
		CustomData:        string(w.CustomData),
		UserAgent:         string(w.UserAgent),
		Status:            PaymentStatus(w.Status),
		StartedAt:         w.StartedAt,
		PaidAt:            w.PaidAt,
		FailedAt:          w.FailedAt,
		CancelledAt:       w.CancelledAt,
		FailReason:        string(w.FailReason),
		CancelReason:      string(w.CancelReason),
		ReceiptURL:        string(w.ReceiptURL),
		CashReceiptIssued: bool(w.CashReceiptIssued),
		CustomerUID:       string(w.CustomerUID),
		CustomerUIDUsage:  string(w.CustomerUIDUsage),
	}
	if w.CancelHistory != nil {
		p.CancelHistory = make([]Cancel, len(w.CancelHistory))
		for i := range w.CancelHistory {
			w.CancelHistory[i].into(&p.CancelHistory[i])
			p.AmountNotWhole = p.AmountNotWhole || p.CancelHistory[i].AmountNotWhole
		}
	}
}

// cancelWire is PaymentCancelAnnotation as the client reads it.
type cancelWire struct {
	PGTID          flexString `json:"pg_tid"`
	Amount         flexAmount `json:"amount"`
	CancelledAt    Timestamp  `json:"cancelled_at"`
	Reason         flexString `json:"reason"`
	CancellationID flexString `json:"cancellation_id"`
	ReceiptURL     flexString `json:"receipt_url"`
}

func (w *cancelWire) into(c *Cancel) {
	*c = Cancel{
		PGTID:          string(w.PGTID),
		Amount:         w.Amount.v,
		AmountNotWhole: w.Amount.notWhole,
		CancelledAt:    w.CancelledAt,
		Reason:         string(w.Reason),
		CancellationID: string(w.CancellationID),
		ReceiptURL:     string(w.ReceiptURL),
	}
}

// customerWire is CustomerAnnotation as the client reads it.
type customerWire struct {
	CustomerUID       flexString   `json:"customer_uid"`
	PGProvider        flexString   `json:"pg_provider"`
	PGID              flexString   `json:"pg_id"`
	Sandbox           optBool      `json:"sandbox"`
	CustomerID        flexString   `json:"customer_id"`
	CardName          flexString   `json:"card_name"`
	CardCode          flexString   `json:"card_code"`
	CardIssuerCode    flexString   `json:"card_issuer_code"`
	CardIssuerName    flexString   `json:"card_issuer_name"`
	CardPublisherCode flexString   `json:"card_publisher_code"`
	CardPublisherName flexString   `json:"card_publisher_name"`
	CardNumber        flexString   `json:"card_number"`
	CardType          flexCardType `json:"card_type"`
	CustomerName      flexString   `json:"customer_name"`
	CustomerTel       flexString   `json:"customer_tel"`
	CustomerEmail     flexString   `json:"customer_email"`
	CustomerAddr      flexString   `json:"customer_addr"`
	CustomerPostcode  flexString   `json:"customer_postcode"`
	Inserted          Timestamp    `json:"inserted"`
	Updated           Timestamp    `json:"updated"`
}

func (w *customerWire) into(c *Customer) {
	*c = Customer{
		CustomerUID:       string(w.CustomerUID),
		PGProvider:        string(w.PGProvider),
		PGID:              string(w.PGID),
		Sandbox:           w.Sandbox.ptr(),
		CustomerID:        string(w.CustomerID),
		CardName:          string(w.CardName),
		CardCode:          string(w.CardCode),
		CardIssuerCode:    string(w.CardIssuerCode),
		CardIssuerName:    string(w.CardIssuerName),
		CardPublisherCode: string(w.CardPublisherCode),
		CardPublisherName: string(w.CardPublisherName),
		CardNumber:        string(w.CardNumber),
		CardType:          w.CardType.ptr(),
		CustomerName:      string(w.CustomerName),
		CustomerTel:       string(w.CustomerTel),
		CustomerEmail:     string(w.CustomerEmail),
		CustomerAddr:      string(w.CustomerAddr),
		CustomerPostcode:  string(w.CustomerPostcode),
		Inserted:          w.Inserted,
		Updated:           w.Updated,
	}
}

// scheduleWire is ScheduleResultAnnotation as the client reads it.
type scheduleWire struct {
	CustomerUID    flexString `json:"customer_uid"`
	MerchantUID    flexString `json:"merchant_uid"`
	ImpUID         flexString `json:"imp_uid"`
	PGProvider     flexString `json:"pg_provider"`
	PGID           flexString `json:"pg_id"`
	CustomerID     flexString `json:"customer_id"`
	ScheduleAt     Timestamp  `json:"schedule_at"`
	ExecutedAt     Timestamp  `json:"executed_at"`
	RevokedAt      Timestamp  `json:"revoked_at"`
	Amount         flexAmount `json:"amount"`
	Currency       flexString `json:"currency"`
	Name           flexString `json:"name"`
	BuyerName      flexString `json:"buyer_name"`
	BuyerEmail     flexString `json:"buyer_email"`
	BuyerTel       flexString `json:"buyer_tel"`
	BuyerAddr      flexString `json:"buyer_addr"`
	BuyerPostcode  flexString `json:"buyer_postcode"`
	CustomData     flexString `json:"custom_data"`
	ScheduleStatus flexString `json:"schedule_status"`
	PaymentStatus  flexString `json:"payment_status"`
	FailReason     flexString `json:"fail_reason"`
	PromotionID    flexString `json:"promotion_id"`
}

func (w *scheduleWire) into(s *ScheduleResult) {
	*s = ScheduleResult{
		CustomerUID:    string(w.CustomerUID),
		MerchantUID:    string(w.MerchantUID),
		ImpUID:         string(w.ImpUID),
		PGProvider:     string(w.PGProvider),
		PGID:           string(w.PGID),
		CustomerID:     string(w.CustomerID),
		ScheduleAt:     w.ScheduleAt,
		ExecutedAt:     w.ExecutedAt,
		RevokedAt:      w.RevokedAt,
		Amount:         w.Amount.v,
		AmountNotWhole: w.Amount.notWhole,
		Currency:       string(w.Currency),
		Name:           string(w.Name),
		BuyerName:      string(w.BuyerName),
		BuyerEmail:     string(w.BuyerEmail),
		BuyerTel:       string(w.BuyerTel),
		BuyerAddr:      string(w.BuyerAddr),
		BuyerPostcode:  string(w.BuyerPostcode),
		CustomData:     string(w.CustomData),
		ScheduleStatus: ScheduleStatus(w.ScheduleStatus),
		PaymentStatus:  PaymentStatus(w.PaymentStatus),
		FailReason:     string(w.FailReason),
		PromotionID:    string(w.PromotionID),
	}
}

// schedulesWire is a list of scheduled payments.
type schedulesWire []scheduleWire

func (w *schedulesWire) into(out *[]ScheduleResult) {
	list := make([]ScheduleResult, len(*w))
	for i := range *w {
		(*w)[i].into(&list[i])
	}
	*out = list
}

// tokenWire is AuthAnnotation as the client reads it.
type tokenWire struct {
	AccessToken flexString `json:"access_token"`
	ExpiredAt   Timestamp  `json:"expired_at"`
	Now         Timestamp  `json:"now"`
}

func (w *tokenWire) into(t *Token) {
	*t = Token{AccessToken: string(w.AccessToken), ExpiredAt: w.ExpiredAt, Now: w.Now}
}

// pageWire is PagedPaymentAnnotation as the client reads it.
type pageWire struct {
	Total    flexInt       `json:"total"`
	Previous flexInt       `json:"previous"`
	Next     flexInt       `json:"next"`
	List     []paymentWire `json:"list"`
}

func (w *pageWire) into(pp *PaymentPage) {
	*pp = PaymentPage{Total: int(w.Total), Previous: int(w.Previous), Next: int(w.Next)}
	if w.List != nil {
		pp.List = make([]Payment, len(w.List))
		for i := range w.List {
			w.List[i].into(&pp.List[i])
		}
	}
}

// envelopeHead is the envelope without its response.
type envelopeHead struct {
	Code    flexInt     `json:"code"`
	Message flexMessage `json:"message"`
}

// flexMessage is the envelope's message: a string, null, or (tolerated) any other value as
// its JSON text.
type flexMessage struct {
	text string
	set  bool
}

func (m *flexMessage) UnmarshalJSON(data []byte) error {
	s, err := readString(data)
	*m = flexMessage{text: s, set: err == nil && !isNull(data)}
	return err
}

func isNull(data []byte) bool {
	for len(data) > 0 && (data[0] == ' ' || data[0] == '\t' || data[0] == '\n' || data[0] == '\r') {
		data = data[1:]
	}
	return string(data) == "null"
}

// decodeAnswer decodes body as an envelope whose response has out's type (one of the
// exported answer types, or nil for none) in one pass. It reports whether the envelope
// carried a non-null response. On an error the head may be incomplete: decodeHead reads it
// alone.
func decodeAnswer(body []byte, out any) (envelopeHead, bool, error) {
	switch o := out.(type) {
	case *Payment:
		return decodeEnvelope(body, o, (*paymentWire).into)
	case *Customer:
		return decodeEnvelope(body, o, (*customerWire).into)
	case *[]ScheduleResult:
		return decodeEnvelope(body, o, (*schedulesWire).into)
	case *ScheduleResult:
		return decodeEnvelope(body, o, (*scheduleWire).into)
	case *PaymentPage:
		return decodeEnvelope(body, o, (*pageWire).into)
	case *Token:
		return decodeEnvelope(body, o, (*tokenWire).into)
	case nil:
		h, err := decodeHead(body)
		return h, false, err
	}
	// Any other type decodes the plain way: the envelope, then the response.
	var env struct {
		envelopeHead
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return env.envelopeHead, false, err
	}
	if isNull(env.Response) || len(env.Response) == 0 {
		return env.envelopeHead, false, nil
	}
	return env.envelopeHead, true, json.Unmarshal(env.Response, out)
}

// decodeEnvelope is decodeAnswer for one answer type: W is its wire shape.
func decodeEnvelope[W, T any](body []byte, out *T, into func(*W, *T)) (envelopeHead, bool, error) {
	var env struct {
		envelopeHead
		Response *W `json:"response"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return env.envelopeHead, false, err
	}
	if env.Response == nil {
		return env.envelopeHead, false, nil
	}
	into(env.Response, out)
	return env.envelopeHead, true, nil
}

// decodeHead reads the envelope's code and message, skipping the response.
func decodeHead(body []byte) (envelopeHead, error) {
	var h envelopeHead
	err := json.Unmarshal(body, &h)
	return h, err
}

// decodeVia decodes data into its tolerant wire form W, then copies that into dst.
func decodeVia[W any, PW interface {
	*W
	into(T)
}, T any](data []byte, dst T) error {
	var w W
	if err := json.Unmarshal(data, &w); err != nil {
		return err
	}
	PW(&w).into(dst)
	return nil
}

// UnmarshalJSON decodes a payment tolerantly (see the package documentation).
func (p *Payment) UnmarshalJSON(data []byte) error { return decodeVia[paymentWire](data, p) }

// UnmarshalJSON decodes one cancel-history entry tolerantly.
func (c *Cancel) UnmarshalJSON(data []byte) error { return decodeVia[cancelWire](data, c) }

// UnmarshalJSON decodes a customer (billing key) tolerantly.
func (c *Customer) UnmarshalJSON(data []byte) error { return decodeVia[customerWire](data, c) }

// UnmarshalJSON decodes a scheduled payment tolerantly.
func (s *ScheduleResult) UnmarshalJSON(data []byte) error { return decodeVia[scheduleWire](data, s) }

// UnmarshalJSON decodes a getToken answer; its timestamps go through Timestamp.
func (t *Token) UnmarshalJSON(data []byte) error { return decodeVia[tokenWire](data, t) }

// UnmarshalJSON decodes a page of payments, tolerating numbers written as strings.
func (pp *PaymentPage) UnmarshalJSON(data []byte) error { return decodeVia[pageWire](data, pp) }

// UnmarshalJSON decodes the envelope, tolerating a code written as a string and a
// message that is not a string.
func (e *Envelope) UnmarshalJSON(data []byte) error {
	var env struct {
		envelopeHead
		Response json.RawMessage `json:"response"`
	}
	*e = Envelope{}
	if err := json.Unmarshal(data, &env); err != nil {
		return err
	}
	e.Code = int(env.Code)
	if env.Message.set {
		m := env.Message.text
		e.Message = &m
	}
	e.Response = env.Response
	return nil
}
