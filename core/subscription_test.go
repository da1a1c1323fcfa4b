package core_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store"
)

// subPlans is the catalogue of the subscription tests: two tiers of one group, a plan
// with a trial, a weekly one in a group of its own and a one-off price.
var subPlans = []core.Plan{
	{ID: "basic-monthly", Name: "Basic monthly", Amount: 9900, Every: core.Period{Months: 1}, Group: "main"},
	{ID: "pro-monthly", Name: "Pro monthly", Amount: 29000, Every: core.Period{Months: 1}, Group: "main"},
	{ID: "trial-monthly", Name: "Monthly with a trial", Amount: 12000, Every: core.Period{Months: 1}, Trial: core.Period{Days: 14}, Group: "trial"},
	{ID: "weekly", Name: "Weekly", Amount: 3000, Every: core.Period{Days: 7}, Group: "weekly"},
	{ID: "setup", Name: "Setup fee", Amount: 5000},
}

var seoul = time.FixedZone("KST", 9*60*60)

// newSubSH is a harness with the subscription catalogue whose clocks (the service's and
// the fake's) start at start.
func newSubSH(t *testing.T, start time.Time, policy func(*core.SubscriptionPolicy)) *sh {
	t.Helper()
	h := newSH(t, shFake(iamporttest.WithClock(start)), shConfig(func(c *core.Config) {
		c.Plans = subPlans
		if policy != nil {
			policy(&c.Subscriptions)
		}
	}))
	h.clock.Set(start)
	return h
}

// advance moves both clocks by d and runs one renewal sweep of each service.
func (h *sh) advance(d time.Duration, svcs ...*core.Service) {
	h.t.Helper()
	h.clock.Advance(d)
	h.fake.Advance(d)
	if len(svcs) == 0 {
		svcs = []*core.Service{h.svc}
	}
	for _, svc := range svcs {
		_, err := svc.Renew(context.Background())
		require.NoError(h.t, err)
	}
}

// runUntil advances in steps of step until at, sweeping after each step.
func (h *sh) runUntil(at time.Time, step time.Duration, svcs ...*core.Service) {
	h.t.Helper()
	for h.clock.Now().Before(at) {
		h.advance(min(step, at.Sub(h.clock.Now())), svcs...)
	}
}

func (h *sh) subscribe(user, plan, key string) (*core.SubscriptionView, error) {
	return h.svc.Subscribe(context.Background(), core.SubscribeRequest{UserID: user, PlanID: plan, IdempotencyKey: key})
}

func (h *sh) mustSubscribe(user, plan string) *core.SubscriptionView {
	h.t.Helper()
	v, err := h.subscribe(user, plan, "sub-"+plan)
	require.NoError(h.t, err)
	return v
}

func (h *sh) sub(user, id string) *core.SubscriptionView {
	h.t.Helper()
	v, err := h.svc.Subscription(context.Background(), user, id)
	require.NoError(h.t, err)
	return v
}

// agains counts the again calls that reached the fake's payment logic (a call refused for
// an expired token did not: the clocks jump by weeks here).
func (h *sh) agains() int {
	n := 0
	for _, c := range h.fake.Calls() {
		if c.Endpoint == iamporttest.EPAgain && c.Status != 401 {
			n++
		}
	}
	return n
}

// subEvents are the kinds of the subscription events raised for id, in order.
func (h *sh) subEvents(id string) []event.Kind {
	var out []event.Kind
	for _, e := range h.events.All() {
		if e.SubscriptionID == id {
			out = append(out, e.Kind)
		}
	}
	return out
}

func (h *sh) countSubEvents(id string, kind event.Kind) int {
	n := 0
	for _, k := range h.subEvents(id) {
		if k == kind {
			n++
		}
	}
	return n
}

// kstDate is a time in Seoul.
func kstDate(y int, m time.Month, d, hour int) time.Time {
	return time.Date(y, m, d, hour, 0, 0, 0, seoul)
}

