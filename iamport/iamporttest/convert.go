package iamporttest

import (
	"math/big"
	"strings"

	"github.com/billkey/billkey/iamport"
)

// The edge between the fake's records and package iamport's types: the accessors (Payment,
// Customer, Schedule, ...) and PutPayment speak iamport's types; everything the fake stores
// and writes is its own. The mapping is field by field in Go, never through JSON, so it
// cannot inherit a mistake in either side's tags.

// toClient is the payment as a client decodes it from the fake's answer.
func (p payment) toClient() iamport.Payment {
	out := iamport.Payment{
		ImpUID:            p.ImpUID,
		MerchantUID:       p.MerchantUID,
		PayMethod:         string(p.PayMethod),
		Channel:           string(p.Channel),
		PGProvider:        string(p.PGProvider),
		EmbPGProvider:     string(p.EmbPGProvider),
		PGTID:             string(p.PGTID),
		PGID:              string(p.PGID),
		Sandbox:           copyBool(p.Sandbox),
		Escrow:            p.Escrow,
		ApplyNum:          string(p.ApplyNum),
		BankCode:          string(p.BankCode),
		BankName:          string(p.BankName),
		CardCode:          string(p.CardCode),
		CardName:          string(p.CardName),
		CardIssuerCode:    string(p.CardIssuerCode),
		CardIssuerName:    string(p.CardIssuerName),
		CardPublisherCode: string(p.CardPublisherCode),
		CardPublisherName: string(p.CardPublisherName),
		CardQuota:         p.CardQuota,
		CardNumber:        string(p.CardNumber),
		CardType:          copyInt(p.CardType),
		Name:              string(p.Name),
		Amount:            p.Amount.v,
		CancelAmount:      p.CancelAmount,
		Currency:          p.Currency,
		BuyerName:         string(p.BuyerName),
		BuyerEmail:        string(p.BuyerEmail),
		BuyerTel:          string(p.BuyerTel),
		BuyerAddr:         string(p.BuyerAddr),
		BuyerPostcode:     string(p.BuyerPostcode),
		CustomData:        string(p.CustomData),
		UserAgent:         string(p.UserAgent),
		Status:            iamport.PaymentStatus(p.Status),
		StartedAt:         iamport.Timestamp(p.StartedAt),
		PaidAt:            iamport.Timestamp(p.PaidAt),
		FailedAt:          iamport.Timestamp(p.FailedAt),
		CancelledAt:       iamport.Timestamp(p.CancelledAt),
		FailReason:        string(p.FailReason),
		CancelReason:      string(p.CancelReason),
		ReceiptURL:        string(p.ReceiptURL),
		CancelHistory:     make([]iamport.Cancel, 0, len(p.CancelHistory)),
		CashReceiptIssued: p.CashReceiptIssued,
		CustomerUID:       string(p.CustomerUID),
		CustomerUIDUsage:  string(p.CustomerUIDUsage),
	}
	if p.Amount.text != "" {
		out.Amount, out.AmountNotWhole = wholeOf(p.Amount.text)
	}
	for _, c := range p.CancelHistory {
		out.CancelHistory = append(out.CancelHistory, iamport.Cancel{
			PGTID:          string(c.PGTID),
			Amount:         c.Amount,
			CancelledAt:    iamport.Timestamp(c.CancelledAt),
			Reason:         c.Reason,
			CancellationID: c.CancellationID,
			ReceiptURL:     string(c.ReceiptURL),
		})
	}
	return out
}

// wholeOf reads an amount written as a JSON number the way package iamport documents it:
// the whole number when it is one within int64, else NotWholeAmount and true.
func wholeOf(text string) (int64, bool) {
	if i := strings.IndexAny(text, "eE"); len(text) > 64 || i >= 0 && len(strings.TrimLeft(text[i+1:], "+-0")) > 2 {
		return iamport.NotWholeAmount, true // a hundred digits or more: beyond int64 or below one won
	}
	if r, ok := new(big.Rat).SetString(text); ok && r.IsInt() && r.Num().IsInt64() {
		return r.Num().Int64(), false
	}
	return iamport.NotWholeAmount, true
}

