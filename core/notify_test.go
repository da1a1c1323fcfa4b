package core_test

import (
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
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

// unknownCharge makes a charge whose `again` reached iamport (paid there) but whose answer
// was lost: the row is unknown and the fake holds the paid payment.
func (h *sh) unknownCharge(user, key string) (*core.ChargeView, iamport.Payment) {
	h.t.Helper()
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{DropAfter: true})
	v, err := h.svc.Charge(context.Background(), core.ChargeRequest{UserID: user, PlanID: "basic", IdempotencyKey: key})
	require.Equal(h.t, codes.ChargeInProgress, errCode(h.t, err))
	require.Equal(h.t, core.ChargeUnknown, v.Status)
	ps := h.fake.PaymentsByMerchantUID(v.MerchantUID)
	require.Len(h.t, ps, 1)
	return v, ps[0]
}

func (h *sh) chargeStatus(mu string) core.ChargeStatus {
	h.t.Helper()
	c, err := h.store.GetCharge(context.Background(), mu)
	require.NoError(h.t, err)
	return c.Status
}

// R8: the same notification 100 times, in sequence and at once: one transition, one event.
func TestNotificationReplayed(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	v, p := h.unknownCharge("u1", "k1")
	n := core.Notification{ImpUID: p.ImpUID, MerchantUID: v.MerchantUID, Status: "paid"}
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			assert.NoError(t, h.svc.ApplyNotification(ctx, n))
		}()
	}
	wg.Wait()
	for range 50 {
		require.NoError(t, h.svc.ApplyNotification(ctx, n))
	}
	assert.Equal(t, core.ChargePaid, h.chargeStatus(v.MerchantUID))
	assert.Equal(t, 1, h.events.Count(event.ChargePaid, v.MerchantUID))
	assert.Equal(t, 1, h.fake.Count(iamporttest.EPAgain), "a webhook never charges")
	c, err := h.store.GetCharge(ctx, v.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, p.ImpUID, c.ImpUID)
	assert.Equal(t, time.Unix(int64(p.PaidAt), 0).UTC(), c.PaidAt)
	// The notification's own status is not believed: a "cancelled" claim for a paid
	// payment changes nothing.
	require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: p.ImpUID, MerchantUID: v.MerchantUID, Status: "cancelled"}))
	assert.Equal(t, core.ChargePaid, h.chargeStatus(v.MerchantUID))
}

// R8: paid and cancelled notifications in any order, around the cancellation, end
// cancelled, with one charge.cancelled event.
func TestNotificationOrderIndependent(t *testing.T) {
	for seed := range uint64(12) {
		h := newSH(t)
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(seed, 7))
		h.issueKey("u1", iamporttest.CardOK)
		v, p := h.unknownCharge("u1", "k1")
		paid := core.Notification{ImpUID: p.ImpUID, MerchantUID: v.MerchantUID, Status: "paid"}
		cancelled := core.Notification{ImpUID: p.ImpUID, MerchantUID: v.MerchantUID, Status: "cancelled", CancellationID: "c1"}
		// Some paid notifications may come before the cancellation; after it, the cancelled
		// one and the rest of the paid ones in a random order.
		before := rng.IntN(4)
		for range before {
			require.NoError(t, h.svc.ApplyNotification(ctx, paid))
		}
		_, err := h.fake.CancelFromConsole(p.ImpUID, 0, "customer request")
		require.NoError(t, err)
		rest := []core.Notification{cancelled}
		for range 4 - before {
			rest = append(rest, paid)
		}
		rng.Shuffle(len(rest), func(i, j int) { rest[i], rest[j] = rest[j], rest[i] })
		for _, n := range rest {
			require.NoError(t, h.svc.ApplyNotification(ctx, n))
		}
		assert.Equal(t, core.ChargeCancelled, h.chargeStatus(v.MerchantUID), "seed %d", seed)
		assert.Equal(t, 1, h.events.Count(event.ChargeCancelled, v.MerchantUID), "seed %d", seed)
		assert.LessOrEqual(t, h.events.Count(event.ChargePaid, v.MerchantUID), 1)
		if before > 0 {
			assert.Equal(t, 1, h.events.Count(event.ChargePaid, v.MerchantUID), "paid first, then cancelled")
		}
		got, err := h.svc.GetCharge(ctx, "u1", v.MerchantUID)
		require.NoError(t, err)
		assert.Equal(t, core.ChargeCancelled, got.Status)
	}
}