// A year of monthly renewals from January 31 of a leap year, swept every six hours by two
// instances sharing the store: thirteen charges, one per period, on the month-end days.
func TestSubscriptionYearOfRenewals(t *testing.T) {
	start := kstDate(2028, time.January, 31, 10)
	h := newSubSH(t, start, nil)
	h.issueKey("u1", iamporttest.CardOK)
	other := h.restart()

	v := h.mustSubscribe("u1", "basic-monthly")
	require.Equal(t, core.SubscriptionActive, v.Status)
	require.Len(t, v.Charges, 1)
	assert.Equal(t, core.ChargePaid, v.Charges[0].Status)

	h.runUntil(start.AddDate(1, 0, 1), 6*time.Hour, h.svc, other)

	v = h.sub("u1", v.ID)
	require.Equal(t, core.SubscriptionActive, v.Status)
	require.Len(t, v.Charges, 13, "the first period and twelve renewals, each charged once")
	want := []time.Time{
		kstDate(2028, time.February, 29, 10), kstDate(2028, time.March, 31, 10), kstDate(2028, time.April, 30, 10),
		kstDate(2028, time.May, 31, 10), kstDate(2028, time.June, 30, 10), kstDate(2028, time.July, 31, 10),
		kstDate(2028, time.August, 31, 10), kstDate(2028, time.September, 30, 10), kstDate(2028, time.October, 31, 10),
		kstDate(2028, time.November, 30, 10), kstDate(2028, time.December, 31, 10), kstDate(2029, time.January, 31, 10),
		kstDate(2029, time.February, 28, 10),
	}
	assert.True(t, v.CurrentPeriodEnd.Equal(want[12]), "period end %v", v.CurrentPeriodEnd.In(seoul))
	seen := map[string]bool{}
	for i, c := range v.Charges {
		assert.Equal(t, core.ChargePaid, c.Status, "charge %d", i)
		assert.EqualValues(t, 9900, c.Amount)
		assert.False(t, seen[c.MerchantUID])
		seen[c.MerchantUID] = true
		assert.Equal(t, 1, h.paidAtFake(c.MerchantUID), "one payment at iamport per charge")
	}
	// Each renewal was charged within a sweep of its due time.
	for i := 1; i < 13; i++ {
		c := v.Charges[12-i]
		require.NotNil(t, c.PaidAt)
		late := c.PaidAt.Sub(want[i-1])
		assert.True(t, late >= 0 && late <= 6*time.Hour, "renewal %d paid %v after it was due", i, late)
	}
	assert.Equal(t, 13, h.agains(), "one again per period")
	assert.Equal(t, 12, h.countSubEvents(v.ID, event.SubscriptionRenewed))
	assert.Equal(t, 12, h.countSubEvents(v.ID, event.SubscriptionRenewalUpcoming))
	assert.Equal(t, 1, h.countSubEvents(v.ID, event.SubscriptionStarted))
}

// A weekly plan counts calendar days in Seoul.
func TestSubscriptionWeekly(t *testing.T) {
	start := kstDate(2026, time.December, 28, 23)
	h := newSubSH(t, start, nil)
	h.issueKey("u1", iamporttest.CardOK)
	v := h.mustSubscribe("u1", "weekly")
	assert.True(t, v.CurrentPeriodEnd.Equal(kstDate(2027, time.January, 4, 23)))
	h.runUntil(start.AddDate(0, 0, 15), 12*time.Hour)
	v = h.sub("u1", v.ID)
	assert.Len(t, v.Charges, 3)
	assert.True(t, v.CurrentPeriodEnd.Equal(kstDate(2027, time.January, 18, 23)))
}

func TestSubscriptionTrialConverts(t *testing.T) {
	h := newSubSH(t, t0, nil)
	h.issueKey("u1", iamporttest.CardOK)
	v := h.mustSubscribe("u1", "trial-monthly")
	require.Equal(t, core.SubscriptionTrialing, v.Status)
	assert.Empty(t, v.Charges, "nothing is charged during a trial")
	require.NotNil(t, v.TrialEnd)
	trialEnd := *v.TrialEnd
	assert.True(t, trialEnd.Equal(t0.AddDate(0, 0, 14)))
	require.NotNil(t, v.NextChargeAt)
	assert.True(t, v.NextChargeAt.Equal(trialEnd))
	assert.EqualValues(t, 12000, v.NextAmount)
	assert.True(t, v.Entitled(t0.Add(time.Hour)))

	h.runUntil(trialEnd.Add(-3*24*time.Hour-time.Hour), time.Hour)
	assert.Zero(t, h.countSubEvents(v.ID, event.SubscriptionTrialEnding))
	h.runUntil(trialEnd.Add(-time.Hour), time.Hour)
	assert.Equal(t, 1, h.countSubEvents(v.ID, event.SubscriptionTrialEnding), "told once, three days ahead")
	assert.Zero(t, h.agains())

	h.runUntil(trialEnd.Add(time.Hour), time.Hour)
	v = h.sub("u1", v.ID)
	require.Equal(t, core.SubscriptionActive, v.Status)
	require.Len(t, v.Charges, 1)
	assert.EqualValues(t, 12000, v.Charges[0].Amount)
	assert.True(t, v.CurrentPeriodStart.Equal(trialEnd), "the first period starts when the trial ends")
	assert.True(t, v.CurrentPeriodEnd.Equal(trialEnd.AddDate(0, 1, 0)))
	assert.Equal(t, []event.Kind{event.SubscriptionStarted, event.SubscriptionTrialEnding, event.SubscriptionRenewed}, h.subEvents(v.ID))
}

