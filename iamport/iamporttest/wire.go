package iamporttest

import (
	"bytes"
	"encoding/json"
	"strconv"
)

// The fake's records, in its own types: they are what it stores and exactly what it
// writes, key for key as iamport's V1 specification defines them (PaymentAnnotation,
// PaymentCancelAnnotation, CustomerAnnotation, ScheduleResultAnnotation, AuthAnnotation,
// PagedPaymentAnnotation). Every key a real answer carries is written, and a value a real
// answer leaves empty is written as null or 0, as real answers do. Nothing here depends on
// package iamport's struct tags, so a wrong tag there shows up as a field the client fails
// to read.

// nstr is a string that iamport writes as null when it is empty.
type nstr string

func (s nstr) MarshalJSON() ([]byte, error) {
	if s == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(s))
}

func (s *nstr) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		*s = ""
		return nil
	}
	var v string
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*s = nstr(v)
	return nil
}

// won is an amount of won as the fake writes it: the whole number, or, when a test asked
// for an answer with a broken amount (Fault.AmountJSON, SetAmountJSON), that JSON number
// in its place. The fake's own bookkeeping always uses the whole number.
type won struct {
	v    int64
	text string // a JSON number written instead of v when set
}

func (a won) MarshalJSON() ([]byte, error) {
	if a.text != "" {
		return []byte(a.text), nil
	}
	return strconv.AppendInt(nil, a.v, 10), nil
}

func (a *won) UnmarshalJSON(data []byte) error {
	var n json.Number
	if err := json.Unmarshal(data, &n); err != nil {
		return err
	}
	if v, err := n.Int64(); err == nil {
		*a = won{v: v}
		return nil
	}
	f, err := n.Float64()
	if err != nil {
		return err
	}
	*a = won{v: int64(f), text: n.String()}
	return nil
}

// validAmountJSON reports whether s can stand for an amount in an answer: a JSON number.
func validAmountJSON(s string) bool {
	var n json.Number
	return s != "" && json.Unmarshal([]byte(s), &n) == nil && n.String() == s
}

// payment is a payment (PaymentAnnotation).
type payment struct {
	ImpUID            string         `json:"imp_uid"`
	MerchantUID       string         `json:"merchant_uid"`
	PayMethod         nstr           `json:"pay_method"`
	Channel           nstr           `json:"channel"`
	PGProvider        nstr           `json:"pg_provider"`
	EmbPGProvider     nstr           `json:"emb_pg_provider"`
	PGTID             nstr           `json:"pg_tid"`
	PGID              nstr           `json:"pg_id"`
	Sandbox           *bool          `json:"sandbox,omitempty"` // nil: WithoutSandboxField
	Escrow            bool           `json:"escrow"`
	ApplyNum          nstr           `json:"apply_num"`
	BankCode          nstr           `json:"bank_code"`
	BankName          nstr           `json:"bank_name"`
	CardCode          nstr           `json:"card_code"`
	CardName          nstr           `json:"card_name"`
	CardIssuerCode    nstr           `json:"card_issuer_code"`
	CardIssuerName    nstr           `json:"card_issuer_name"`
	CardPublisherCode nstr           `json:"card_publisher_code"`
	CardPublisherName nstr           `json:"card_publisher_name"`
	CardQuota         int            `json:"card_quota"`
	CardNumber        nstr           `json:"card_number"`
	CardType          *int           `json:"card_type"`
	VbankCode         nstr           `json:"vbank_code"`
	VbankName         nstr           `json:"vbank_name"`
	VbankNum          nstr           `json:"vbank_num"`
	VbankHolder       nstr           `json:"vbank_holder"`
	VbankDate         int64          `json:"vbank_date"`
	VbankIssuedAt     int64          `json:"vbank_issued_at"`
	Name              nstr           `json:"name"`
	Amount            won            `json:"amount"`
	CancelAmount      int64          `json:"cancel_amount"`
	Currency          string         `json:"currency"`
	BuyerName         nstr           `json:"buyer_name"`
	BuyerEmail        nstr           `json:"buyer_email"`
	BuyerTel          nstr           `json:"buyer_tel"`
	BuyerAddr         nstr           `json:"buyer_addr"`
	BuyerPostcode     nstr           `json:"buyer_postcode"`
	CustomData        nstr           `json:"custom_data"`
	UserAgent         nstr           `json:"user_agent"`
	Status            string         `json:"status"`
	StartedAt         int64          `json:"started_at"`
	PaidAt            int64          `json:"paid_at"`
	FailedAt          int64          `json:"failed_at"`
	CancelledAt       int64          `json:"cancelled_at"`
	FailReason        nstr           `json:"fail_reason"`
	CancelReason      nstr           `json:"cancel_reason"`
	ReceiptURL        nstr           `json:"receipt_url"`
	CancelHistory     []cancelEntry  `json:"cancel_history"`
	DepositHistory    []vbankDeposit `json:"deposit_history"`
	CancelReceiptURLs []string       `json:"cancel_receipt_urls"`
	CashReceiptIssued bool           `json:"cash_receipt_issued"`
	CustomerUID       nstr           `json:"customer_uid"`
	CustomerUIDUsage  nstr           `json:"customer_uid_usage"`
	Promotion         *promotion     `json:"promotion"`
}

