//go:build unix

package chaos

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store"
)

func TestPeriodEndAfter(t *testing.T) {
	jan31 := time.Date(2028, time.January, 31, 10, 0, 0, 0, kst)
	for _, tc := range []struct {
		anchor time.Time
		every  string
		n      int
		want   time.Time
	}{
		{jan31, "monthly", 0, time.Date(2028, time.February, 29, 10, 0, 0, 0, kst)},
		{jan31, "monthly", 1, time.Date(2028, time.March, 31, 10, 0, 0, 0, kst)},
		{jan31, "monthly", 2, time.Date(2028, time.April, 30, 10, 0, 0, 0, kst)},
		{jan31, "monthly", 12, time.Date(2029, time.February, 28, 10, 0, 0, 0, kst)},
		{time.Date(2027, time.December, 15, 23, 30, 0, 0, kst), "monthly", 0, time.Date(2028, time.January, 15, 23, 30, 0, 0, kst)},
		{jan31, "weekly", 0, time.Date(2028, time.February, 7, 10, 0, 0, 0, kst)},
		{jan31, "weekly", 4, time.Date(2028, time.March, 6, 10, 0, 0, 0, kst)},
	} {
		got := periodEndAfter(tc.anchor.UTC(), planByID(tc.every).Every, tc.n)
		assert.True(t, got.Equal(tc.want), "%s %s #%d: %s", tc.anchor, tc.every, tc.n, got)
	}
}

// history builds a member's stored subscription and charges and the fake's payments.
type history struct {
	t       *testing.T
	fake    *iamporttest.Fake
	snap    snapshot
	sent    map[string]int
	anchor  time.Time
	nextImp int
}

func newHistory(t *testing.T) *history {
	f := iamporttest.New()
	t.Cleanup(f.Close)
	return &history{t: t, fake: f, sent: map[string]int{},
		snap:   snapshot{subs: map[string]*store.Subscription{}, charges: map[string][]*store.Charge{}},
		anchor: time.Date(2027, time.January, 31, 10, 0, 0, 0, kst).UTC()}
}

// charge adds a charge of period (retry) for user's subscription, and its payment at the
// fake when atFake is a status.
func (h *history) charge(user string, period, retry int, status store.ChargeStatus, atFake string, paidAt time.Time) *store.Charge {
	h.nextImp++
	mu := fmt.Sprintf("bkc%s%d%d%d", user, period, retry, h.nextImp)
	c := &store.Charge{MerchantUID: mu, UserID: user, SubscriptionID: "sub" + user, Period: period, PlanID: "monthly",
		Amount: 9900, Status: status, Attempts: 1, PaidAt: paidAt,
		IdempotencyKey: fmt.Sprintf("billkey:sub:sub%s:%d:%d", user, period, retry)}
	if atFake != "" {
		c.ImpUID = fmt.Sprintf("imp_%d", h.nextImp)
		h.fake.PutPayment(iamport.Payment{ImpUID: c.ImpUID, MerchantUID: mu, Amount: 9900, Status: iamport.PaymentStatus(atFake)})
	}
	h.snap.charges[user] = append(h.snap.charges[user], c)
	h.sent[mu]++
	return c
}

// paidMonthly gives user a monthly subscription on a good card whose periods 0..k were
// paid on time, current at period k.
func (h *history) paidMonthly(user string, k int) *store.Subscription {
	for i := 0; i <= k; i++ {
		due := h.anchor
		if i > 0 {
			due = periodEndAfter(h.anchor, planByID("monthly").Every, i-1)
		}
		h.charge(user, i, 0, store.ChargePaid, "paid", due.Add(time.Hour*time.Duration(min(i, 1))))
	}
	start := h.anchor
	if k > 0 {
		start = periodEndAfter(h.anchor, planByID("monthly").Every, k-1)
	}
	end := periodEndAfter(h.anchor, planByID("monthly").Every, k)
	sub := &store.Subscription{ID: "sub" + user, UserID: user, PlanID: "monthly", Status: store.SubscriptionActive,
		Anchor: h.anchor, Period: k, PeriodStart: start, PeriodEnd: end, NextActionAt: end}
	h.snap.subs[user] = sub
	return sub
}

// now is a moment in period 2 of a paid monthly subscription.
func (h *history) now() time.Time {
	return periodEndAfter(h.anchor, planByID("monthly").Every, 2).Add(-2 * 24 * time.Hour)
}

func (h *history) audit(pop ...member) *report {
	return audit(h.snap, pop, h.fake, h.sent, h.now(), h.now())
}

func monthly(user string) member {
	return member{user: user, plan: "monthly", card: iamporttest.CardOK}
}

