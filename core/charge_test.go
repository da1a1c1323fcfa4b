package core_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store"
)

func TestChargePlan(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "order-1"})
	require.NoError(t, err)
	assert.Equal(t, core.ChargePaid, v.Status)
	assert.Equal(t, int64(9900), v.Amount)
	assert.Equal(t, "Basic monthly", v.Name)
	assert.Equal(t, "basic", v.PlanID)
	require.NotNil(t, v.PaidAt)
	assert.Regexp(t, `^bkc[0-9a-z]{29}$`, v.MerchantUID)

	ps := h.fake.PaymentsByMerchantUID(v.MerchantUID)
	require.Len(t, ps, 1)
	assert.Equal(t, iamport.StatusPaid, ps[0].Status)
	assert.Equal(t, int64(9900), ps[0].Amount, "R1: the plan's price is charged")
	assert.Equal(t, h.customerUID("u1"), ps[0].CustomerUID)

	c, err := h.store.GetCharge(ctx, v.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, ps[0].ImpUID, c.ImpUID)
	assert.Equal(t, 1, c.Attempts)
	assert.Equal(t, 1, h.events.Count(event.ChargePaid, v.MerchantUID))

	// The same idempotency key returns the same charge and calls nobody.
	before := h.calls()
	v2, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "order-1"})
	require.NoError(t, err)
	assert.Equal(t, v, v2)
	assert.Equal(t, before, h.calls())
	// Another user's key space is separate.
	h.issueKey("u2", iamporttest.CardOK)
	v3, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u2", PlanID: "basic", IdempotencyKey: "order-1"})
	require.NoError(t, err)
	assert.NotEqual(t, v.MerchantUID, v3.MerchantUID)

	got, err := h.svc.GetCharge(ctx, "u1", v.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, v, got)
}

func TestChargeExplicitAmountFromGo(t *testing.T) {
	h := newSH(t)
	h.issueKey("u1", iamporttest.CardOK)
	v, err := h.svc.Charge(context.Background(), core.ChargeRequest{UserID: "u1", IdempotencyKey: "renewal-2026-03", Amount: 12345, Name: "3월 이용료"})
	require.NoError(t, err)
	assert.Equal(t, core.ChargePaid, v.Status)
	assert.Empty(t, v.PlanID)
	ps := h.fake.PaymentsByMerchantUID(v.MerchantUID)
	require.Len(t, ps, 1)
	assert.Equal(t, int64(12345), ps[0].Amount)
	assert.Equal(t, "3월 이용료", ps[0].Name)

	_, err = h.svc.Charge(context.Background(), core.ChargeRequest{UserID: "u1", IdempotencyKey: "renewal-2026-03", Amount: 99999, Name: "3월 이용료"})
	assert.Equal(t, codes.IdempotencyKeyReused, errCode(t, err))
}

