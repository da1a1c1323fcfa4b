package core_test

import (
	"context"
	"fmt"
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

// The lookup a refused `again` calls for runs within the same attempt's budget as the
// `again` itself, never under the longer budget of the writes that follow.
func TestRefusalLookupBoundedByAttempt(t *testing.T) {
	t.Parallel()
	h, rec := newBoundedSH(t)
	h.issueKey("u1", iamporttest.CardOK)
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{Code: -1, Message: "잠시 후 다시 시도해 주세요."})
	h.fake.Inject(iamporttest.EPFindPayment, iamporttest.Fault{Stall: time.Minute})
	type result struct {
		v   *core.ChargeView
		err error
	}
	r := within(t, "the lookup after a refusal was not cut off with the attempt", func() result {
		v, err := h.svc.Charge(context.Background(), core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
		return result{v, err}
	})
	// The lookup could not finish: the refusal is not taken on trust, the charge is unknown.
	assert.Equal(t, codes.ChargeInProgress, errCode(t, r.err))
	require.NotNil(t, r.v)
	assert.Equal(t, core.ChargeUnknown, r.v.Status)
	rec.requireBounded(t, 1, boundTestReconcileAfter/2)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	require.Len(t, rec.lookups, 1)
	assert.Equal(t, rec.dl[0], rec.lookups[0], "the lookup has the attempt's deadline")
}

// New refuses a ReconcileAfter too short for an attempt's calls, naming the minimum.
func TestReconcileAfterMinimum(t *testing.T) {
	h := newSH(t)
	cfg := h.cfg
	cfg.ReconcileAfter = 9 * time.Second
	_, err := core.New(cfg)
	var ce *core.ConfigError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, "ReconcileAfter", ce.Field)
	assert.Contains(t, ce.Reason, "at least 10s")
	cfg.ReconcileAfter = 10 * time.Second
	_, err = core.New(cfg)
	assert.NoError(t, err)
}

// In live mode a payment or a key is refused when anything says it came from a test
// channel, also when iamport leaves the sandbox field out (docs/guarantees.md, R17).
func TestLiveModeRefusesTestChannels(t *testing.T) {
	ctx := context.Background()
	t.Run("no sandbox field, KCP's test site code", func(t *testing.T) {
		h := newSH(t, shFake(iamporttest.WithoutSandboxField(), iamporttest.WithPGID("T0000")))
		req := h.prepare("u1", "")
		res := h.window(req, iamporttest.CardOK, false)
		_, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
		assert.Equal(t, codes.PaymentMismatch, errCode(t, err))
		assert.Equal(t, 1, h.events.Count(event.PaymentMismatch, req.Params.MerchantUID))
	})
	t.Run("no sandbox field, a site code outside LiveSiteCodes", func(t *testing.T) {
		h := newSH(t, shFake(iamporttest.WithoutSandboxField(), iamporttest.WithPGID("A52CY")),
			shConfig(func(c *core.Config) { c.LiveSiteCodes = []string{"B71QZ"} }))
		req := h.prepare("u1", "")
		res := h.window(req, iamporttest.CardOK, false)
		_, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
		assert.Equal(t, codes.PaymentMismatch, errCode(t, err))
	})
	t.Run("no sandbox field, the live site code", func(t *testing.T) {
		h := newSH(t, shFake(iamporttest.WithoutSandboxField(), iamporttest.WithPGID("A52CY")),
			shConfig(func(c *core.Config) { c.PG = "kcp_billing.A52CY" }))
		h.issueKey("u1", iamporttest.CardOK)
		v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
		require.NoError(t, err)
		assert.Equal(t, core.ChargePaid, v.Status)
	})
	t.Run("a charge settled from a payment on the test site", func(t *testing.T) {
		h := newSH(t, shFake(iamporttest.WithoutSandboxField(), iamporttest.WithPGID("A52CY")))
		h.issueKey("u1", iamporttest.CardOK)
		v, p := h.unknownCharge("u1", "k1")
		p.PGID = "T0000" // what the lookup will show
		h.fake.PutPayment(p)
		h.clock.Advance(3 * time.Minute)
		_, err := h.svc.Reconcile(ctx)
		require.NoError(t, err)
		c, err := h.store.GetCharge(ctx, v.MerchantUID)
		require.NoError(t, err)
		assert.Equal(t, core.ChargeFailed, c.Status, "never booked as paid")
		assert.Equal(t, codes.PaymentMismatch, c.FailCode)
	})
	t.Run("test mode accepts them all", func(t *testing.T) {
		h := newSH(t, shFake(iamporttest.WithoutSandboxField(), iamporttest.WithPGID("T0000")),
			shConfig(func(c *core.Config) { c.TestMode = true }))
		h.issueKey("u1", iamporttest.CardOK)
		_, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
		assert.NoError(t, err)
	})
	t.Run("KCP's test site code cannot be a live one", func(t *testing.T) {
		h := newSH(t)
		cfg := h.cfg
		cfg.PG = "kcp_billing.T0000"
		_, err := core.New(cfg)
		assert.ErrorContains(t, err, "LiveSiteCodes")
	})
}