func TestSubscriptionTrialCancelledEndsUncharged(t *testing.T) {
	h := newSubSH(t, t0, nil)
	h.issueKey("u1", iamporttest.CardOK)
	v := h.mustSubscribe("u1", "trial-monthly")
	v, err := h.svc.CancelSubscription(context.Background(), "u1", v.ID, true)
	require.NoError(t, err)
	assert.Equal(t, core.SubscriptionCanceled, v.Status)
	assert.True(t, v.Entitled(t0.AddDate(0, 0, 13)), "the trial runs to its end")
	h.runUntil(t0.AddDate(0, 0, 15), 6*time.Hour)
	v = h.sub("u1", v.ID)
	assert.Equal(t, core.SubscriptionEnded, v.Status)
	assert.Zero(t, h.agains())
	assert.False(t, v.Entitled(t0.AddDate(0, 0, 15)))
}

// dunning subscribes u1 with a card that pays once and then declines, and runs until the
// first renewal has failed.
func dunning(t *testing.T, policy func(*core.SubscriptionPolicy)) (*sh, *core.SubscriptionView, time.Time) {
	h := newSubSH(t, t0, policy)
	h.issueKey("u1", iamporttest.CardDeclineAfter+"01")
	v := h.mustSubscribe("u1", "basic-monthly")
	due := *v.CurrentPeriodEnd
	h.runUntil(due.Add(time.Hour), time.Hour)
	v = h.sub("u1", v.ID)
	require.Equal(t, core.SubscriptionPastDue, v.Status)
	require.Equal(t, 1, v.Retries)
	return h, v, due
}

func TestSubscriptionDunningEnds(t *testing.T) {
	h, v, due := dunning(t, nil)
	assert.True(t, v.Entitled(due.Add(4*24*time.Hour)), "access lasts until the last retry")
	assert.True(t, v.NextChargeAt.Equal(due.Add(24*time.Hour)), "first retry a day after it was due")

	for i, at := range []time.Duration{24 * time.Hour, 3 * 24 * time.Hour} {
		h.runUntil(due.Add(at-time.Minute), time.Hour)
		assert.Equal(t, i+2, h.agains(), "not retried early")
		h.runUntil(due.Add(at+time.Minute), time.Minute)
		assert.Equal(t, i+3, h.agains())
		assert.Equal(t, core.SubscriptionPastDue, h.sub("u1", v.ID).Status)
	}
	h.runUntil(due.Add(5*24*time.Hour+time.Hour), time.Hour)
	v = h.sub("u1", v.ID)
	assert.Equal(t, core.SubscriptionEnded, v.Status)
	assert.Contains(t, v.EndReason, "4 times")
	assert.Equal(t, 5, h.agains(), "the first charge, the renewal and three retries")
	assert.Equal(t, 4, h.countSubEvents(v.ID, event.SubscriptionRenewalFailed))
	assert.Equal(t, 1, h.countSubEvents(v.ID, event.SubscriptionPastDue))
	assert.Equal(t, 1, h.countSubEvents(v.ID, event.SubscriptionEnded))

	h.runUntil(due.AddDate(0, 2, 0), 24*time.Hour)
	assert.Equal(t, 5, h.agains(), "an ended subscription is never charged")
	// Its group is free again.
	_, err := h.subscribe("u1", "pro-monthly", "again-later")
	assert.Equal(t, codes.CardDeclined, errCode(t, err), "a new subscription may start (and here, with this card, fails)")
}