func TestChargeRequestRules(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	_, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
	require.NoError(t, err)
	before := h.calls()
	long := make([]byte, 129)
	for i := range long {
		long[i] = 'k'
	}
	cases := []struct {
		name string
		req  core.ChargeRequest
		code string
	}{
		{"no user", core.ChargeRequest{PlanID: "basic", IdempotencyKey: "k"}, codes.Unauthenticated},
		{"no key", core.ChargeRequest{UserID: "u1", PlanID: "basic"}, codes.IdempotencyKeyRequired},
		{"long key", core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: string(long)}, codes.InvalidRequest},
		{"control in key", core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "a\nb"}, codes.InvalidRequest},
		{"reserved key", core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "billkey:issuance:x"}, codes.InvalidRequest},
		// R1: a plan charge cannot carry an amount or a name.
		{"plan and amount", core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k2", Amount: 1}, codes.InvalidRequest},
		{"plan and name", core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k2", Name: "cheap"}, codes.InvalidRequest},
		{"unknown plan", core.ChargeRequest{UserID: "u1", PlanID: "gold", IdempotencyKey: "k2"}, codes.PlanUnknown},
		{"nothing to charge", core.ChargeRequest{UserID: "u1", IdempotencyKey: "k2"}, codes.InvalidRequest},
		{"negative amount", core.ChargeRequest{UserID: "u1", IdempotencyKey: "k2", Amount: -1, Name: "x"}, codes.InvalidRequest},
		{"amount without name", core.ChargeRequest{UserID: "u1", IdempotencyKey: "k2", Amount: 100}, codes.InvalidRequest},
		{"name too long", core.ChargeRequest{UserID: "u1", IdempotencyKey: "k2", Amount: 100, Name: string(long[:41])}, codes.InvalidRequest},
		{"key reused for another plan", core.ChargeRequest{UserID: "u1", PlanID: "pro", IdempotencyKey: "k1"}, codes.IdempotencyKeyReused},
		{"no billing key", core.ChargeRequest{UserID: "u2", PlanID: "basic", IdempotencyKey: "k1"}, codes.BillingKeyMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v, err := h.svc.Charge(ctx, tc.req)
			assert.Nil(t, v)
			assert.Equal(t, tc.code, errCode(t, err))
		})
	}
	assert.Equal(t, before, h.calls(), "refused requests call nobody")
	cs, _, err := h.svc.ListCharges(ctx, "u1", "", 0)
	require.NoError(t, err)
	assert.Len(t, cs, 1, "and store nothing")
}

func TestChargeDeclined(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardDeclined)
	v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
	assert.Equal(t, codes.CardDeclined, errCode(t, err))
	assert.Equal(t, 402, errStatus(t, err))
	require.NotNil(t, v)
	assert.Equal(t, core.ChargeFailed, v.Status)
	assert.NotEmpty(t, v.FailReason)
	assert.Nil(t, v.PaidAt)
	assert.Equal(t, 1, h.events.Count(event.ChargeFailed, v.MerchantUID))
	got, err := h.svc.GetCharge(ctx, "u1", v.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, v, got)
	c, err := h.store.GetCharge(ctx, v.MerchantUID)
	require.NoError(t, err)
	assert.NotEmpty(t, c.ImpUID, "the failed payment is recorded")

	// Same key: the same answer, no second again.
	v2, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
	assert.Equal(t, codes.CardDeclined, errCode(t, err))
	assert.Equal(t, v, v2)
	assert.Equal(t, 1, h.fake.Count(iamporttest.EPAgain))
}

func TestChargeDeclineAfter(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardDeclineAfter+"02")
	for i, want := range []core.ChargeStatus{core.ChargePaid, core.ChargePaid, core.ChargeFailed} {
		v, _ := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: fmt.Sprint("k", i)})
		require.NotNil(t, v)
		assert.Equal(t, want, v.Status, "charge %d", i)
	}
}

// The billing key is gone at iamport (deleted in the console, say): the charge fails with
// billing_key_gone, not as a decline of the card, after a lookup showed nothing was paid;
// the stored key is removed so the customer is asked to register a card again.
func TestChargeUnknownCustomer(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	require.True(t, h.fake.DeleteCustomerKey(h.customerUID("u1")))
	v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
	assert.Equal(t, codes.BillingKeyGone, errCode(t, err))
	require.NotNil(t, v)
	assert.Equal(t, core.ChargeFailed, v.Status)
	assert.Equal(t, codes.BillingKeyGone, v.FailCode)
	assert.Equal(t, "등록되지 않은 구매자입니다.", v.FailReason)
	assert.Equal(t, 1, h.fake.Count(iamporttest.EPFindPayment))
	_, err = h.svc.BillingKey(ctx, "u1")
	assert.Equal(t, codes.BillingKeyMissing, errCode(t, err), "the stored key is gone too")
	assert.Equal(t, 1, h.events.Count(event.BillingKeyDeleted, ""))
	// The same key replays the same answer; a new charge asks for a card.
	_, err = h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
	assert.Equal(t, codes.BillingKeyGone, errCode(t, err))
	_, err = h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k2"})
	assert.Equal(t, codes.BillingKeyMissing, errCode(t, err))
}

