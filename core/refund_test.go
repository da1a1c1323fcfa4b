package core_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/iamport/iamporttest"
)

// paidCharge gives u1 a paid charge of the basic plan (9900).
func (h *sh) paidCharge(key string) *core.ChargeView {
	h.t.Helper()
	if _, err := h.store.GetBillingKey(context.Background(), "u1"); err != nil {
		h.issueKey("u1", iamporttest.CardOK)
	}
	v, err := h.svc.Charge(context.Background(), core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: key})
	require.NoError(h.t, err)
	require.Equal(h.t, core.ChargePaid, v.Status)
	return v
}

func (h *sh) refund(mu, key string, amount int64) (*core.RefundView, error) {
	return h.svc.Refund(context.Background(), core.RefundRequest{
		MerchantUID: mu, Amount: amount, Reason: "고객 요청", IdempotencyKey: key, Operator: "ops@shop",
	})
}

// cancelledAtFake is what the fake has refunded of the charge's payment.
func (h *sh) cancelledAtFake(mu string) int64 {
	h.t.Helper()
	ps := h.fake.PaymentsByMerchantUID(mu)
	require.Len(h.t, ps, 1)
	return ps[0].CancelAmount
}

func TestRefundFullAndPartial(t *testing.T) {
	h := newSH(t)
	v := h.paidCharge("k1")

	r1, err := h.refund(v.MerchantUID, "r1", 3000)
	require.NoError(t, err)
	assert.Equal(t, core.RefundSucceeded, r1.Status)
	got, err := h.svc.GetCharge(context.Background(), "u1", v.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, core.ChargePaid, got.Status, "partly refunded stays paid")
	assert.EqualValues(t, 3000, got.Refunded)
	assert.NotEmpty(t, got.ReceiptURL)

	again, err := h.refund(v.MerchantUID, "r1", 3000)
	require.NoError(t, err)
	assert.Equal(t, r1.ID, again.ID, "the same key is the same refund")
	_, err = h.refund(v.MerchantUID, "r1", 1000)
	assert.Equal(t, codes.IdempotencyKeyReused, errCode(t, err))
	assert.Equal(t, 1, h.fake.Count(iamporttest.EPCancel))

	_, err = h.refund(v.MerchantUID, "r2", 7000)
	assert.Equal(t, codes.RefundExceedsBalance, errCode(t, err), "6900 left")
	assert.Equal(t, 1, h.fake.Count(iamporttest.EPCancel), "refused before anything is sent")

	r3, err := h.refund(v.MerchantUID, "r3", 0)
	require.NoError(t, err)
	assert.EqualValues(t, 6900, r3.Amount, "0 refunds what is left")
	got, err = h.svc.GetCharge(context.Background(), "u1", v.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, core.ChargeCancelled, got.Status)
	assert.EqualValues(t, 9900, got.Refunded)
	assert.EqualValues(t, 9900, h.cancelledAtFake(v.MerchantUID))

	_, err = h.refund(v.MerchantUID, "r4", 0)
	assert.Equal(t, codes.ChargeNotRefundable, errCode(t, err))
	assert.Equal(t, 2, h.events.Count(event.RefundSucceeded, v.MerchantUID))
	assert.Equal(t, 1, h.events.Count(event.ChargeRefunded, v.MerchantUID))
	assert.Equal(t, 1, h.events.Count(event.ChargeCancelled, v.MerchantUID))
	refunds, err := h.svc.Refunds(context.Background(), v.MerchantUID)
	require.NoError(t, err)
	assert.Len(t, refunds, 2)
}