func TestSubscriptionDunningKeepPastDue(t *testing.T) {
	h, v, due := dunning(t, func(p *core.SubscriptionPolicy) {
		p.Retries = []time.Duration{2 * 24 * time.Hour}
		p.KeepPastDue = true
		p.LockPastDue = true
	})
	assert.False(t, v.Entitled(due.Add(time.Minute)), "LockPastDue: access ends with the period paid for")
	h.runUntil(due.AddDate(0, 1, 0), 6*time.Hour)
	v = h.sub("u1", v.ID)
	assert.Equal(t, core.SubscriptionPastDue, v.Status, "kept past_due after the last retry")
	assert.Nil(t, v.NextChargeAt)
	assert.Equal(t, 3, h.agains())

	// A new card pays the renewal at once. The customer had no access since the period
	// ended, so the period paid for starts now.
	h.issueKey("u1", iamporttest.CardOK)
	v = h.sub("u1", v.ID)
	require.Equal(t, core.SubscriptionActive, v.Status)
	assert.True(t, v.CurrentPeriodStart.Equal(h.clock.Now()), "period start %v", v.CurrentPeriodStart)
	assert.True(t, v.CurrentPeriodEnd.Equal(h.clock.Now().AddDate(0, 1, 0)))
	assert.Equal(t, 1, h.countSubEvents(v.ID, event.SubscriptionRecovered))
	assert.Zero(t, v.Retries)
}

func TestSubscriptionNewCardRetriesAtOnce(t *testing.T) {
	h, v, due := dunning(t, nil)
	h.advance(time.Hour)
	before := h.agains()
	h.issueKey("u1", iamporttest.CardOK)
	assert.Equal(t, before+1, h.agains(), "charged with the new card, not at the next retry")
	v = h.sub("u1", v.ID)
	assert.Equal(t, core.SubscriptionActive, v.Status)
	assert.True(t, v.CurrentPeriodStart.Equal(due))
	h.runUntil(due.Add(6*24*time.Hour), time.Hour)
	assert.Equal(t, before+1, h.agains(), "no retry after it recovered")
}

func TestSubscriptionFirstChargeDeclined(t *testing.T) {
	h := newSubSH(t, t0, nil)
	h.issueKey("u1", iamporttest.CardDeclined)
	v, err := h.subscribe("u1", "basic-monthly", "k1")
	assert.Equal(t, codes.CardDeclined, errCode(t, err))
	require.NotNil(t, v)
	assert.Equal(t, core.SubscriptionEnded, v.Status)
	assert.False(t, v.Entitled(t0))
	// Asked again under the same key: the same answer, nothing charged again.
	v2, err := h.subscribe("u1", "basic-monthly", "k1")
	assert.Equal(t, codes.CardDeclined, errCode(t, err))
	assert.Equal(t, v.ID, v2.ID)
	assert.Equal(t, 1, h.agains())
}