// A failure inferred from a refusal and an empty lookup gets one confirming lookup after
// ReconcileAfter: a payment that shows up late is booked, not lost.
func TestInferredFailureConfirmed(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{Code: -1, Message: "잠시 후 다시 시도해 주세요."})
	v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
	require.Equal(t, codes.ChargeRefused, errCode(t, err))
	c, err := h.store.GetCharge(ctx, v.MerchantUID)
	require.NoError(t, err)
	// iamport's records catch up: a payment under the merchant_uid after all.
	late, err := h.againDirect(c)
	require.NoError(t, err)
	require.Equal(t, iamport.StatusPaid, late.Status)

	rep, err := h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Claimed, "held until ReconcileAfter")
	h.clock.Advance(3 * time.Minute)
	rep, err = h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Paid)
	assert.Equal(t, core.ChargePaid, h.chargeStatus(v.MerchantUID))
	assert.Equal(t, 1, h.events.Count(event.LatePayment, v.MerchantUID))

	// A confirmed failure is let go for good: no more lookups for it.
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{Code: -1, Message: "잠시 후 다시 시도해 주세요."})
	v2, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k2"})
	require.Equal(t, codes.ChargeRefused, errCode(t, err))
	h.clock.Advance(3 * time.Minute)
	rep, err = h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Confirmed)
	lookups := h.fake.Count(iamporttest.EPFindPayment)
	h.clock.Advance(3 * time.Minute)
	rep, err = h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.Claimed)
	assert.Equal(t, lookups, h.fake.Count(iamporttest.EPFindPayment))
	assert.Equal(t, core.ChargeFailed, h.chargeStatus(v2.MerchantUID))
}

// Once a charge row exists, a failure on our side (the store) answers with the charge
// and charge_in_progress, never a bare internal error: the caller must not be led to
// charge again under a new key while `again` may have run (docs/guarantees.md, R5).
func TestChargeAnswersInProgressAfterStoreFailure(t *testing.T) {
	h, cs := newCrashSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	cs.mu.Lock()
	cs.fail["UpdateCharge:paid"] = 1 // `again` ran and paid; recording it fails
	cs.mu.Unlock()
	v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
	assert.Equal(t, codes.ChargeInProgress, errCode(t, err))
	require.NotNil(t, v)
	assert.NotEmpty(t, v.MerchantUID)
	assert.Equal(t, 1, h.paidAtFake(v.MerchantUID))
	// Repeating with the same key reads the outcome once it is settled.
	h.clock.Advance(3 * time.Minute)
	_, err = h.svc.Reconcile(ctx)
	require.NoError(t, err)
	again, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
	require.NoError(t, err)
	assert.Equal(t, v.MerchantUID, again.MerchantUID)
	assert.Equal(t, core.ChargePaid, again.Status)
}