// R8: a payment that arrives after we settled the charge failed is not lost.
func TestNotificationPaidAfterFailed(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardDeclined)
	v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
	assert.Equal(t, codes.CardDeclined, errCode(t, err))
	failedPay := h.fake.PaymentsByMerchantUID(v.MerchantUID)[0]

	// iamport later holds a paid payment under the merchant_uid (e.g. a retry by the PG).
	late := failedPay
	late.ImpUID = "imps_900000000001"
	late.Status = iamport.StatusPaid
	late.FailReason = ""
	late.FailedAt = 0
	late.PaidAt = iamport.Timestamp(t0.Add(time.Minute).Unix())
	h.fake.PutPayment(late)
	for range 3 {
		require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: late.ImpUID, MerchantUID: v.MerchantUID, Status: "paid"}))
	}
	// The failed payment's notification afterwards changes nothing.
	require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: failedPay.ImpUID, MerchantUID: v.MerchantUID, Status: "failed"}))
	c, err := h.store.GetCharge(ctx, v.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, core.ChargePaid, c.Status)
	assert.Equal(t, late.ImpUID, c.ImpUID)
	assert.Equal(t, 1, h.events.Count(event.LatePayment, v.MerchantUID))
	assert.Equal(t, 1, h.events.Count(event.ChargePaid, v.MerchantUID))
	assert.Equal(t, 1, h.events.Count(event.ChargeFailed, v.MerchantUID))
}

// R8: the notification that follows an issuance completes the issuance and is not
// taken for a charge.
func TestNotificationForIssuance(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	req := h.prepare("u1", "")
	res := h.window(req, iamporttest.CardOK, false)
	require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: windowImpUID(res), MerchantUID: req.Params.MerchantUID, Status: "paid"}))
	k, err := h.store.GetBillingKey(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, req.Params.CustomerUID, k.CustomerUID)
	cs, _, err := h.svc.ListCharges(ctx, "u1", "", 0)
	require.NoError(t, err)
	assert.Empty(t, cs)
	assert.Equal(t, 0, h.events.Count(event.ChargePaid, ""))
	assert.Equal(t, 1, h.events.Count(event.BillingKeyIssued, ""))
	// The user's callback arriving second gets the same answer.
	out, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
	require.NoError(t, err)
	assert.Equal(t, "issued", out.Status)

	// An issuance notification whose payment was refused settles it failed, with 200.
	req2 := h.prepare("u2", "")
	res2 := h.window(req2, iamporttest.CardRefused, false)
	require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: windowImpUID(res2), MerchantUID: req2.Params.MerchantUID, Status: "failed"}))
	is, err := h.store.GetIssuance(ctx, req2.Params.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, store.IssuanceFailed, is.Status)
	// Replayed: still harmless.
	require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: windowImpUID(res2), MerchantUID: req2.Params.MerchantUID, Status: "failed"}))
}

// R9: replies. nil (200) for processed, duplicate or harmless; 400 for malformed ids;
// 503 when iamport cannot be asked.
func TestNotificationReplies(t *testing.T) {
	h := newSH(t, shClient(func(c *iamport.Config) { c.MaxRetries = -1 }))
	ctx := context.Background()

	// Unknown imp_uid: harmless.
	require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: "imps_000000000404", MerchantUID: "order-1", Status: "paid"}))
	// A payment of the merchant's that billkey did not make: harmless, nothing stored.
	h.fake.PutPayment(iamport.Payment{ImpUID: "imps_000000000777", MerchantUID: "shop-order_2026-03-01", Amount: 5000, Status: iamport.StatusPaid, Currency: "KRW"})
	require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: "imps_000000000777", MerchantUID: "shop-order_2026-03-01", Status: "paid"}))
	h.fake.PutPayment(iamport.Payment{ImpUID: "imps_000000000778", MerchantUID: "bkcnotoursatall", Amount: 5000, Status: iamport.StatusPaid, Currency: "KRW"})
	require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: "imps_000000000778", Status: "paid"}))
	// Only a merchant_uid, not ours: harmless, no call.
	calls := h.calls()
	require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{MerchantUID: "bkcunknown", Status: "paid"}))
	assert.Equal(t, calls, h.calls())

	for _, n := range []core.Notification{
		{},
		{Status: "paid"},
		{ImpUID: "imp_1/../../x", Status: "paid"},
		{ImpUID: "imps_123", MerchantUID: "a b"},
		{ImpUID: "imps_123", MerchantUID: string(make([]byte, 81))},
		{ImpUID: "imps_123", Status: "paid\n"},
		{ImpUID: "imps_123", CancellationID: "\x00"},
	} {
		err := h.svc.ApplyNotification(ctx, n)
		assert.Equal(t, codes.InvalidRequest, errCode(t, err), "%+v", n)
		assert.Equal(t, 400, errStatus(t, err))
	}
	assert.Equal(t, calls, h.calls(), "malformed notifications call nobody")

	h.fake.Inject(iamporttest.EPGetPayment, iamporttest.Fault{Status: 500})
	err := h.svc.ApplyNotification(ctx, core.Notification{ImpUID: "imps_000000000777", Status: "paid"})
	assert.Equal(t, codes.UpstreamUnavailable, errCode(t, err))
	assert.Equal(t, 503, errStatus(t, err))
}