func TestSubscribeRules(t *testing.T) {
	h := newSubSH(t, t0, nil)
	ctx := context.Background()
	_, err := h.subscribe("u1", "basic-monthly", "k1")
	assert.Equal(t, codes.BillingKeyMissing, errCode(t, err))
	h.issueKey("u1", iamporttest.CardOK)

	for name, tc := range map[string]struct {
		req  core.SubscribeRequest
		code string
	}{
		"no key":       {core.SubscribeRequest{UserID: "u1", PlanID: "basic-monthly"}, codes.IdempotencyKeyRequired},
		"bad key":      {core.SubscribeRequest{UserID: "u1", PlanID: "basic-monthly", IdempotencyKey: "tab\tkey"}, codes.InvalidRequest},
		"reserved key": {core.SubscribeRequest{UserID: "u1", PlanID: "basic-monthly", IdempotencyKey: "billkey:sub:x"}, codes.InvalidRequest},
		"one-off plan": {core.SubscribeRequest{UserID: "u1", PlanID: "setup", IdempotencyKey: "k"}, codes.PlanUnknown},
		"no plan":      {core.SubscribeRequest{UserID: "u1", PlanID: "gold", IdempotencyKey: "k"}, codes.PlanUnknown},
		"no user":      {core.SubscribeRequest{PlanID: "basic-monthly", IdempotencyKey: "k"}, codes.Unauthenticated},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.svc.Subscribe(ctx, tc.req)
			assert.Equal(t, tc.code, errCode(t, err))
		})
	}
	assert.Zero(t, h.agains())

	v, err := h.subscribe("u1", "basic-monthly", "k1")
	require.NoError(t, err)
	again, err := h.subscribe("u1", "basic-monthly", "k1")
	require.NoError(t, err)
	assert.Equal(t, v.ID, again.ID, "the same key is the same subscription")
	_, err = h.subscribe("u1", "pro-monthly", "k1")
	assert.Equal(t, codes.IdempotencyKeyReused, errCode(t, err))
	_, err = h.subscribe("u1", "pro-monthly", "k2")
	assert.Equal(t, codes.SubscriptionExists, errCode(t, err), "one live subscription per group")
	_, err = h.subscribe("u1", "weekly", "k3")
	assert.NoError(t, err, "another group is fine")
	assert.Equal(t, 2, h.agains())

	// Other users cannot see it.
	_, err = h.svc.Subscription(ctx, "u2", v.ID)
	assert.Equal(t, codes.NotFound, errCode(t, err))
	_, err = h.svc.CancelSubscription(ctx, "u2", v.ID, false)
	assert.Equal(t, codes.NotFound, errCode(t, err))
	list, err := h.svc.Subscriptions(ctx, "u1")
	require.NoError(t, err)
	assert.Len(t, list, 2)
}

func TestSubscriptionSeveralPerGroup(t *testing.T) {
	h := newSubSH(t, t0, func(p *core.SubscriptionPolicy) { p.SeveralPerGroup = true })
	h.issueKey("u1", iamporttest.CardOK)
	_, err := h.subscribe("u1", "basic-monthly", "k1")
	require.NoError(t, err)
	_, err = h.subscribe("u1", "pro-monthly", "k2")
	require.NoError(t, err)
}

func TestSubscriptionCancelAndResume(t *testing.T) {
	h := newSubSH(t, t0, nil)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	v := h.mustSubscribe("u1", "basic-monthly")
	end := *v.CurrentPeriodEnd

	v, err := h.svc.CancelSubscription(ctx, "u1", v.ID, true)
	require.NoError(t, err)
	assert.Equal(t, core.SubscriptionCanceled, v.Status)
	assert.True(t, v.CancelAtPeriodEnd)
	assert.Nil(t, v.NextChargeAt)
	assert.True(t, v.Entitled(end.Add(-time.Minute)))
	assert.False(t, v.Entitled(end), "no grace after a cancellation")

	h.runUntil(end.Add(-time.Hour), 6*time.Hour)
	v, err = h.svc.ResumeSubscription(ctx, "u1", v.ID)
	require.NoError(t, err)
	assert.Equal(t, core.SubscriptionActive, v.Status)
	assert.True(t, v.NextChargeAt.Equal(end))

	v, err = h.svc.CancelSubscription(ctx, "u1", v.ID, true)
	require.NoError(t, err)
	h.runUntil(end.Add(time.Hour), 10*time.Minute)
	v = h.sub("u1", v.ID)
	assert.Equal(t, core.SubscriptionEnded, v.Status)
	assert.Equal(t, 1, h.agains(), "cancelled at period end: not renewed")
	_, err = h.svc.ResumeSubscription(ctx, "u1", v.ID)
	assert.Equal(t, codes.SubscriptionState, errCode(t, err), "too late to resume")
	_, err = h.svc.CancelSubscription(ctx, "u1", v.ID, false)
	assert.Equal(t, codes.SubscriptionState, errCode(t, err))
	assert.Equal(t, []event.Kind{
		event.SubscriptionStarted, event.SubscriptionCanceled, event.SubscriptionResumed,
		event.SubscriptionCanceled, event.SubscriptionEnded,
	}, h.subEvents(v.ID), "no renewal notice either: the upcoming renewal was cancelled first")
}