// A request-level refusal that is not about the key (code -1: nothing charged, try later)
// is charge_refused, not card_declined, and says nothing was charged.
func TestChargeRefusedIsNotDeclined(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{Code: -1, Message: "PG사 통신 오류. 잠시 후 다시 시도해주세요."})
	v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
	assert.Equal(t, codes.ChargeRefused, errCode(t, err))
	require.NotNil(t, v)
	assert.Equal(t, codes.ChargeRefused, v.FailCode)
	_, err = h.svc.BillingKey(ctx, "u1")
	assert.NoError(t, err, "the key stays")
	// A declined card is its own code.
	h.issueKey("u2", iamporttest.CardDeclined)
	_, err = h.svc.Charge(ctx, core.ChargeRequest{UserID: "u2", PlanID: "basic", IdempotencyKey: "k1"})
	assert.Equal(t, codes.CardDeclined, errCode(t, err))
}

// R4: 200 concurrent requests with one idempotency key make exactly one `again`.
func TestChargeConcurrentOneKey(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	const n = 200
	views := make([]*core.ChargeView, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			views[i], errs[i] = h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "pro", IdempotencyKey: "double-click"})
		}()
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 1, h.fake.Count(iamporttest.EPAgain))
	for i := range n {
		require.NotNil(t, views[i], "%v", errs[i])
		assert.Equal(t, views[0].MerchantUID, views[i].MerchantUID)
		if errs[i] != nil {
			assert.Equal(t, codes.ChargeInProgress, errCode(t, errs[i]))
		}
	}
	v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "pro", IdempotencyKey: "double-click"})
	require.NoError(t, err)
	assert.Equal(t, core.ChargePaid, v.Status)
	assert.Equal(t, 1, h.paidAtFake(v.MerchantUID))
	assert.Equal(t, 1, h.events.Count(event.ChargePaid, ""))
	cs, _, err := h.svc.ListCharges(ctx, "u1", "", 0)
	require.NoError(t, err)
	assert.Len(t, cs, 1)
}

// R5: every fault after `again` may have been sent leaves the charge unknown, and the
// reconciler's lookup settles it paid, with exactly one payment at the fake.
func TestChargeUnknownThenReconciled(t *testing.T) {
	cases := []struct {
		name     string
		fault    iamporttest.Fault
		recorded bool // the fake recorded the payment before failing
	}{
		{"drop after", iamporttest.Fault{DropAfter: true}, true},
		{"truncated", iamporttest.Fault{Truncate: true}, true},
		{"stall past the client timeout", iamporttest.Fault{Stall: 5 * time.Second}, true},
		{"502 without acting", iamporttest.Fault{Status: 502}, false},
		{"drop before", iamporttest.Fault{DropBefore: true}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newSH(t, shClient(func(c *iamport.Config) { c.Timeout = 300 * time.Millisecond }))
			ctx := context.Background()
			h.issueKey("u1", iamporttest.CardOK)
			h.fake.Inject(iamporttest.EPAgain, tc.fault)
			v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
			assert.Equal(t, codes.ChargeInProgress, errCode(t, err))
			assert.Equal(t, 202, errStatus(t, err))
			require.NotNil(t, v)
			assert.Equal(t, core.ChargeUnknown, v.Status, "never failed")
			assert.Equal(t, 1, h.events.Count(event.ChargeUnknown, v.MerchantUID))

			// Asking again with the same key does not send again.
			v2, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
			assert.Equal(t, codes.ChargeInProgress, errCode(t, err))
			assert.Equal(t, core.ChargeUnknown, v2.Status)
			assert.Equal(t, 1, h.fake.Count(iamporttest.EPAgain))

			// Too early: the reconciler leaves fresh rows alone.
			rep, err := h.svc.Reconcile(ctx)
			require.NoError(t, err)
			assert.Equal(t, 0, rep.Claimed)

			h.clock.Advance(3 * time.Minute)
			rep, err = h.svc.Reconcile(ctx)
			require.NoError(t, err)
			assert.Equal(t, 1, rep.Claimed)
			assert.Equal(t, 1, rep.Paid)
			got, err := h.svc.GetCharge(ctx, "u1", v.MerchantUID)
			require.NoError(t, err)
			assert.Equal(t, core.ChargePaid, got.Status)
			assert.Equal(t, 1, h.paidAtFake(v.MerchantUID), "one payment at iamport")
			assert.Len(t, h.fake.PaymentsByMerchantUID(v.MerchantUID), 1)
			if !tc.recorded {
				assert.Equal(t, 1, rep.Retried, "nothing reached iamport: sent again with the same merchant_uid")
				assert.Equal(t, 2, h.fake.Count(iamporttest.EPAgain))
			} else {
				assert.Equal(t, 0, rep.Retried)
				assert.Equal(t, 1, h.fake.Count(iamporttest.EPAgain))
			}
			assert.Equal(t, 1, h.events.Count(event.ChargePaid, v.MerchantUID))
			requireLookupBetweenAgains(t, h)

			// Settled: a further sweep has nothing to do.
			h.clock.Advance(3 * time.Minute)
			rep, err = h.svc.Reconcile(ctx)
			require.NoError(t, err)
			assert.Equal(t, 0, rep.Claimed)
		})
	}
}

