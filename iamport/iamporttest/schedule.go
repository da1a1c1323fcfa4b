package iamporttest

import (
	"cmp"
	"net/http"
	"slices"
)

// handleSchedule serves POST /subscribe/payments/schedule for an existing billing key.
// Issuing a key from raw card fields is not supported (kcp_billing keys come from the
// window): without a key the answer is code 1 "등록된 고객정보가 없습니다.".
// checking_amount > 0 test-charges the key without recording anything: a card that would
// decline fails the whole request.
func (f *Fake) handleSchedule(a *apiRequest) apiReply {
	customerUID, err := a.body.limited("customer_uid", 80, true)
	if err != nil {
		return fromErr(err)
	}
	checking, _, err := a.body.int64("checking_amount")
	if err != nil {
		return fromErr(err)
	}
	if checking < 0 {
		return failReply(http.StatusOK, 1, "checking_amount 는 0 이상이어야 합니다.")
	}
	entries, err := a.body.objects("schedules")
	if err != nil {
		return fromErr(err)
	}
	if len(entries) == 0 {
		return fromErr(errRequired("schedules"))
	}
	list := make([]scheduleEntry, 0, len(entries))
	seen := map[string]bool{}
	for _, e := range entries {
		c, err := readCharge(e)
		if err != nil {
			return fromErr(err)
		}
		at, present, err := e.int64("schedule_at")
		if err != nil {
			return fromErr(err)
		}
		if !present || at <= 0 {
			return fromErr(errRequired("schedule_at"))
		}
		if seen[c.merchantUID] {
			return failReply(http.StatusOK, 1, "schedules 에 중복된 merchant_uid 가 있습니다.")
		}
		seen[c.merchantUID] = true
		list = append(list, scheduleEntry{c, at})
	}

	rp := f.scheduleLocked(customerUID, checking, list)
	if rp.status == http.StatusOK && rp.code == 0 {
		f.changed()
	}
	return rp
}

// scheduleEntry is one validated entry of a schedule request.
type scheduleEntry struct {
	c  chargeSpec
	at int64
}

// scheduleLocked registers the entries of a schedule request under the lock.
func (f *Fake) scheduleLocked(customerUID string, checking int64, list []scheduleEntry) apiReply {
	f.mu.Lock()
	defer f.mu.Unlock()
	cust, found := f.customers[customerUID]
	if !found {
		return failReply(http.StatusOK, 1, msgNoCustomerInfo)
	}
	now := f.unixLocked()
	for _, e := range list {
		if e.at < now {
			return failReply(http.StatusOK, 1, "schedule_at 은 현재시각 이후여야 합니다.")
		}
		if old, ok := f.schedules[e.c.merchantUID]; ok && old.r.ScheduleStatus != scheduleRevoked {
			return failReply(http.StatusOK, 1, "이미 결제예약된 merchant_uid 입니다.")
		}
		if f.merchantUIDUsedLocked(e.c.merchantUID) {
			return failReply(http.StatusOK, -1, msgDuplicateOrder)
		}
	}
	if checking > 0 && !cust.card.pays(cust.charges) {
		return failReply(http.StatusOK, -1, FailReasonDeclined)
	}
	out := make([]schedule, 0, len(list))
	for _, e := range list {
		r := schedule{
			CustomerUID:    customerUID,
			MerchantUID:    e.c.merchantUID,
			PGProvider:     nstr(cust.c.PGProvider),
			PGID:           nstr(cust.c.PGID),
			ScheduleAt:     e.at,
			Amount:         e.c.amount,
			Currency:       e.c.currency,
			Name:           nstr(e.c.name),
			BuyerName:      nstr(cmp.Or(e.c.buyerName, string(cust.c.CustomerName))),
			BuyerEmail:     nstr(cmp.Or(e.c.buyerEmail, string(cust.c.CustomerEmail))),
			BuyerTel:       nstr(cmp.Or(e.c.buyerTel, string(cust.c.CustomerTel))),
			BuyerAddr:      nstr(cmp.Or(e.c.buyerAddr, string(cust.c.CustomerAddr))),
			BuyerPostcode:  nstr(cmp.Or(e.c.buyerPostcode, string(cust.c.CustomerPostcode))),
			CustomData:     nstr(e.c.customData),
			ScheduleStatus: scheduleScheduled,
		}
		c := e.c
		c.buyerName, c.buyerEmail, c.buyerTel = string(r.BuyerName), string(r.BuyerEmail), string(r.BuyerTel)
		c.buyerAddr, c.buyerPostcode = string(r.BuyerAddr), string(r.BuyerPostcode)
		f.seq++
		f.schedules[r.MerchantUID] = &schedRec{r: r, seq: f.seq, c: c}
		out = append(out, r)
	}
	return okReply(out)
}