func TestSubscriptionCancelNow(t *testing.T) {
	h := newSubSH(t, t0, nil)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	v := h.mustSubscribe("u1", "basic-monthly")
	require.Equal(t, codes.BillingKeyInUse, errCode(t, h.svc.DeleteBillingKey(ctx, "u1")),
		"the key of a live subscription cannot be deleted")

	v, err := h.svc.CancelSubscription(ctx, "u1", v.ID, false)
	require.NoError(t, err)
	assert.Equal(t, core.SubscriptionEnded, v.Status)
	assert.False(t, v.Entitled(t0.Add(time.Minute)))
	require.NoError(t, h.svc.DeleteBillingKey(ctx, "u1"), "deletable once nothing will charge it")
	h.runUntil(t0.AddDate(0, 2, 0), 24*time.Hour)
	assert.Equal(t, 1, h.agains())
}

// Cancelling at the very moment a period ends: whichever is first wins, and the other
// sees a consistent subscription.
func TestSubscriptionCancelAtBoundary(t *testing.T) {
	h := newSubSH(t, t0, nil)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	v := h.mustSubscribe("u1", "basic-monthly")
	end := *v.CurrentPeriodEnd
	h.runUntil(end.Add(-time.Minute), 6*time.Hour)
	h.clock.Set(end)
	h.fake.Advance(time.Minute)

	// The period is over but no sweep ran yet: cancelling at period end ends it now
	// without a charge, as the period it would run to is over.
	v, err := h.svc.CancelSubscription(ctx, "u1", v.ID, true)
	require.NoError(t, err)
	h.advance(time.Second)
	v = h.sub("u1", v.ID)
	assert.Equal(t, core.SubscriptionEnded, v.Status)
	assert.Equal(t, 1, h.agains())
}

func TestSubscriptionChangePlan(t *testing.T) {
	h := newSubSH(t, t0, nil)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	v := h.mustSubscribe("u1", "basic-monthly")
	end := *v.CurrentPeriodEnd

	_, err := h.svc.ChangePlan(ctx, "u1", v.ID, "weekly")
	assert.Equal(t, codes.SubscriptionState, errCode(t, err), "another group")
	_, err = h.svc.ChangePlan(ctx, "u1", v.ID, "setup")
	assert.Equal(t, codes.PlanUnknown, errCode(t, err))

	v, err = h.svc.ChangePlan(ctx, "u1", v.ID, "pro-monthly")
	require.NoError(t, err)
	assert.Equal(t, "basic-monthly", v.PlanID, "the current period stays as paid for")
	assert.Equal(t, "pro-monthly", v.NextPlanID)
	assert.EqualValues(t, 29000, v.NextAmount)

	h.runUntil(end.Add(time.Hour), 6*time.Hour)
	v = h.sub("u1", v.ID)
	assert.Equal(t, "pro-monthly", v.PlanID)
	assert.Empty(t, v.NextPlanID)
	require.Len(t, v.Charges, 2)
	assert.EqualValues(t, 29000, v.Charges[0].Amount)
	assert.EqualValues(t, 9900, v.Charges[1].Amount)

	// Changing and changing back before the period ends: no change at all.
	_, err = h.svc.ChangePlan(ctx, "u1", v.ID, "basic-monthly")
	require.NoError(t, err)
	v, err = h.svc.ChangePlan(ctx, "u1", v.ID, "pro-monthly")
	require.NoError(t, err)
	assert.Empty(t, v.NextPlanID)
	h.runUntil(v.CurrentPeriodEnd.Add(time.Hour), 6*time.Hour)
	v = h.sub("u1", v.ID)
	assert.EqualValues(t, 29000, v.Charges[0].Amount)
	// The renewal notice announced the price that was then charged.
	var last event.Event
	for _, e := range h.events.All() {
		if e.Kind == event.SubscriptionRenewalUpcoming {
			last = e
		}
	}
	assert.EqualValues(t, 29000, last.Amount)
}