// requireLookupBetweenAgains checks R6 on the fake's call log: a second `again` is never
// sent without a lookup by merchant_uid in between.
func requireLookupBetweenAgains(t *testing.T, h *sh) { requireLookupBetweenAgainsFrom(t, h, 0) }

// requireLookupBetweenAgainsFrom checks R6 from the from-th call on.
func requireLookupBetweenAgainsFrom(t *testing.T, h *sh, from int) {
	t.Helper()
	sawAgain, lookedUp := false, false
	for _, c := range h.fake.Calls()[from:] {
		switch c.Endpoint {
		case iamporttest.EPAgain:
			if sawAgain {
				require.True(t, lookedUp, "a second again without a lookup in between")
			}
			sawAgain, lookedUp = true, false
		case iamporttest.EPFindPayment, iamporttest.EPFindAll:
			lookedUp = true
		}
	}
}

// R6 across many faults and sweeps: agains are always separated by lookups, and the
// charge ends paid once.
func TestChargeRetriesOnlyAfterLookup(t *testing.T) {
	h := newSH(t, shClient(func(c *iamport.Config) { c.Timeout = 300 * time.Millisecond }))
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	h.fake.Inject(iamporttest.EPAgain,
		iamporttest.Fault{DropBefore: true}, iamporttest.Fault{Status: 503, DropBefore: true},
		iamporttest.Fault{DropBefore: true})
	v, _ := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
	require.NotNil(t, v)
	for range 5 {
		h.clock.Advance(3 * time.Minute)
		_, err := h.svc.Reconcile(ctx)
		require.NoError(t, err)
	}
	got, err := h.svc.GetCharge(ctx, "u1", v.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, core.ChargePaid, got.Status)
	assert.Equal(t, 1, h.paidAtFake(v.MerchantUID))
	assert.Equal(t, 4, h.fake.Count(iamporttest.EPAgain))
	requireLookupBetweenAgains(t, h)
	c, err := h.store.GetCharge(ctx, v.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, 4, c.Attempts)
}

