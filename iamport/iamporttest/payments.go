package iamporttest

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// handleGetPayment serves GET /payments/{imp_uid}?include_sandbox=: sandbox payments are
// not found unless include_sandbox is true.
func (f *Fake) handleGetPayment(a *apiRequest) apiReply {
	includeSandbox := false
	if v := a.r.URL.Query().Get("include_sandbox"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return failReply(http.StatusBadRequest, 1, "include_sandbox 의 형식이 올바르지 않습니다.")
		}
		includeSandbox = b
	}
	f.mu.Lock()
	rec, found := f.byImpUID[a.ids[0]]
	var p payment
	hidden := false
	if found {
		p, hidden = f.answerLocked(rec), rec.sandbox && !includeSandbox
	}
	f.mu.Unlock()
	if !found || hidden {
		return failReply(http.StatusNotFound, -1, msgPaymentNotFound)
	}
	return okReply(p)
}

// sortKeys are the accepted sorting values and the field each sorts on.
var sortKeys = map[string]func(*payRec) int64{
	"started": func(r *payRec) int64 { return r.p.StartedAt },
	"paid":    func(r *payRec) int64 { return r.p.PaidAt },
	"updated": func(r *payRec) int64 { return r.updated },
}

// matchPayments returns the payments with merchantUID (and status, if set) sorted by
// sorting (default -started), or an answer for bad parameters.
func (f *Fake) matchPaymentsLocked(merchantUID, status, sorting string) ([]*payRec, *apiReply) {
	if status != "" && !validStatus(status) {
		rp := failReply(http.StatusBadRequest, 1, "payment_status 의 값이 올바르지 않습니다.")
		return nil, &rp
	}
	if sorting == "" {
		sorting = "-started"
	}
	desc := strings.HasPrefix(sorting, "-")
	key, known := sortKeys[strings.TrimPrefix(sorting, "-")]
	if !known {
		rp := failReply(http.StatusBadRequest, 1, "sorting 의 값이 올바르지 않습니다.")
		return nil, &rp
	}
	var out []*payRec
	for _, rec := range f.byMerchant[merchantUID] {
		if status == "" || rec.p.Status == status {
			out = append(out, rec)
		}
	}
	slices.SortStableFunc(out, func(x, y *payRec) int {
		c := cmp.Or(cmp.Compare(key(x), key(y)), cmp.Compare(x.seq, y.seq))
		if desc {
			return -c
		}
		return c
	})
	return out, nil
}

func validStatus(s string) bool {
	switch s {
	case statusReady, statusPaid, statusFailed, statusCancelled:
		return true
	}
	return false
}

// handleFind serves GET /payments/find/{merchant_uid}[/{status}]: the first payment by
// sorting, 404 if none.
func (f *Fake) handleFind(a *apiRequest) apiReply {
	status := ""
	if len(a.ids) > 1 {
		status = a.ids[1]
	}
	f.mu.Lock()
	list, bad := f.matchPaymentsLocked(a.ids[0], status, a.r.URL.Query().Get("sorting"))
	var p payment
	if len(list) > 0 {
		p = f.answerLocked(list[0])
	}
	f.mu.Unlock()
	if bad != nil {
		return *bad
	}
	if len(list) == 0 {
		return failReply(http.StatusNotFound, -1, msgPaymentNotFound)
	}
	return okReply(p)
}

// handleFindAll serves GET /payments/findAll/{merchant_uid}[/{status}]?page=&limit=&sorting=.
func (f *Fake) handleFindAll(a *apiRequest) apiReply {
	q := a.r.URL.Query()
	page, limit := 1, 20
	if v := q.Get("page"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 {
			return failReply(http.StatusBadRequest, 1, "page 의 값이 올바르지 않습니다.")
		}
		page = int(n)
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return failReply(http.StatusBadRequest, 1, "limit 은 1 이상 1000 이하여야 합니다.")
		}
		limit = n
	}
	status := ""
	if len(a.ids) > 1 {
		status = a.ids[1]
	}
	f.mu.Lock()
	list, bad := f.matchPaymentsLocked(a.ids[0], status, q.Get("sorting"))
	total := len(list)
	out := paymentPage{Total: total, List: []payment{}}
	start := total // pages past the end are empty (and huge page numbers cannot overflow)
	if page-1 <= total/limit {
		start = min((page-1)*limit, total)
	}
	end := min(start+limit, total)
	for _, rec := range list[start:end] {
		out.List = append(out.List, f.answerLocked(rec))
	}
	f.mu.Unlock()
	if bad != nil {
		return *bad
	}
	if total == 0 {
		return failReply(http.StatusNotFound, -1, msgPaymentNotFound)
	}
	if page > 1 {
		out.Previous = page - 1
	}
	if end < total {
		out.Next = page + 1
	}
	return okReply(out)
}