// A notification without imp_uid for one of our charges is looked up by merchant_uid.
func TestNotificationByMerchantUID(t *testing.T) {
	h := newSH(t)
	h.issueKey("u1", iamporttest.CardOK)
	v, _ := h.unknownCharge("u1", "k1")
	require.NoError(t, h.svc.ApplyNotification(context.Background(), core.Notification{MerchantUID: v.MerchantUID, Status: "paid"}))
	assert.Equal(t, core.ChargePaid, h.chargeStatus(v.MerchantUID))
	assert.Equal(t, 1, h.fake.Count(iamporttest.EPFindPayment))
}

// R1/R2 on the charge side: a payment that does not match the charge is never taken as
// paid; the charge is closed failed and one mismatch event is raised.
func TestNotificationChargeMismatch(t *testing.T) {
	cases := map[string]func(*iamport.Payment){
		"amount":       func(p *iamport.Payment) { p.Amount = 1 },
		"customer_uid": func(p *iamport.Payment) { p.CustomerUID = "bkcu00000000000000000000000000000000" },
		"sandbox":      func(p *iamport.Payment) { t := true; p.Sandbox = &t },
	}
	for name, alter := range cases {
		t.Run(name, func(t *testing.T) {
			h := newSH(t)
			ctx := context.Background()
			h.issueKey("u1", iamporttest.CardOK)
			v, p := h.unknownCharge("u1", "k1")
			alter(&p)
			h.fake.PutPayment(p)
			for range 5 {
				require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: p.ImpUID, MerchantUID: v.MerchantUID, Status: "paid"}))
			}
			if name == "sandbox" {
				// Live lookups do not even see sandbox payments: nothing happens.
				assert.Equal(t, core.ChargeUnknown, h.chargeStatus(v.MerchantUID))
				h.clock.Advance(3 * time.Minute)
				_, err := h.svc.Reconcile(ctx) // the merchant_uid lookup does see it
				require.NoError(t, err)
			}
			c, err := h.store.GetCharge(ctx, v.MerchantUID)
			require.NoError(t, err)
			assert.Equal(t, core.ChargeFailed, c.Status)
			assert.Contains(t, c.FailReason, "payment mismatch")
			assert.NotContains(t, c.FailReason, h.customerUID("u1"))
			assert.Equal(t, 1, h.events.Count(event.PaymentMismatch, v.MerchantUID))
			assert.Equal(t, 0, h.events.Count(event.ChargePaid, v.MerchantUID))
		})
	}
}

// webhookTarget serves the fake's notifications (JSON or form) into the service, as the
// webhook route would, and answers by the error's status.
func webhookTarget(t *testing.T, svc *core.Service) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var n core.Notification
		if r.Header.Get("Content-Type") == "application/json" {
			if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
				w.WriteHeader(400)
				return
			}
		} else {
			if err := r.ParseForm(); err != nil {
				w.WriteHeader(400)
				return
			}
			n = core.Notification{ImpUID: r.PostForm.Get("imp_uid"), MerchantUID: r.PostForm.Get("merchant_uid"),
				Status: r.PostForm.Get("status"), CancellationID: r.PostForm.Get("cancellation_id")}
		}
		err := svc.ApplyNotification(r.Context(), n)
		var e *core.Error
		if errors.As(err, &e) {
			w.WriteHeader(e.HTTPStatus())
			return
		}
		w.WriteHeader(200)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// The fake's own deliveries, duplicated and reordered, in both body formats.
func TestNotificationsFromTheFake(t *testing.T) {
	for _, format := range []iamporttest.WebhookFormat{iamporttest.WebhookJSON, iamporttest.WebhookForm} {
		h := newSH(t)
		ctx := context.Background()
		h.fake.SetWebhook(iamporttest.WebhookConfig{URL: webhookTarget(t, h.svc), Format: format, Duplicates: 4, Reorder: true})

		req := h.prepare("u1", "pro")
		res := h.window(req, iamporttest.CardOK, false) // its notification completes the issuance
		require.True(t, h.fake.WaitWebhooks(10*time.Second))
		is, err := h.store.GetIssuance(ctx, req.Params.MerchantUID)
		require.NoError(t, err)
		require.Equal(t, store.IssuanceIssued, is.Status)
		require.True(t, h.fake.WaitWebhooks(10*time.Second)) // the first charge's notifications
		out, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
		require.NoError(t, err)
		assert.Equal(t, core.ChargePaid, out.FirstCharge.Status)

		v, _ := h.unknownCharge("u1", "k2") // settled by its notifications
		require.True(t, h.fake.WaitWebhooks(10*time.Second))
		assert.Equal(t, core.ChargePaid, h.chargeStatus(v.MerchantUID))

		assert.Equal(t, 1, h.events.Count(event.BillingKeyIssued, ""))
		assert.Equal(t, 2, h.events.Count(event.ChargePaid, ""))
		assert.Equal(t, 2, h.fake.Count(iamporttest.EPAgain), "the first charge and k2, once each")
		for _, wh := range h.fake.Webhooks() {
			assert.Equal(t, 200, wh.HTTPStatus, "%+v", wh)
		}
	}
}