func TestRefundRules(t *testing.T) {
	h := newSH(t)
	v := h.paidCharge("k1")
	ctx := context.Background()
	for name, tc := range map[string]struct {
		req  core.RefundRequest
		code string
	}{
		"no key":      {core.RefundRequest{MerchantUID: v.MerchantUID, Reason: "r", Operator: "o"}, codes.IdempotencyKeyRequired},
		"no reason":   {core.RefundRequest{MerchantUID: v.MerchantUID, IdempotencyKey: "k", Operator: "o"}, codes.InvalidRequest},
		"no operator": {core.RefundRequest{MerchantUID: v.MerchantUID, IdempotencyKey: "k", Reason: "r"}, codes.InvalidRequest},
		"negative":    {core.RefundRequest{MerchantUID: v.MerchantUID, IdempotencyKey: "k", Reason: "r", Operator: "o", Amount: -1}, codes.InvalidRequest},
		"no charge":   {core.RefundRequest{MerchantUID: "bkc0000000000000000000000000000", IdempotencyKey: "k", Reason: "r", Operator: "o"}, codes.NotFound},
		"bad id":      {core.RefundRequest{MerchantUID: "a b", IdempotencyKey: "k", Reason: "r", Operator: "o"}, codes.NotFound},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := h.svc.Refund(ctx, tc.req)
			assert.Equal(t, tc.code, errCode(t, err))
		})
	}
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{DropAfter: true})
	open, _ := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k2"})
	require.Equal(t, core.ChargeUnknown, open.Status)
	_, err := h.refund(open.MerchantUID, "r", 0)
	assert.Equal(t, codes.ChargeNotRefundable, errCode(t, err), "an unsettled charge is not refunded")
	assert.Zero(t, h.fake.Count(iamporttest.EPCancel))
}

// Every fault on POST /payments/cancel: what the fake refunded and what the store says
// agree once the reconciler has settled it, and nothing is refunded twice.
func TestRefundFaults(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fault    iamporttest.Fault
		refunded bool // the fault lets the cancel through
		now      core.RefundStatus
	}{
		{"latency", iamporttest.Fault{Latency: 50 * time.Millisecond}, true, core.RefundSucceeded},
		{"5xx before acting", iamporttest.Fault{Status: 503}, false, core.RefundUnknown},
		{"refused", iamporttest.Fault{Code: -1, Message: "잠시 후 다시 시도해 주세요."}, false, core.RefundFailed},
		{"drop before", iamporttest.Fault{DropBefore: true}, false, core.RefundUnknown},
		{"drop after", iamporttest.Fault{DropAfter: true}, true, core.RefundUnknown},
		{"truncated", iamporttest.Fault{Truncate: true}, true, core.RefundUnknown},
		{"stalled past the budget", iamporttest.Fault{Stall: 8 * time.Second}, true, core.RefundUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newSH(t, shConfig(func(c *core.Config) { c.ReconcileAfter = 10 * time.Second }))
			v := h.paidCharge("k1")
			h.fake.Inject(iamporttest.EPCancel, tc.fault)
			r, err := h.refund(v.MerchantUID, "r1", 4000)
			require.NotNil(t, r)
			assert.Equal(t, tc.now, r.Status)
			if tc.now == core.RefundFailed {
				assert.Equal(t, codes.RefundFailed, errCode(t, err))
			} else {
				require.NoError(t, err)
			}
			if tc.now == core.RefundUnknown {
				_, err := h.refund(v.MerchantUID, "r2", 1000)
				assert.Equal(t, codes.RefundInProgress, errCode(t, err), "another refund waits for this one")
			}
			for range 3 {
				h.clock.Advance(11 * time.Second)
				_, err := h.svc.Reconcile(context.Background())
				require.NoError(t, err)
			}
			refunds, err := h.svc.Refunds(context.Background(), v.MerchantUID)
			require.NoError(t, err)
			require.Len(t, refunds, 1)
			want, wantStatus := int64(0), core.RefundFailed
			if tc.refunded {
				want, wantStatus = 4000, core.RefundSucceeded
			}
			assert.Equal(t, wantStatus, refunds[0].Status)
			assert.Equal(t, want, h.cancelledAtFake(v.MerchantUID))
			got, err := h.svc.GetCharge(context.Background(), "u1", v.MerchantUID)
			require.NoError(t, err)
			assert.Equal(t, want, got.Refunded, "the store agrees with iamport")
			assert.Equal(t, 1, h.fake.Count(iamporttest.EPCancel), "never sent twice")

			// The rest can still be refunded, once.
			rest, err := h.refund(v.MerchantUID, "r3", 0)
			require.NoError(t, err)
			assert.Equal(t, core.RefundSucceeded, rest.Status)
			assert.EqualValues(t, 9900, h.cancelledAtFake(v.MerchantUID))
		})
	}
}