// The audit passes a clean history and catches each kind of damage it is there for.
func TestAuditFindsDamage(t *testing.T) {
	t.Run("clean", func(t *testing.T) {
		h := newHistory(t)
		h.paidMonthly("u1", 2)
		r := h.audit(monthly("u1"))
		assert.Empty(t, r.problems)
		assert.Equal(t, 3, r.paid)
		assert.Equal(t, time.Hour, r.maxLag)
	})
	for _, tc := range []struct {
		name   string
		damage func(h *history)
		check  func(t *testing.T, r *report)
	}{
		{"a period paid twice", func(h *history) {
			h.charge("u1", 1, 1, store.ChargePaid, "paid", h.anchor.AddDate(0, 1, 1))
		}, func(t *testing.T, r *report) { assert.Equal(t, 1, r.doubleCharges) }},
		{"paid twice at the fake under one merchant_uid", func(h *history) {
			c := h.snap.charges["u1"][1]
			h.fake.PutPayment(iamport.Payment{ImpUID: "imp_again", MerchantUID: c.MerchantUID, Amount: 9900, Status: iamport.StatusPaid})
		}, func(t *testing.T, r *report) { assert.Equal(t, 1, r.doubleCharges) }},
		{"failed here, paid there", func(h *history) {
			h.charge("u1", 2, 1, store.ChargeFailed, "paid", time.Time{})
		}, func(t *testing.T, r *report) { assert.NotEmpty(t, r.problems) }},
		{"another amount at the fake", func(h *history) {
			c := h.snap.charges["u1"][2]
			h.fake.PutPayment(iamport.Payment{ImpUID: c.ImpUID, MerchantUID: c.MerchantUID, Amount: 1, Status: iamport.StatusPaid})
		}, func(t *testing.T, r *report) { assert.NotEmpty(t, r.problems) }},
		{"a charge left unknown", func(h *history) {
			h.charge("u1", 2, 1, store.ChargeUnknown, "", time.Time{})
		}, func(t *testing.T, r *report) { assert.Equal(t, 1, r.stuck) }},
		{"a charge in progress on the subscription", func(h *history) {
			h.snap.subs["u1"].ChargeMerchantUID = "bkcx"
		}, func(t *testing.T, r *report) { assert.Equal(t, 1, r.stuck) }},
		{"a renewal not made", func(h *history) {
			sub := h.snap.subs["u1"]
			h.snap.charges["u1"] = h.snap.charges["u1"][:2]
			sub.Period, sub.PeriodStart, sub.PeriodEnd = 1, periodEndAfter(h.anchor, planByID("monthly").Every, 0), periodEndAfter(h.anchor, planByID("monthly").Every, 1)
			sub.NextActionAt = sub.PeriodEnd
		}, func(t *testing.T, r *report) {
			assert.Equal(t, 1, r.missed)
			assert.Equal(t, 1, r.stuck, "due and not renewed")
		}},
		{"a period lost", func(h *history) {
			h.snap.charges["u1"] = append(h.snap.charges["u1"][:1:1], h.snap.charges["u1"][2])
		}, func(t *testing.T, r *report) { assert.Equal(t, 1, r.missed) }},
		{"the anchor moved", func(h *history) {
			h.snap.subs["u1"].Anchor = h.anchor.Add(4 * 24 * time.Hour)
		}, func(t *testing.T, r *report) { assert.Equal(t, 1, r.missed) }},
		{"an again the store knows nothing of", func(h *history) {
			h.sent["bkcnowhere"] = 1
		}, func(t *testing.T, r *report) { assert.Equal(t, 1, r.strays) }},
		{"ended on a good card", func(h *history) {
			sub := h.snap.subs["u1"]
			sub.Status, sub.NextActionAt = store.SubscriptionEnded, time.Time{}
		}, func(t *testing.T, r *report) { assert.Equal(t, 1, r.missed) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistory(t)
			h.paidMonthly("u1", 2)
			tc.damage(h)
			r := h.audit(monthly("u1"))
			require.NotEmpty(t, r.problems)
			tc.check(t, r)
		})
	}
}

// A card that declines after n charges must have paid n periods and ended after four
// failures of the next.
func TestAuditDeclineAfter(t *testing.T) {
	m := member{user: "u2", plan: "monthly", card: iamporttest.CardDeclineAfter + "02", declineAfter: 2}
	build := func(t *testing.T, failures int) *history {
		h := newHistory(t)
		sub := h.paidMonthly("u2", 1)
		for r := range failures {
			h.charge("u2", 2, r, store.ChargeFailed, "failed", time.Time{})
		}
		sub.Status, sub.NextActionAt, sub.EndReason = store.SubscriptionEnded, time.Time{}, "the renewal failed 4 times: card_declined"
		return h
	}
	assert.Empty(t, build(t, 4).audit(m).problems)
	r := build(t, 3).audit(m)
	assert.Equal(t, 1, r.missed, "ended after three failures")
}