// The webhook is public and unsigned: forged notifications cost no lookup at iamport
// when they name what is not ours, identical ones share a lookup, and repeats of an
// imp_uid that led to nothing are not looked up again (docs/guarantees.md, R8).
func TestWebhookAmplification(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	lookups := func() int { return h.fake.Count(iamporttest.EPGetPayment) }

	// 100 posts naming merchant_uids billkey never made, or made-looking ones it does not
	// hold: no lookup.
	for i := range 100 {
		mu := fmt.Sprintf("order-%d", i)
		if i%2 == 1 {
			mu = fmt.Sprintf("bkc0000000000000nobody%05d", i)
		}
		require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: fmt.Sprintf("imp_%012d", i), MerchantUID: mu, Status: "paid"}))
	}
	assert.Zero(t, lookups(), "nothing of ours named: nothing looked up")

	// 100 identical posts for an imp_uid iamport does not know, at once and then again:
	// one lookup.
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			assert.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: "imp_999999999999", Status: "paid"}))
		})
	}
	wg.Wait()
	for range 100 {
		require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: "imp_999999999999", Status: "paid"}))
	}
	assert.Equal(t, 1, lookups(), "one lookup for a hundred identical notifications")
	// A minute later it may be asked about again.
	h.clock.Advance(time.Minute)
	require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: "imp_999999999999", Status: "paid"}))
	assert.Equal(t, 2, lookups())

	// A real notification for one of ours is still applied.
	h.issueKey("u1", iamporttest.CardOK)
	v, p := h.unknownCharge("u1", "k1")
	before := lookups()
	require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: p.ImpUID, MerchantUID: v.MerchantUID, Status: "paid"}))
	assert.Equal(t, before+1, lookups())
	assert.Equal(t, core.ChargePaid, h.chargeStatus(v.MerchantUID))
}

// The billing key an issuance that failed or expired may have left at iamport is deleted
// there by the reconciler, once; a key a user holds never is.
func TestReconcileRemovesOrphanKeys(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	held := h.issueKey("holder", iamporttest.CardOK)
	_ = held
	// A window completed too late: iamport registered the key, the issuance expired.
	late := h.prepare("late", "")
	h.window(late, iamporttest.CardOK, false)
	h.clock.Advance(31 * time.Minute)
	rep, err := h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.IssuancesExpired)
	assert.Zero(t, rep.OrphanKeysRemoved, "not before the grace of IssuanceTTL")
	_, ok := h.fake.Customer(late.Params.CustomerUID)
	require.True(t, ok)

	h.clock.Advance(31 * time.Minute)
	rep, err = h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.OrphanKeysRemoved)
	_, ok = h.fake.Customer(late.Params.CustomerUID)
	assert.False(t, ok, "the orphan key is gone at iamport")
	_, ok = h.fake.Customer(h.customerUID("holder"))
	assert.True(t, ok, "the key a user holds stays")
	deletes := h.fake.Count(iamporttest.EPDeleteCustomer)
	rep, err = h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.OrphanKeysRemoved)
	assert.Equal(t, deletes, h.fake.Count(iamporttest.EPDeleteCustomer), "once")

	// Thirty days on, the issuance itself is purged.
	h.clock.Advance(31 * 24 * time.Hour)
	rep, err = h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.IssuancesPurged)
	_, err = h.store.GetIssuance(ctx, late.Params.MerchantUID)
	assert.ErrorIs(t, err, store.ErrNotFound)
}

// 8.4: an amount iamport writes with a fraction decodes; a whole one written as 9900.0 is
// paid, and a fractional one is a payment mismatch, settled and reported, never unknown.
func TestFractionalAmountSettles(t *testing.T) {
	for _, tc := range []struct {
		amount string
		status core.ChargeStatus
	}{
		{"9900.0", core.ChargePaid},
		{"9900.5", core.ChargeFailed},
	} {
		t.Run(tc.amount, func(t *testing.T) {
			h := newSH(t)
			h.issueKey("u1", iamporttest.CardOK)
			h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{AmountJSON: tc.amount})
			v, err := h.svc.Charge(context.Background(), core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
			require.NotNil(t, v)
			assert.Equal(t, tc.status, v.Status)
			if tc.status == core.ChargeFailed {
				assert.Equal(t, codes.PaymentMismatch, errCode(t, err))
				assert.Equal(t, 1, h.events.Count(event.PaymentMismatch, v.MerchantUID), "reported for a person")
			} else {
				require.NoError(t, err)
			}
			h.clock.Advance(10 * time.Minute)
			_, err = h.svc.Reconcile(context.Background())
			require.NoError(t, err)
			assert.Equal(t, 1, h.fake.Count(iamporttest.EPAgain), "settled: never sent again")
		})
	}
}