// A process that was down catches up: one charge for the renewal that fell due, however
// many periods passed; within the grace the period keeps its anchor, after it the new
// period starts when it is charged.
func TestSubscriptionCatchUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		down     time.Duration
		anchored bool
	}{
		{"within grace", 2 * 24 * time.Hour, true},
		{"past grace", 10 * 24 * time.Hour, false},
		{"three months", 92 * 24 * time.Hour, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newSubSH(t, t0, nil)
			h.issueKey("u1", iamporttest.CardOK)
			v := h.mustSubscribe("u1", "basic-monthly")
			end := *v.CurrentPeriodEnd
			// Nothing ran from a day before the renewal until down after it.
			h.runUntil(end.Add(-24*time.Hour), 6*time.Hour)
			h.clock.Set(end.Add(tc.down))
			h.fake.Advance(end.Add(tc.down).Sub(h.fake.Now()))
			rep, err := h.svc.Renew(context.Background())
			require.NoError(t, err)
			assert.Equal(t, 1, rep.Charged)

			v = h.sub("u1", v.ID)
			require.Len(t, v.Charges, 2, "one renewal, never one per period missed")
			if tc.anchored {
				assert.True(t, v.CurrentPeriodStart.Equal(end))
			} else {
				assert.True(t, v.CurrentPeriodStart.Equal(h.clock.Now()), "the new period starts when it is charged")
			}
			assert.True(t, v.CurrentPeriodEnd.After(h.clock.Now()))
			h.advance(time.Hour)
			assert.Equal(t, 2, h.agains())
		})
	}
}

// A renewal whose outcome is unknown is not charged again: the reconciler settles it and
// the engine applies the result.
func TestSubscriptionRenewalUnknownOutcome(t *testing.T) {
	h := newSubSH(t, t0, nil)
	h.issueKey("u1", iamporttest.CardOK)
	v := h.mustSubscribe("u1", "basic-monthly")
	end := *v.CurrentPeriodEnd
	h.runUntil(end.Add(-time.Minute), 6*time.Hour)
	h.clock.Advance(2 * time.Minute)
	h.fake.Advance(2 * time.Minute)
	// A fresh token first, so that the fault below meets a charge and not a 401.
	_, err := h.client.GetCustomer(context.Background(), h.customerUID("u1"))
	require.NoError(t, err)
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{DropAfter: true})
	_, err = h.svc.Renew(context.Background())
	require.NoError(t, err)
	v = h.sub("u1", v.ID)
	require.Len(t, v.Charges, 2)
	assert.Equal(t, core.ChargeUnknown, v.Charges[0].Status)
	assert.Equal(t, core.SubscriptionActive, v.Status, "the customer keeps access meanwhile")

	for range 10 {
		h.advance(time.Minute)
		_, err := h.svc.Reconcile(context.Background())
		require.NoError(t, err)
	}
	v = h.sub("u1", v.ID)
	require.Len(t, v.Charges, 2)
	assert.Equal(t, core.ChargePaid, v.Charges[0].Status)
	assert.True(t, v.CurrentPeriodStart.Equal(end))
	assert.Equal(t, 2, h.agains(), "sent once; the lookup found it paid")
	assert.Equal(t, 1, h.paidAtFake(v.Charges[0].MerchantUID))
}

// An issuance made for a subscription plan starts the subscription, once, whichever
// completion signal arrives first.
func TestIssuanceWithSubscriptionPlan(t *testing.T) {
	h := newSubSH(t, t0, nil)
	ctx := context.Background()
	req := h.prepare("u1", "basic-monthly")
	res := h.window(req, iamporttest.CardOK, false)
	for range 3 {
		out, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{
			MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback,
		})
		require.NoError(t, err)
		require.NotNil(t, out.Subscription)
		assert.Equal(t, core.SubscriptionActive, out.Subscription.Status)
		require.NotNil(t, out.FirstCharge)
		assert.Equal(t, core.ChargePaid, out.FirstCharge.Status)
	}
	list, err := h.svc.Subscriptions(ctx, "u1")
	require.NoError(t, err)
	assert.Len(t, list, 1)
	assert.Equal(t, 1, h.agains())
}

// A plan removed from the catalogue ends its subscriptions at their next renewal instead
// of charging a price nobody offers any more.
func TestSubscriptionPlanWithdrawn(t *testing.T) {
	h := newSubSH(t, t0, nil)
	h.issueKey("u1", iamporttest.CardOK)
	v := h.mustSubscribe("u1", "weekly")
	cfg := h.cfg
	cfg.Plans = subPlans[:3]
	svc, err := core.New(cfg)
	require.NoError(t, err)
	h.runUntil(v.CurrentPeriodEnd.Add(time.Hour), time.Hour, svc)
	got, err := svc.Subscription(context.Background(), "u1", v.ID)
	require.NoError(t, err)
	assert.Equal(t, core.SubscriptionEnded, got.Status)
	assert.Contains(t, got.EndReason, "no longer offered")
	assert.Equal(t, 1, h.agains())
}