// paymentFromClient stores p as given (PutPayment). Amounts that are not whole cannot be
// expressed this way: SetAmountJSON writes those.
func paymentFromClient(p iamport.Payment) payment {
	out := payment{
		ImpUID:            p.ImpUID,
		MerchantUID:       p.MerchantUID,
		PayMethod:         nstr(p.PayMethod),
		Channel:           nstr(p.Channel),
		PGProvider:        nstr(p.PGProvider),
		EmbPGProvider:     nstr(p.EmbPGProvider),
		PGTID:             nstr(p.PGTID),
		PGID:              nstr(p.PGID),
		Sandbox:           copyBool(p.Sandbox),
		Escrow:            p.Escrow,
		ApplyNum:          nstr(p.ApplyNum),
		BankCode:          nstr(p.BankCode),
		BankName:          nstr(p.BankName),
		CardCode:          nstr(p.CardCode),
		CardName:          nstr(p.CardName),
		CardIssuerCode:    nstr(p.CardIssuerCode),
		CardIssuerName:    nstr(p.CardIssuerName),
		CardPublisherCode: nstr(p.CardPublisherCode),
		CardPublisherName: nstr(p.CardPublisherName),
		CardQuota:         p.CardQuota,
		CardNumber:        nstr(p.CardNumber),
		CardType:          copyInt(p.CardType),
		Name:              nstr(p.Name),
		Amount:            won{v: p.Amount},
		CancelAmount:      p.CancelAmount,
		Currency:          p.Currency,
		BuyerName:         nstr(p.BuyerName),
		BuyerEmail:        nstr(p.BuyerEmail),
		BuyerTel:          nstr(p.BuyerTel),
		BuyerAddr:         nstr(p.BuyerAddr),
		BuyerPostcode:     nstr(p.BuyerPostcode),
		CustomData:        nstr(p.CustomData),
		UserAgent:         nstr(p.UserAgent),
		Status:            string(p.Status),
		StartedAt:         int64(p.StartedAt),
		PaidAt:            int64(p.PaidAt),
		FailedAt:          int64(p.FailedAt),
		CancelledAt:       int64(p.CancelledAt),
		FailReason:        nstr(p.FailReason),
		CancelReason:      nstr(p.CancelReason),
		ReceiptURL:        nstr(p.ReceiptURL),
		CancelHistory:     make([]cancelEntry, 0, len(p.CancelHistory)),
		DepositHistory:    []vbankDeposit{},
		CancelReceiptURLs: []string{},
		CashReceiptIssued: p.CashReceiptIssued,
		CustomerUID:       nstr(p.CustomerUID),
		CustomerUIDUsage:  nstr(p.CustomerUIDUsage),
	}
	for _, c := range p.CancelHistory {
		out.CancelHistory = append(out.CancelHistory, cancelEntry{
			PGTID:          nstr(c.PGTID),
			Amount:         c.Amount,
			CancelledAt:    int64(c.CancelledAt),
			Reason:         c.Reason,
			CancellationID: c.CancellationID,
			ReceiptURL:     nstr(c.ReceiptURL),
		})
		if c.ReceiptURL != "" {
			out.CancelReceiptURLs = append(out.CancelReceiptURLs, c.ReceiptURL)
		}
	}
	return out
}

// toClient is the billing key as a client decodes it from the fake's answer.
func (c customer) toClient() iamport.Customer {
	return iamport.Customer{
		CustomerUID:       c.CustomerUID,
		PGProvider:        c.PGProvider,
		PGID:              c.PGID,
		Sandbox:           copyBool(c.Sandbox),
		CustomerID:        string(c.CustomerID),
		CardName:          c.CardName,
		CardCode:          string(c.CardCode),
		CardIssuerCode:    string(c.CardIssuerCode),
		CardIssuerName:    string(c.CardIssuerName),
		CardPublisherCode: string(c.CardPublisherCode),
		CardPublisherName: string(c.CardPublisherName),
		CardNumber:        string(c.CardNumber),
		CardType:          copyInt(c.CardType),
		CustomerName:      string(c.CustomerName),
		CustomerTel:       string(c.CustomerTel),
		CustomerEmail:     string(c.CustomerEmail),
		CustomerAddr:      string(c.CustomerAddr),
		CustomerPostcode:  string(c.CustomerPostcode),
		Inserted:          iamport.Timestamp(c.Inserted),
		Updated:           iamport.Timestamp(c.Updated),
	}
}

// toClient is the scheduled payment as a client decodes it from the fake's answer.
func (s schedule) toClient() iamport.ScheduleResult {
	return iamport.ScheduleResult{
		CustomerUID:    s.CustomerUID,
		MerchantUID:    s.MerchantUID,
		ImpUID:         string(s.ImpUID),
		PGProvider:     string(s.PGProvider),
		PGID:           string(s.PGID),
		CustomerID:     string(s.CustomerID),
		ScheduleAt:     iamport.Timestamp(s.ScheduleAt),
		ExecutedAt:     iamport.Timestamp(s.ExecutedAt),
		RevokedAt:      iamport.Timestamp(s.RevokedAt),
		Amount:         s.Amount,
		Currency:       s.Currency,
		Name:           string(s.Name),
		BuyerName:      string(s.BuyerName),
		BuyerEmail:     string(s.BuyerEmail),
		BuyerTel:       string(s.BuyerTel),
		BuyerAddr:      string(s.BuyerAddr),
		BuyerPostcode:  string(s.BuyerPostcode),
		CustomData:     string(s.CustomData),
		ScheduleStatus: iamport.ScheduleStatus(s.ScheduleStatus),
		PaymentStatus:  iamport.PaymentStatus(s.PaymentStatus),
		FailReason:     string(s.FailReason),
		PromotionID:    string(s.PromotionID),
	}
}

func copyBool(p *bool) *bool {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func copyInt(p *int) *int {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

// customerFromClient stores c as given (PutCustomer).
func customerFromClient(c iamport.Customer) customer {
	return customer{
		CustomerUID:       c.CustomerUID,
		PGProvider:        c.PGProvider,
		PGID:              c.PGID,
		CustomerID:        nstr(c.CustomerID),
		CardName:          c.CardName,
		CardCode:          nstr(c.CardCode),
		CardIssuerCode:    nstr(c.CardIssuerCode),
		CardIssuerName:    nstr(c.CardIssuerName),
		CardPublisherCode: nstr(c.CardPublisherCode),
		CardPublisherName: nstr(c.CardPublisherName),
		CardNumber:        nstr(c.CardNumber),
		CardType:          copyInt(c.CardType),
		CustomerName:      nstr(c.CustomerName),
		CustomerTel:       nstr(c.CustomerTel),
		CustomerEmail:     nstr(c.CustomerEmail),
		CustomerAddr:      nstr(c.CustomerAddr),
		CustomerPostcode:  nstr(c.CustomerPostcode),
		Inserted:          int64(c.Inserted),
		Updated:           int64(c.Updated),
	}
}