// handleCancel serves POST /payments/cancel.
func (f *Fake) handleCancel(a *apiRequest) apiReply {
	p := a.body
	impUID, err := p.str("imp_uid")
	if err != nil {
		return fromErr(err)
	}
	merchantUID, err := p.str("merchant_uid")
	if err != nil {
		return fromErr(err)
	}
	if impUID == "" && merchantUID == "" {
		return failReply(http.StatusOK, 1, "imp_uid 또는 merchant_uid 중 하나는 필수입니다.")
	}
	amount, _, err := p.int64("amount")
	if err != nil {
		return fromErr(err)
	}
	if amount < 0 {
		return failReply(http.StatusOK, 1, "amount 는 0 이상이어야 합니다.")
	}
	var checksum *int64
	if v, present, err := p.int64("checksum"); err != nil {
		return fromErr(err)
	} else if present {
		checksum = &v
	}
	for _, name := range []string{"tax_free", "vat_amount"} {
		if v, present, err := p.int64(name); err != nil {
			return fromErr(err)
		} else if present && v < 0 {
			return failReply(http.StatusOK, 1, name+" 는 0 이상이어야 합니다.")
		}
	}
	reason, err := p.str("reason")
	if err != nil {
		return fromErr(err)
	}
	webhook, err := p.boolean("enable_webhook")
	if err != nil {
		return fromErr(err)
	}

	f.mu.Lock()
	var rec *payRec
	if impUID != "" {
		rec = f.byImpUID[impUID]
	} else {
		for _, r := range f.byMerchant[merchantUID] { // newest cancellable payment with the merchant_uid
			if cancellable(r.p) {
				rec = r
			}
		}
	}
	if rec == nil || !cancellable(rec.p) {
		f.mu.Unlock()
		return failReply(http.StatusOK, 1, msgNothingToCancel)
	}
	c, err := f.cancelLocked(rec, amount, checksum, reason, a.base)
	if err != nil {
		f.mu.Unlock()
		return failReply(http.StatusOK, 1, err.Error()+".")
	}
	out := f.answerLocked(rec)
	var notes []hookNote
	if webhook {
		notes = append(notes, f.noteLocked(rec, statusCancelled, c.CancellationID))
	}
	f.mu.Unlock()
	f.changed()
	f.notify(notes)
	return okReply(out)
}

// cancellable reports whether p has a balance to cancel.
func cancellable(p payment) bool {
	return (p.Status == statusPaid || p.Status == statusCancelled) && p.Amount.v-p.CancelAmount > 0
}

// Refusals of a cancellation beyond "nothing to cancel", worded as iamport does.
func errChecksum(checksum, balance int64) error {
	return fmt.Errorf("요청하신 checksum(%d)이 취소가능잔액(%d)과 일치하지 않습니다", checksum, balance)
}

func errOverBalance(amount, balance int64) error {
	return fmt.Errorf("취소요청금액(%d)이 취소가능잔액(%d)보다 큽니다", amount, balance)
}

// cancelLocked cancels amount (0 = the whole balance) of rec after checking checksum.
func (f *Fake) cancelLocked(rec *payRec, amount int64, checksum *int64, reason, base string) (cancelEntry, error) {
	if !cancellable(rec.p) {
		return cancelEntry{}, errors.New(strings.TrimSuffix(msgNothingToCancel, "."))
	}
	balance := rec.p.Amount.v - rec.p.CancelAmount
	if checksum != nil && *checksum != balance {
		return cancelEntry{}, errChecksum(*checksum, balance)
	}
	if amount == 0 {
		amount = balance
	}
	if amount < 0 || amount > balance {
		return cancelEntry{}, errOverBalance(amount, balance)
	}
	now := f.unixLocked()
	receipt := receiptURL(base, rec.p.ImpUID)
	c := cancelEntry{
		PGTID:          rec.p.PGTID,
		Amount:         amount,
		CancelledAt:    now,
		Reason:         reason,
		CancellationID: randomAlnum(20),
		ReceiptURL:     nstr(receipt),
	}
	rec.p.CancelHistory = append(rec.p.CancelHistory, c)
	rec.p.CancelReceiptURLs = append(rec.p.CancelReceiptURLs, receipt)
	rec.p.CancelAmount += amount
	rec.p.Status = statusCancelled
	rec.p.CancelledAt = now
	rec.p.CancelReason = nstr(reason)
	rec.updated = now
	return c, nil
}