// The caller going away while `again` is in flight does not lose track of the charge:
// the outcome is recorded (unknown) and the reconciler finishes it.
func TestChargeCallerGoesAway(t *testing.T) {
	h := newSH(t)
	h.issueKey("u1", iamporttest.CardOK)
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{Latency: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
	assert.Equal(t, codes.ChargeInProgress, errCode(t, err))
	require.NotNil(t, v)
	assert.Equal(t, core.ChargeUnknown, v.Status, "recorded although the caller's context ended")
	h.clock.Advance(3 * time.Minute)
	rep, err := h.svc.Reconcile(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Paid)
	got, err := h.svc.GetCharge(context.Background(), "u1", v.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, core.ChargePaid, got.Status)
	assert.Equal(t, 1, h.paidAtFake(v.MerchantUID))
	requireLookupBetweenAgains(t, h)
}

// R11: another user's charge is a 404 and nobody is called.
func TestGetChargeForeign(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("alice", iamporttest.CardOK)
	v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "alice", PlanID: "basic", IdempotencyKey: "k1"})
	require.NoError(t, err)
	before := h.calls()
	_, err = h.svc.GetCharge(ctx, "mallory", v.MerchantUID)
	assert.Equal(t, codes.NotFound, errCode(t, err))
	_, err = h.svc.GetCharge(ctx, "alice", "bkcnosuchcharge")
	assert.Equal(t, codes.NotFound, errCode(t, err))
	_, err = h.svc.GetCharge(ctx, "alice", "../../x")
	assert.Equal(t, codes.NotFound, errCode(t, err))
	// mallory's charges never include alice's, and mallory cannot charge alice's key.
	cs, _, err := h.svc.ListCharges(ctx, "mallory", "", 10)
	require.NoError(t, err)
	assert.Empty(t, cs)
	_, err = h.svc.Charge(ctx, core.ChargeRequest{UserID: "mallory", PlanID: "basic", IdempotencyKey: "k1"})
	assert.Equal(t, codes.BillingKeyMissing, errCode(t, err))
	_, err = h.svc.BillingKey(ctx, "mallory")
	assert.Equal(t, codes.BillingKeyMissing, errCode(t, err))
	assert.Equal(t, before, h.calls())
}

func TestListChargesNewestFirst(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	var ids []string
	for i := range 5 {
		v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: fmt.Sprint("k", i)})
		require.NoError(t, err)
		ids = append(ids, v.MerchantUID)
		h.clock.Advance(time.Second)
	}
	cs, _, err := h.svc.ListCharges(ctx, "u1", "", 3)
	require.NoError(t, err)
	require.Len(t, cs, 3)
	assert.Equal(t, []string{ids[4], ids[3], ids[2]}, []string{cs[0].MerchantUID, cs[1].MerchantUID, cs[2].MerchantUID})
}

// A repeated idempotency key answers with the stored charge even after the user removed
// the card: a renewal job asking again learns that the money was taken (paid), or that
// the outcome is still open, never billing_key_missing.
func TestChargeReplayAfterKeyDeleted(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	paid, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "renewal-03"})
	require.NoError(t, err)
	require.Equal(t, core.ChargePaid, paid.Status)
	open, _ := h.unknownCharge("u1", "renewal-04")
	declinedKey := "renewal-05"
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{Code: 1, Message: "카드 한도 초과"})
	declined, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", IdempotencyKey: declinedKey, Amount: 500, Name: "추가 이용료"})
	require.Equal(t, codes.ChargeRefused, errCode(t, err))
	require.Equal(t, core.ChargeFailed, declined.Status)

	require.NoError(t, h.svc.DeleteBillingKey(ctx, "u1"))
	before := h.calls()

	v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "renewal-03"})
	require.NoError(t, err, "the stored paid charge, not billing_key_missing")
	assert.Equal(t, paid, v)
	v, err = h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "renewal-04"})
	assert.Equal(t, codes.ChargeInProgress, errCode(t, err))
	require.NotNil(t, v)
	assert.Equal(t, open.MerchantUID, v.MerchantUID)
	assert.Equal(t, core.ChargeUnknown, v.Status)
	v, err = h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", IdempotencyKey: declinedKey, Amount: 500, Name: "추가 이용료"})
	assert.Equal(t, codes.ChargeRefused, errCode(t, err))
	assert.Equal(t, declined, v)

	// The same key for another plan or amount is still a reuse; a new key needs a card.
	_, err = h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "pro", IdempotencyKey: "renewal-03"})
	assert.Equal(t, codes.IdempotencyKeyReused, errCode(t, err))
	_, err = h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", IdempotencyKey: declinedKey, Amount: 501, Name: "추가 이용료"})
	assert.Equal(t, codes.IdempotencyKeyReused, errCode(t, err))
	_, err = h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "renewal-06"})
	assert.Equal(t, codes.BillingKeyMissing, errCode(t, err))
	// Another user's key space: the same key is not theirs.
	_, err = h.svc.Charge(ctx, core.ChargeRequest{UserID: "u2", PlanID: "basic", IdempotencyKey: "renewal-03"})
	assert.Equal(t, codes.BillingKeyMissing, errCode(t, err))
	assert.Equal(t, before, h.calls(), "answered from the store alone")
	assert.Equal(t, 3, h.fake.Count(iamporttest.EPAgain))
}