// handleUnschedule serves POST /subscribe/payments/unschedule: customer_uid and/or
// merchant_uid[] select the scheduled (not yet run) payments to revoke.
func (f *Fake) handleUnschedule(a *apiRequest) apiReply {
	customerUID, err := a.body.limited("customer_uid", 80, false)
	if err != nil {
		return fromErr(err)
	}
	merchantUIDs, err := a.body.strings("merchant_uid")
	if err != nil {
		return fromErr(err)
	}
	if customerUID == "" && len(merchantUIDs) == 0 {
		return failReply(http.StatusOK, 1, msgNothingToRevoke)
	}
	rp := f.unscheduleLocked(customerUID, merchantUIDs)
	if rp.status == http.StatusOK && rp.code == 0 {
		f.changed()
	}
	return rp
}

// unscheduleLocked revokes the matching schedules under the lock.
func (f *Fake) unscheduleLocked(customerUID string, merchantUIDs []string) apiReply {
	f.mu.Lock()
	defer f.mu.Unlock()
	var hits []*schedRec
	for _, rec := range f.schedules {
		if rec.r.ScheduleStatus != scheduleScheduled {
			continue
		}
		if customerUID != "" && rec.r.CustomerUID != customerUID {
			continue
		}
		if len(merchantUIDs) > 0 && !slices.Contains(merchantUIDs, rec.r.MerchantUID) {
			continue
		}
		hits = append(hits, rec)
	}
	if len(hits) == 0 {
		return failReply(http.StatusOK, 1, msgNothingToRevoke)
	}
	slices.SortFunc(hits, func(x, y *schedRec) int { return cmp.Compare(x.seq, y.seq) })
	out := make([]schedule, 0, len(hits))
	for _, rec := range hits {
		rec.r.ScheduleStatus = scheduleRevoked
		rec.r.RevokedAt = f.unixLocked()
		out = append(out, rec.r)
	}
	return okReply(out)
}

// handleGetSchedule serves GET /subscribe/payments/schedule/{merchant_uid}.
func (f *Fake) handleGetSchedule(a *apiRequest) apiReply {
	f.mu.Lock()
	rec, found := f.schedules[a.ids[0]]
	var r schedule
	if found {
		r = rec.r
	}
	f.mu.Unlock()
	if !found {
		return failReply(http.StatusNotFound, 1, msgScheduleNotFound)
	}
	return okReply(r)
}

// runDueSchedulesLocked executes every scheduled payment whose time has come, oldest
// schedule_at first, and returns the notifications to send (paid and failed alike) and how
// many schedules ran.
func (f *Fake) runDueSchedulesLocked() ([]hookNote, int) {
	now := f.unixLocked()
	var due []*schedRec
	for _, rec := range f.schedules {
		if rec.r.ScheduleStatus == scheduleScheduled && rec.r.ScheduleAt <= now {
			due = append(due, rec)
		}
	}
	slices.SortFunc(due, func(x, y *schedRec) int {
		return cmp.Or(cmp.Compare(x.r.ScheduleAt, y.r.ScheduleAt), cmp.Compare(x.seq, y.seq))
	})
	var notes []hookNote
	for _, rec := range due {
		rec.r.ScheduleStatus = scheduleExecuted
		rec.r.ExecutedAt = now
		cust, found := f.customers[rec.r.CustomerUID]
		switch {
		case !found:
			rec.r.PaymentStatus = statusFailed
			rec.r.FailReason = msgUnknownCustomer
		case f.merchantUIDUsedLocked(rec.r.MerchantUID):
			rec.r.PaymentStatus = statusFailed
			rec.r.FailReason = msgDuplicateOrder
		default:
			pr := f.chargeLocked(cust, rec.c, usagePaymentScheduled, f.baseURL)
			rec.r.ImpUID = nstr(pr.p.ImpUID)
			rec.r.PaymentStatus = nstr(pr.p.Status)
			rec.r.FailReason = pr.p.FailReason
			notes = append(notes, f.noteLocked(pr, pr.p.Status, ""))
		}
	}
	return notes, len(due)
}