// cancelEntry is one cancellation of a payment (PaymentCancelAnnotation).
type cancelEntry struct {
	PGTID          nstr   `json:"pg_tid"`
	Amount         int64  `json:"amount"`
	CancelledAt    int64  `json:"cancelled_at"`
	Reason         string `json:"reason"`
	CancellationID string `json:"cancellation_id"`
	ReceiptURL     nstr   `json:"receipt_url"`
}

// vbankDeposit is a deposit into a virtual account (VbankDepositAnnotation); card
// payments have none, so the list is always empty.
type vbankDeposit struct {
	PGTID         string `json:"pg_tid"`
	Amount        int64  `json:"amount"`
	DepositorName string `json:"depositor_name"`
	DepositedAt   int64  `json:"deposited_at"`
}

// promotion is a discount applied to a payment; the fake applies none.
type promotion struct {
	ID       string `json:"id"`
	Discount int64  `json:"discount"`
}

// customer is a billing key (CustomerAnnotation).
type customer struct {
	CustomerUID       string `json:"customer_uid"`
	PGProvider        string `json:"pg_provider"`
	PGID              string `json:"pg_id"`
	Sandbox           *bool  `json:"sandbox,omitempty"` // nil: WithoutSandboxField
	CustomerID        nstr   `json:"customer_id"`
	CardName          string `json:"card_name"`
	CardCode          nstr   `json:"card_code"`
	CardIssuerCode    nstr   `json:"card_issuer_code"`
	CardIssuerName    nstr   `json:"card_issuer_name"`
	CardPublisherCode nstr   `json:"card_publisher_code"`
	CardPublisherName nstr   `json:"card_publisher_name"`
	CardNumber        nstr   `json:"card_number"`
	CardType          *int   `json:"card_type"`
	CustomerName      nstr   `json:"customer_name"`
	CustomerTel       nstr   `json:"customer_tel"`
	CustomerEmail     nstr   `json:"customer_email"`
	CustomerAddr      nstr   `json:"customer_addr"`
	CustomerPostcode  nstr   `json:"customer_postcode"`
	Inserted          int64  `json:"inserted"`
	Updated           int64  `json:"updated"`
}

// schedule is a scheduled payment (ScheduleResultAnnotation).
type schedule struct {
	CustomerUID    string `json:"customer_uid"`
	MerchantUID    string `json:"merchant_uid"`
	ImpUID         nstr   `json:"imp_uid"` // null until executed
	PGProvider     nstr   `json:"pg_provider"`
	PGID           nstr   `json:"pg_id"`
	CustomerID     nstr   `json:"customer_id"`
	ScheduleAt     int64  `json:"schedule_at"`
	ExecutedAt     int64  `json:"executed_at"`
	RevokedAt      int64  `json:"revoked_at"`
	Amount         int64  `json:"amount"`
	Currency       string `json:"currency"`
	Name           nstr   `json:"name"`
	BuyerName      nstr   `json:"buyer_name"`
	BuyerEmail     nstr   `json:"buyer_email"`
	BuyerTel       nstr   `json:"buyer_tel"`
	BuyerAddr      nstr   `json:"buyer_addr"`
	BuyerPostcode  nstr   `json:"buyer_postcode"`
	CustomData     nstr   `json:"custom_data"`
	ScheduleStatus string `json:"schedule_status"`
	PaymentStatus  nstr   `json:"payment_status"` // null until executed
	FailReason     nstr   `json:"fail_reason"`
	PromotionID    nstr   `json:"promotion_id"`
}

// authToken is the answer of getToken (AuthAnnotation).
type authToken struct {
	AccessToken string `json:"access_token"`
	ExpiredAt   int64  `json:"expired_at"`
	Now         int64  `json:"now"`
}

// paymentPage is one page of findAll (PagedPaymentAnnotation).
type paymentPage struct {
	Total    int       `json:"total"`
	Previous int       `json:"previous"`
	Next     int       `json:"next"`
	List     []payment `json:"list"`
}

// Schedule statuses, payment statuses and customer_uid usages as iamport writes them.
const (
	scheduleScheduled = "scheduled"
	scheduleExecuted  = "executed"
	scheduleRevoked   = "revoked"

	statusReady     = "ready"
	statusPaid      = "paid"
	statusFailed    = "failed"
	statusCancelled = "cancelled"

	usageIssue            = "issue"
	usagePayment          = "payment"
	usagePaymentScheduled = "payment.scheduled"
)

// userAgentAPI is the user_agent iamport writes on payments made through the REST API.
const userAgentAPI = "sorry_not_supported_anymore"

func (p payment) clone() payment {
	if p.CardType != nil {
		v := *p.CardType
		p.CardType = &v
	}
	if p.Sandbox != nil {
		v := *p.Sandbox
		p.Sandbox = &v
	}
	if p.Promotion != nil {
		v := *p.Promotion
		p.Promotion = &v
	}
	p.CancelHistory = cloneList(p.CancelHistory)
	p.DepositHistory = cloneList(p.DepositHistory)
	p.CancelReceiptURLs = cloneList(p.CancelReceiptURLs)
	return p
}

func (c customer) clone() customer {
	if c.CardType != nil {
		v := *c.CardType
		c.CardType = &v
	}
	if c.Sandbox != nil {
		v := *c.Sandbox
		c.Sandbox = &v
	}
	return c
}

// cloneList copies a list, keeping it non-nil: iamport writes empty lists as [].
func cloneList[T any](l []T) []T {
	return append(make([]T, 0, len(l)), l...)
}

func boolPtr(v bool) *bool { return &v }

func intPtr(v int) *int { return &v }