// Renew is bounded and takes every due subscription, however many there are.
func TestRenewManySubscriptions(t *testing.T) {
	h := newSubSH(t, t0, nil)
	const users = 120
	for i := range users {
		u := fmt.Sprintf("u%03d", i)
		h.issueKey(u, iamporttest.CardOK)
		_, err := h.subscribe(u, "weekly", "k")
		require.NoError(t, err)
	}
	h.clock.Advance(7*24*time.Hour + time.Minute)
	h.fake.Advance(7*24*time.Hour + time.Minute)
	rep, err := h.svc.Renew(context.Background())
	require.NoError(t, err)
	assert.Equal(t, users, rep.Renewed)
	assert.Equal(t, 2*users, h.agains())
	rep, err = h.svc.Renew(context.Background())
	require.NoError(t, err)
	assert.Zero(t, rep.Charged)
}

// Three instances sweeping at the same moment charge every renewal once.
func TestRenewConcurrentInstances(t *testing.T) {
	h := newSubSH(t, t0, nil)
	const users = 40
	for i := range users {
		u := fmt.Sprintf("u%03d", i)
		h.issueKey(u, iamporttest.CardOK)
		_, err := h.subscribe(u, "weekly", "k")
		require.NoError(t, err)
	}
	svcs := []*core.Service{h.svc, h.restart(), h.restart()}
	for round := range 3 {
		h.clock.Advance(7 * 24 * time.Hour)
		h.fake.Advance(7 * 24 * time.Hour)
		var wg sync.WaitGroup
		for _, svc := range svcs {
			wg.Go(func() {
				_, err := svc.Renew(context.Background())
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		assert.Equal(t, users*(round+2), h.agains(), "round %d", round)
	}
	for i := range users {
		list, err := h.svc.Subscriptions(context.Background(), fmt.Sprintf("u%03d", i))
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Len(t, list[0].Charges, 4)
	}
}

// loseSubscriptionWrites fails the subscription writes once armed, as a process dying
// between a renewal's charge and the write that records it on the subscription.
type loseSubscriptionWrites struct {
	store.Store
	mu    sync.Mutex
	armed bool
	lost  int
}

func (s *loseSubscriptionWrites) arm(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = on
}

func (s *loseSubscriptionWrites) UpdateSubscription(ctx context.Context, sub *store.Subscription, release bool) (*store.Subscription, error) {
	s.mu.Lock()
	armed := s.armed
	if armed {
		s.lost++
	}
	s.mu.Unlock()
	if armed {
		return nil, errors.New("connection reset")
	}
	return s.Store.UpdateSubscription(ctx, sub, release)
}

// A renewal whose charge was paid but whose write on the subscription was lost is found
// under its idempotency key by a later sweep, even once the user's billing key is gone
// (iamport reported it deleted to another charge): the period is recorded as paid, not
// failed for a missing key.
func TestSubscriptionRenewalPaidBeforeTheKeyWentAway(t *testing.T) {
	lose := &loseSubscriptionWrites{}
	h := newSH(t, shFake(iamporttest.WithClock(t0)), shConfig(func(c *core.Config) {
		c.Plans = subPlans
		lose.Store = c.Store
		c.Store = lose
	}))
	h.clock.Set(t0)
	h.issueKey("u1", iamporttest.CardOK)
	v := h.mustSubscribe("u1", "basic-monthly")
	end := *v.CurrentPeriodEnd
	h.runUntil(end.Add(-time.Minute), 6*time.Hour)

	lose.arm(true)
	h.clock.Advance(2 * time.Minute)
	h.fake.Advance(2 * time.Minute)
	_, _ = h.svc.Renew(context.Background()) // charged; the subscription write is lost
	lose.arm(false)
	require.Positive(t, lose.lost)
	require.Equal(t, 2, h.agains())
	require.NoError(t, h.store.DeleteBillingKey(context.Background(), "u1", h.customerUID("u1")))

	for range 12 {
		h.advance(10 * time.Minute)
	}
	v = h.sub("u1", v.ID)
	assert.Equal(t, core.SubscriptionActive, v.Status)
	assert.True(t, v.CurrentPeriodStart.Equal(end), "the paid period is recorded")
	require.NotEmpty(t, v.Charges)
	assert.Equal(t, core.ChargePaid, v.Charges[0].Status)
	assert.Equal(t, 2, h.agains(), "charged once")
}