// A charge left pending (the process died before sending) is run by the next request
// with its key, found by the key lookup: exactly one `again`, also under a burst.
func TestChargeReplayResumesPending(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	// A pending row, never sent, as an earlier version of billkey (which committed the
	// row pending, then moved it to charging) may have left it.
	pending := h.chargeRow("u1", "bkc0pending000000000000000000001", core.ChargePending)
	rows := []*store.Charge{pending}
	require.Equal(t, 0, h.fake.Count(iamporttest.EPAgain))

	const n = 50
	var wg sync.WaitGroup
	views := make([]*core.ChargeView, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			views[i], _ = h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: pending.IdempotencyKey})
		}()
	}
	wg.Wait()
	for i := range n {
		require.NotNil(t, views[i])
		assert.Equal(t, rows[0].MerchantUID, views[i].MerchantUID)
	}
	assert.Equal(t, 1, h.fake.Count(iamporttest.EPAgain), "one again for the pending row")
	assert.Equal(t, core.ChargePaid, h.chargeStatus(rows[0].MerchantUID))
	assert.Equal(t, 1, h.paidAtFake(rows[0].MerchantUID))
}

// deadlineRecorder is the iamport client's transport, noting when each `again` left and
// the deadline its context carried.
type deadlineRecorder struct {
	inner   http.RoundTripper
	mu      sync.Mutex
	sent    []time.Time
	dl      []time.Time // zero: no deadline
	lookups []time.Time // deadlines of lookups by merchant_uid
}

func (d *deadlineRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/subscribe/payments/again") {
		dl, _ := r.Context().Deadline()
		d.mu.Lock()
		d.sent = append(d.sent, time.Now())
		d.dl = append(d.dl, dl)
		d.mu.Unlock()
	}
	if strings.Contains(r.URL.Path, "/payments/find/") {
		dl, _ := r.Context().Deadline()
		d.mu.Lock()
		d.lookups = append(d.lookups, dl)
		d.mu.Unlock()
	}
	return d.inner.RoundTrip(r)
}

// requireBounded checks that exactly n `again` calls left, each with a deadline at most
// bound after it was sent.
func (d *deadlineRecorder) requireBounded(t *testing.T, n int, bound time.Duration) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	require.Len(t, d.dl, n)
	for i := range d.dl {
		require.False(t, d.dl[i].IsZero(), "again %d carried no deadline", i)
		assert.LessOrEqual(t, d.dl[i].Sub(d.sent[i]), bound, "again %d's deadline is within ReconcileAfter/2", i)
	}
}

// boundTestReconcileAfter is the shortest ReconcileAfter New accepts, so that
// ReconcileAfter/2 (5 s) cuts a stalled `again` off soon; the client's own Timeout (1 min)
// is far longer. The tests that wait for it run in parallel.
const boundTestReconcileAfter = 10 * time.Second

// newBoundedSH is a harness whose client Timeout (1 min) is longer than ReconcileAfter,
// with a recorder on the client's transport.
func newBoundedSH(t *testing.T) (*sh, *deadlineRecorder) {
	t.Helper()
	rec := &deadlineRecorder{}
	h := newSH(t,
		shClient(func(c *iamport.Config) {
			c.Timeout = time.Minute // longer than ReconcileAfter
			rec.inner = c.HTTPClient.Transport
			c.HTTPClient = &http.Client{Transport: rec}
		}),
		shConfig(func(c *core.Config) { c.ReconcileAfter = boundTestReconcileAfter }))
	return h, rec
}

// within runs f with a hang guard far above the ReconcileAfter/2 bound, and fails the
// test with what if f does not return in time.
func within[T any](t *testing.T, what string, f func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- f() }()
	select {
	case v := <-done:
		return v
	case <-time.After(3 * boundTestReconcileAfter):
		t.Fatal(what)
		var zero T
		return zero
	}
}

