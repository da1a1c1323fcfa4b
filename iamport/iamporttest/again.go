package iamporttest

import (
	"net/http"
	"slices"
)

// Messages iamport answers with.
const (
	msgUnknownCustomer  = "등록되지 않은 구매자입니다."
	msgDuplicateOrder   = "이미 주문이 이루어진 건입니다. (동일한 merchant_uid로 결제 또는 취소된 기록이 있습니다)"
	msgPaymentNotFound  = "존재하지 않는 결제정보입니다."
	msgNothingToCancel  = "취소할 결제건이 존재하지 않습니다."
	msgNoCustomerInfo   = "등록된 고객정보가 없습니다."
	msgNothingToRevoke  = "취소할 예약결제 기록이 존재하지 않습니다."
	msgScheduleNotFound = "결제예약건이 존재하지 않습니다."
)

// chargeSpec is what a charge by key (again or a scheduled run) asks for.
type chargeSpec struct {
	merchantUID   string
	amount        int64
	name          string
	currency      string
	buyerName     string
	buyerEmail    string
	buyerTel      string
	buyerAddr     string
	buyerPostcode string
	customData    string
	cardQuota     int
	noticeURL     string
}

// readCharge validates the fields of an again request (or one schedule entry).
func readCharge(p bodyParams) (chargeSpec, error) {
	var c chargeSpec
	var err error
	if c.merchantUID, err = p.limited("merchant_uid", 40, true); err != nil {
		return c, err
	}
	amount, present, err := p.int64("amount")
	if err != nil {
		return c, err
	}
	if !present {
		return c, errRequired("amount")
	}
	if amount <= 0 {
		return c, &fieldError{"amount 는 0보다 커야 합니다."}
	}
	c.amount = amount
	if c.name, err = p.limited("name", 40, true); err != nil {
		return c, err
	}
	if c.currency, err = p.limited("currency", 3, false); err != nil {
		return c, err
	}
	if c.currency == "" {
		c.currency = "KRW"
	}
	for _, fl := range []struct {
		name string
		max  int
		dst  *string
	}{
		{"buyer_name", 16, &c.buyerName},
		{"buyer_email", 64, &c.buyerEmail},
		{"buyer_tel", 16, &c.buyerTel},
		{"buyer_addr", 128, &c.buyerAddr},
		{"buyer_postcode", 8, &c.buyerPostcode},
		{"notice_url", 0, &c.noticeURL},
	} {
		if *fl.dst, err = p.limited(fl.name, fl.max, false); err != nil {
			return c, err
		}
	}
	c.customData = p.text("custom_data")
	for _, name := range []string{"tax_free", "vat_amount", "vat"} {
		v, present, err := p.int64(name)
		if err != nil {
			return c, err
		}
		if present && (v < 0 || v > amount) {
			return c, &fieldError{name + " 는 0 이상 amount 이하여야 합니다."}
		}
	}
	quota, present, err := p.int64("card_quota")
	if err != nil {
		return c, err
	}
	if present && quota != 0 {
		if quota < 2 || quota > 36 {
			return c, &fieldError{"card_quota 는 2 이상 36 이하여야 합니다."}
		}
		if amount < 50000 {
			return c, &fieldError{"할부는 50,000원 이상 결제 시에만 가능합니다."}
		}
		c.cardQuota = int(quota)
	}
	if _, err = p.limited("channel_key", 55, false); err != nil {
		return c, err
	}
	for _, en := range []struct {
		name  string
		valid []string
	}{
		{"product_type", []string{"real", "digital"}},
		{"cash_receipt_type", []string{"person", "company", "anonymous"}},
	} {
		s, err := p.str(en.name)
		if err != nil {
			return c, err
		}
		if s != "" && !slices.Contains(en.valid, s) {
			return c, errFormat(en.name)
		}
	}
	for _, name := range []string{"interest_free_by_merchant", "use_card_point"} {
		if _, err := p.boolean(name); err != nil {
			return c, err
		}
	}
	if _, _, err := p.int64("product_count"); err != nil {
		return c, err
	}
	return c, nil
}

// handleAgain serves POST /subscribe/payments/again.
func (f *Fake) handleAgain(a *apiRequest) apiReply {
	customerUID, err := a.body.limited("customer_uid", 80, true)
	if err != nil {
		return fromErr(err)
	}
	c, err := readCharge(a.body)
	if err != nil {
		return fromErr(err)
	}
	f.mu.Lock()
	cust, found := f.customers[customerUID]
	if !found {
		f.mu.Unlock()
		return failReply(http.StatusOK, 1, msgUnknownCustomer)
	}
	if f.merchantUIDUsedLocked(c.merchantUID) {
		f.mu.Unlock()
		return failReply(http.StatusOK, -1, msgDuplicateOrder)
	}
	rec := f.chargeLocked(cust, c, usagePayment, a.base)
	p := f.answerLocked(rec)
	var notes []hookNote
	if p.Status == statusPaid {
		notes = append(notes, f.noteLocked(rec, statusPaid, ""))
	}
	f.mu.Unlock()
	f.changed()
	f.notify(notes)
	return okReply(p)
}

// chargeLocked charges a key: it records a paid payment, or a failed one when the test card
// declines.
func (f *Fake) chargeLocked(cust *custRec, c chargeSpec, usage, base string) *payRec {
	now := f.unixLocked()
	p := payment{
		ImpUID:            f.newImpUIDLocked(),
		MerchantUID:       c.merchantUID,
		PayMethod:         "card",
		Channel:           "api",
		PGProvider:        nstr(cust.c.PGProvider),
		PGID:              nstr(cust.c.PGID),
		PGTID:             nstr(randomDigits(14)),
		CardCode:          cust.c.CardCode,
		CardName:          nstr(cust.c.CardName),
		CardNumber:        cust.c.CardNumber,
		CardType:          copyInt(cust.c.CardType),
		CardQuota:         c.cardQuota,
		Name:              nstr(c.name),
		Amount:            won{v: c.amount},
		Currency:          c.currency,
		BuyerName:         nstr(c.buyerName),
		BuyerEmail:        nstr(c.buyerEmail),
		BuyerTel:          nstr(c.buyerTel),
		BuyerAddr:         nstr(c.buyerAddr),
		BuyerPostcode:     nstr(c.buyerPostcode),
		CustomData:        nstr(c.customData),
		UserAgent:         userAgentAPI,
		StartedAt:         now,
		CancelHistory:     []cancelEntry{},
		DepositHistory:    []vbankDeposit{},
		CancelReceiptURLs: []string{},
		CustomerUID:       nstr(cust.c.CustomerUID),
		CustomerUIDUsage:  nstr(usage),
	}
	if cust.card.pays(cust.charges) {
		cust.charges++
		p.Status = statusPaid
		p.PaidAt = now
		p.ApplyNum = nstr(randomDigits(8))
		p.ReceiptURL = nstr(receiptURL(base, p.ImpUID))
	} else {
		p.Status = statusFailed
		p.FailedAt = now
		p.FailReason = FailReasonDeclined
	}
	return f.storeLocked(p, c.noticeURL, cust.sandbox)
}