// Two operators refunding the whole charge at once: one refund goes through.
func TestRefundConcurrent(t *testing.T) {
	h := newSH(t)
	v := h.paidCharge("k1")
	var wg sync.WaitGroup
	results := make([]*core.RefundView, 8)
	for i := range results {
		wg.Go(func() {
			results[i], _ = h.refund(v.MerchantUID, "op-"+string(rune('a'+i)), 9900)
		})
	}
	wg.Wait()
	ok := 0
	for _, r := range results {
		if r != nil && r.Status == core.RefundSucceeded {
			ok++
		}
	}
	assert.Equal(t, 1, ok)
	assert.EqualValues(t, 9900, h.cancelledAtFake(v.MerchantUID))
}

// A cancellation made in iamport's console arrives by webhook and shows the same way.
func TestConsoleRefundByWebhook(t *testing.T) {
	h := newSH(t)
	v := h.paidCharge("k1")
	ps := h.fake.PaymentsByMerchantUID(v.MerchantUID)
	for _, amount := range []int64{1000, 2000} {
		p, err := h.fake.CancelFromConsole(ps[0].ImpUID, amount, "console")
		require.NoError(t, err)
		require.NoError(t, h.svc.ApplyNotification(context.Background(), core.Notification{
			ImpUID: p.ImpUID, MerchantUID: p.MerchantUID, Status: "cancelled"}))
	}
	got, err := h.svc.GetCharge(context.Background(), "u1", v.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, core.ChargePaid, got.Status)
	assert.EqualValues(t, 3000, got.Refunded, "two partial cancellations, even with the same ids and status")
	_, err = h.refund(v.MerchantUID, "r1", 7000)
	assert.Equal(t, codes.RefundExceedsBalance, errCode(t, err))
}

// iamport delivers a webhook once: a console refund whose notification failed to apply
// (iamport's lookup failed) is applied by a later reconciler sweep, not left paid.
func TestFailedNotificationIsRetried(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	v := h.paidCharge("k1")
	ps := h.fake.PaymentsByMerchantUID(v.MerchantUID)
	p, err := h.fake.CancelFromConsole(ps[0].ImpUID, 9900, "console")
	require.NoError(t, err)
	down := iamporttest.Fault{Status: 503}
	for range 8 { // the client retries a GET; every try fails
		h.fake.Inject(iamporttest.EPGetPayment, down)
		h.fake.Inject(iamporttest.EPFindPayment, down)
		h.fake.Inject(iamporttest.EPFindAll, down)
	}
	n := core.Notification{ImpUID: p.ImpUID, MerchantUID: p.MerchantUID, Status: "cancelled"}
	require.Error(t, h.svc.ApplyNotification(ctx, n), "the lookup failed")
	h.fake.ClearFaults()

	got, err := h.svc.GetCharge(ctx, "u1", v.MerchantUID)
	require.NoError(t, err)
	require.Equal(t, core.ChargePaid, got.Status, "not applied yet")
	rep, err := h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.NotificationsRetried, "a failure is retried only after a wait")

	h.clock.Advance(2 * time.Minute)
	rep, err = h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.NotificationsRetried)
	got, err = h.svc.GetCharge(ctx, "u1", v.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, core.ChargeCancelled, got.Status, "the console refund shows")
	assert.EqualValues(t, 9900, got.Refunded)

	h.clock.Advance(2 * time.Minute)
	rep, err = h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Zero(t, rep.NotificationsRetried, "an applied notification is not retried")
}