// An `again` never outlives Config.ReconcileAfter/2, whatever the caller's context and
// the client's Timeout allow: a reconciler on another instance, which waits
// ReconcileAfter, can never look the merchant_uid up while the first `again` is still in
// flight. The stalled call is recorded as unknown and the reconciler settles it paid.
func TestAgainBoundedByReconcileAfter(t *testing.T) {
	t.Parallel()
	h, rec := newBoundedSH(t)
	h.issueKey("u1", iamporttest.CardOK)
	// iamport takes the payment, then holds the answer far longer than the bound.
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{Stall: time.Minute})

	type result struct {
		v   *core.ChargeView
		err error
	}
	r := within(t, "again was not cut off at ReconcileAfter/2", func() result {
		v, err := h.svc.Charge(context.Background(), core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
		return result{v, err}
	})
	assert.Equal(t, codes.ChargeInProgress, errCode(t, r.err))
	require.NotNil(t, r.v)
	assert.Equal(t, core.ChargeUnknown, r.v.Status)
	rec.requireBounded(t, 1, boundTestReconcileAfter/2)

	// The reconciler's lookup finds the payment iamport took: paid, one payment.
	h.clock.Advance(3 * time.Minute)
	rep, err := h.svc.Reconcile(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Paid)
	assert.Equal(t, 0, rep.Retried)
	assert.Equal(t, core.ChargePaid, h.chargeStatus(r.v.MerchantUID))
	assert.Equal(t, 1, h.paidAtFake(r.v.MerchantUID))
	assert.Equal(t, 1, h.fake.Count(iamporttest.EPAgain))
}

// The reconciler's resend is bounded the same way.
func TestResendBoundedByReconcileAfter(t *testing.T) {
	t.Parallel()
	h, rec := newBoundedSH(t)
	h.issueKey("u1", iamporttest.CardOK)
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{DropBefore: true}, iamporttest.Fault{Stall: time.Minute})
	v, err := h.svc.Charge(context.Background(), core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
	require.Equal(t, codes.ChargeInProgress, errCode(t, err))
	require.Empty(t, h.fake.PaymentsByMerchantUID(v.MerchantUID))

	h.clock.Advance(3 * time.Minute)
	rep := within(t, "the resend was not cut off at ReconcileAfter/2", func() core.ReconcileReport {
		rep, _ := h.svc.Reconcile(context.Background())
		return rep
	})
	assert.Equal(t, 1, rep.Retried)
	assert.Equal(t, core.ChargeUnknown, h.chargeStatus(v.MerchantUID))
	rec.requireBounded(t, 2, boundTestReconcileAfter/2)

	h.clock.Advance(3 * time.Minute)
	rep, err = h.svc.Reconcile(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Paid)
	assert.Equal(t, 1, h.paidAtFake(v.MerchantUID))
	requireLookupBetweenAgains(t, h)
}

// The plan's first charge after an issuance is bounded the same way.
func TestFirstChargeBoundedByReconcileAfter(t *testing.T) {
	t.Parallel()
	h, rec := newBoundedSH(t)
	req := h.prepare("u1", "basic")
	res := h.window(req, iamporttest.CardOK, false)
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{Stall: time.Minute})
	type result struct {
		out *core.IssuanceResult
		err error
	}
	r := within(t, "the first charge's again was not cut off at ReconcileAfter/2", func() result {
		out, err := h.svc.CompleteIssuance(context.Background(), "u1", core.CompleteInput{
			MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback,
		})
		return result{out, err}
	})
	require.NoError(t, r.err)
	require.NotNil(t, r.out.FirstCharge)
	assert.Equal(t, core.ChargeUnknown, r.out.FirstCharge.Status)
	rec.requireBounded(t, 1, boundTestReconcileAfter/2)

	h.clock.Advance(3 * time.Minute)
	rep, err := h.svc.Reconcile(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Paid)
	assert.Equal(t, 1, h.paidAtFake(r.out.FirstCharge.MerchantUID))
}
