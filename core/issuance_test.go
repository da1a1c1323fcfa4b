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
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store"
)

func TestCompleteIssuanceCallback(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	req := h.prepare("u1", "")
	res := h.window(req, iamporttest.CardOK, false)
	out, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{
		MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback,
	})
	require.NoError(t, err)
	assert.Equal(t, "issued", out.Status)
	assert.Equal(t, req.Params.MerchantUID, out.MerchantUID)
	require.NotNil(t, out.Key)
	assert.NotEmpty(t, out.Key.CardName)
	assert.Contains(t, out.Key.CardNumber, "*", "masked")
	assert.Nil(t, out.FirstCharge)

	k, err := h.store.GetBillingKey(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, req.Params.CustomerUID, k.CustomerUID)
	is, err := h.store.GetIssuance(ctx, req.Params.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, store.IssuanceIssued, is.Status)
	assert.Equal(t, windowImpUID(res), is.ImpUID)
	assert.Equal(t, 1, h.events.Count(event.BillingKeyIssued, req.Params.MerchantUID))

	info, err := h.svc.BillingKey(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, out.Key.CardNumber, info.CardNumber)

	// Idempotent: the redirect and the webhook that follow get the same answer, without
	// asking iamport again and without a second event.
	before := h.calls()
	again, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{
		MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceRedirect,
	})
	require.NoError(t, err)
	assert.Equal(t, out, again)
	require.NoError(t, h.svc.ApplyNotification(ctx, core.Notification{ImpUID: windowImpUID(res), MerchantUID: req.Params.MerchantUID, Status: "paid"}))
	assert.Equal(t, 1, h.events.Count(event.BillingKeyIssued, ""))
	assert.Equal(t, before+1, h.calls(), "only the webhook's re-fetch")
}

func TestCompleteIssuanceRedirectWithoutImpUID(t *testing.T) {
	h := newSH(t)
	req := h.prepare("u1", "")
	h.window(req, iamporttest.CardOK, true)
	out, err := h.svc.CompleteIssuance(context.Background(), "u1", core.CompleteInput{
		MerchantUID: req.Params.MerchantUID, Source: core.SourceRedirect,
	})
	require.NoError(t, err)
	assert.Equal(t, "issued", out.Status)
	assert.Equal(t, 1, h.fake.Count(iamporttest.EPFindPayment), "falls back to the merchant_uid lookup")
}

// R2: browser flags are hints. imp_success=false with a real success is accepted.
func TestCompleteIssuanceHintsAreHints(t *testing.T) {
	h := newSH(t)
	req := h.prepare("u1", "")
	res := h.window(req, iamporttest.CardOK, true)
	no := false
	out, err := h.svc.CompleteIssuance(context.Background(), "u1", core.CompleteInput{
		MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceRedirect,
		Success: &no, ErrorCode: "F0000", ErrorMsg: "user cancelled",
	})
	require.NoError(t, err)
	assert.Equal(t, "issued", out.Status)

	// imp_success=true for a payment iamport does not have: rejected, not settled.
	req2 := h.prepare("u1", "")
	yes := true
	_, err = h.svc.CompleteIssuance(context.Background(), "u1", core.CompleteInput{
		MerchantUID: req2.Params.MerchantUID, ImpUID: "imps_999999999999", Source: core.SourceRedirect, Success: &yes,
	})
	assert.Equal(t, codes.IssuanceFailed, errCode(t, err))
	is, err := h.store.GetIssuance(context.Background(), req2.Params.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, store.IssuancePending, is.Status)
	_, err = h.store.GetBillingKey(context.Background(), "u1")
	require.NoError(t, err)
	assert.Equal(t, 1, h.events.Count(event.BillingKeyIssued, ""))

	// The window reported an error and iamport has nothing: settled failed.
	_, err = h.svc.CompleteIssuance(context.Background(), "u1", core.CompleteInput{
		MerchantUID: req2.Params.MerchantUID, Source: core.SourceRedirect, Success: &no,
		ErrorCode: "F1001", ErrorMsg: "PG module not registered",
	})
	assert.Equal(t, codes.IssuanceFailed, errCode(t, err))
	is, err = h.store.GetIssuance(context.Background(), req2.Params.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, store.IssuanceFailed, is.Status)
	assert.Equal(t, "PG module not registered", is.FailReason)
	assert.Equal(t, 1, h.events.Count(event.IssuanceFailed, req2.Params.MerchantUID))
	_, err = h.svc.CompleteIssuance(context.Background(), "u1", core.CompleteInput{MerchantUID: req2.Params.MerchantUID, Source: core.SourceCallback})
	assert.Equal(t, codes.IssuanceSettled, errCode(t, err))
}

func TestCompleteIssuanceRefusedCard(t *testing.T) {
	h := newSH(t)
	req := h.prepare("u1", "")
	res := h.window(req, iamporttest.CardRefused, false)
	require.NotNil(t, res.Payment)
	_, err := h.svc.CompleteIssuance(context.Background(), "u1", core.CompleteInput{
		MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback,
	})
	assert.Equal(t, codes.IssuanceFailed, errCode(t, err))
	assert.Equal(t, 422, errStatus(t, err))
	is, err := h.store.GetIssuance(context.Background(), req.Params.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, store.IssuanceFailed, is.Status)
	assert.NotEmpty(t, is.FailReason)
	assert.Equal(t, 1, h.events.Count(event.IssuanceFailed, ""))
	_, err = h.svc.BillingKey(context.Background(), "u1")
	assert.Equal(t, codes.BillingKeyMissing, errCode(t, err))
}

// R2/R17: every way iamport's record can disagree with ours is rejected.
func TestCompleteIssuanceRejectsMismatches(t *testing.T) {
	cases := []struct {
		name    string
		plan    string
		alter   func(p *iamport.Payment)
		code    string
		settled store.IssuanceStatus
		event   bool
	}{
		{"ready", "", func(p *iamport.Payment) { p.Status = iamport.StatusReady }, codes.IssuanceFailed, store.IssuancePending, false},
		{"failed", "", func(p *iamport.Payment) { p.Status = iamport.StatusFailed; p.FailReason = "카드 인증 실패" }, codes.IssuanceFailed, store.IssuanceFailed, false},
		{"cancelled", "", func(p *iamport.Payment) { p.Status = iamport.StatusCancelled }, codes.IssuanceFailed, store.IssuancePending, false},
		{"other amount", "basic", func(p *iamport.Payment) { p.Amount = 100 }, codes.PaymentMismatch, store.IssuancePending, true},
		{"tampered amount 1", "basic", func(p *iamport.Payment) { p.Amount = 1 }, codes.PaymentMismatch, store.IssuancePending, true},
		{"an amount without a plan", "", func(p *iamport.Payment) { p.Amount = 100 }, codes.PaymentMismatch, store.IssuancePending, true},
		{"other merchant_uid", "", func(p *iamport.Payment) { p.MerchantUID = "bkiother0000000000000000000000" }, codes.NotFound, store.IssuancePending, false},
		{"other customer_uid", "", func(p *iamport.Payment) { p.CustomerUID = "bkcu00000000000000000000000000000000" }, codes.PaymentMismatch, store.IssuancePending, true},
		{"no customer_uid", "", func(p *iamport.Payment) { p.CustomerUID = "" }, codes.PaymentMismatch, store.IssuancePending, true},
		{"a charge, not an issuance", "", func(p *iamport.Payment) { p.CustomerUIDUsage = iamport.UsagePayment }, codes.PaymentMismatch, store.IssuancePending, true},
		{"sandbox in live mode", "", func(p *iamport.Payment) { t := true; p.Sandbox = &t }, codes.IssuanceFailed, store.IssuancePending, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newSH(t)
			ctx := context.Background()
			req := h.prepare("u1", tc.plan)
			res := h.window(req, iamporttest.CardOK, false)
			p := *res.Payment
			tc.alter(&p)
			h.fake.PutPayment(p)
			for _, src := range []core.Source{core.SourceCallback, core.SourceRedirect} {
				_, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{
					MerchantUID: req.Params.MerchantUID, ImpUID: p.ImpUID, Source: src,
				})
				if tc.settled == store.IssuanceFailed && src == core.SourceRedirect {
					assert.Equal(t, codes.IssuanceSettled, errCode(t, err))
				} else {
					assert.Equal(t, tc.code, errCode(t, err))
				}
			}
			is, err := h.store.GetIssuance(ctx, req.Params.MerchantUID)
			require.NoError(t, err)
			assert.Equal(t, tc.settled, is.Status)
			_, err = h.store.GetBillingKey(ctx, "u1")
			require.ErrorIs(t, err, store.ErrNotFound)
			assert.Equal(t, 0, h.events.Count(event.BillingKeyIssued, ""))
			if tc.event {
				assert.Equal(t, 1, h.events.Count(event.PaymentMismatch, req.Params.MerchantUID), "one event however often it is seen")
			}
			assert.Equal(t, 0, h.fake.Count(iamporttest.EPAgain), "no charge")
		})
	}
}

// R17: in live mode a sandbox payment or key is refused; in test mode it is accepted.
func TestCompleteIssuanceSandbox(t *testing.T) {
	for _, testMode := range []bool{false, true} {
		h := newSH(t, shFake(iamporttest.WithSandbox(true)), shConfig(func(c *core.Config) { c.TestMode = testMode }))
		ctx := context.Background()
		req := h.prepare("u1", "")
		res := h.window(req, iamporttest.CardOK, false)
		_, errCB := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
		_, errRD := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, Source: core.SourceRedirect})
		if testMode {
			require.NoError(t, errCB)
			require.NoError(t, errRD)
			continue
		}
		assert.Equal(t, codes.IssuanceFailed, errCode(t, errCB), "live lookups leave sandbox payments out")
		assert.Equal(t, codes.PaymentMismatch, errCode(t, errRD), "found by merchant_uid, refused for sandbox")
		_, err := h.store.GetBillingKey(ctx, "u1")
		require.ErrorIs(t, err, store.ErrNotFound)
	}
}

// R17: a live payment whose key iamport reports as sandbox is refused too.
func TestCompleteIssuanceSandboxKey(t *testing.T) {
	h := newSH(t, shFake(iamporttest.WithSandbox(true)))
	req := h.prepare("u1", "")
	res := h.window(req, iamporttest.CardOK, false)
	p := *res.Payment
	p.Sandbox = new(bool)
	h.fake.PutPayment(p)
	_, err := h.svc.CompleteIssuance(context.Background(), "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: p.ImpUID, Source: core.SourceCallback})
	assert.Equal(t, codes.PaymentMismatch, errCode(t, err))
	assert.Equal(t, 1, h.events.Count(event.PaymentMismatch, ""))
}

// R3: one imp_uid cannot complete two issuances.
func TestCompleteIssuanceOneImpUIDTwoIssuances(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	a := h.prepare("u1", "")
	resA := h.window(a, iamporttest.CardOK, false)
	b := h.prepare("u2", "")
	h.window(b, iamporttest.CardOK, false)
	_, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: a.Params.MerchantUID, ImpUID: windowImpUID(resA), Source: core.SourceCallback})
	require.NoError(t, err)
	_, err = h.svc.CompleteIssuance(ctx, "u2", core.CompleteInput{MerchantUID: b.Params.MerchantUID, ImpUID: windowImpUID(resA), Source: core.SourceCallback})
	assert.Equal(t, codes.NotFound, errCode(t, err))
	is, err := h.store.GetIssuance(ctx, b.Params.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, store.IssuancePending, is.Status)
	k, err := h.store.GetBillingKey(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, a.Params.CustomerUID, k.CustomerUID)
}

// R11 for imp_uids: another issuance's or a charge's imp_uid, as the store records it,
// is refused before any call to iamport.
func TestCompleteIssuanceForeignImpUID(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	a := h.prepare("alice", "basic")
	resA := h.window(a, iamporttest.CardOK, false)
	outA, err := h.svc.CompleteIssuance(ctx, "alice", core.CompleteInput{MerchantUID: a.Params.MerchantUID, ImpUID: windowImpUID(resA), Source: core.SourceCallback})
	require.NoError(t, err)
	require.Equal(t, core.ChargePaid, outA.FirstCharge.Status)
	chargeImp := h.fake.PaymentsByMerchantUID(outA.FirstCharge.MerchantUID)[0].ImpUID

	b := h.prepare("bob", "")
	before := h.calls()
	for _, imp := range []string{windowImpUID(resA), chargeImp} {
		_, err = h.svc.CompleteIssuance(ctx, "bob", core.CompleteInput{MerchantUID: b.Params.MerchantUID, ImpUID: imp, Source: core.SourceCallback})
		assert.Equal(t, codes.NotFound, errCode(t, err))
	}
	assert.Equal(t, before, h.calls(), "no call to iamport")
	is, err := h.store.GetIssuance(ctx, b.Params.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, store.IssuancePending, is.Status)
	// alice's own imp_uid on her own issuance is fine.
	_, err = h.svc.CompleteIssuance(ctx, "alice", core.CompleteInput{MerchantUID: a.Params.MerchantUID, ImpUID: windowImpUID(resA), Source: core.SourceRedirect})
	require.NoError(t, err)
}

// R11: another user's issuance is a 404, and iamport is not asked.
func TestCompleteIssuanceForeign(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	req := h.prepare("alice", "")
	res := h.window(req, iamporttest.CardOK, false)
	before := h.calls()
	for _, src := range []core.Source{core.SourceCallback, core.SourceRedirect} {
		_, err := h.svc.CompleteIssuance(ctx, "mallory", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: src})
		assert.Equal(t, codes.NotFound, errCode(t, err))
		assert.Equal(t, 404, errStatus(t, err))
	}
	_, err := h.svc.CompleteIssuance(ctx, "mallory", core.CompleteInput{MerchantUID: "bkinosuchissuance0000000000000", Source: core.SourceCallback})
	assert.Equal(t, codes.NotFound, errCode(t, err))
	assert.Equal(t, before, h.calls(), "no call to iamport")
	is, err := h.store.GetIssuance(ctx, req.Params.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, store.IssuancePending, is.Status)

	// The owner can still complete it.
	_, err = h.svc.CompleteIssuance(ctx, "alice", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
	require.NoError(t, err)
	// A settled issuance stays a 404 for others.
	_, err = h.svc.CompleteIssuance(ctx, "mallory", core.CompleteInput{MerchantUID: req.Params.MerchantUID, Source: core.SourceCallback})
	assert.Equal(t, codes.NotFound, errCode(t, err))
}

func TestCompleteIssuanceInputs(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	req := h.prepare("u1", "")
	for _, in := range []core.CompleteInput{
		{MerchantUID: "", Source: core.SourceCallback},
		{MerchantUID: "bki/../x", Source: core.SourceCallback},
		{MerchantUID: "bki" + string(make([]byte, 40)), Source: core.SourceCallback},
		{MerchantUID: req.Params.MerchantUID, ImpUID: "imp_1/../2", Source: core.SourceCallback},
		{MerchantUID: req.Params.MerchantUID, ImpUID: "imp_12345678901234567890123456789012345", Source: core.SourceCallback},
	} {
		_, err := h.svc.CompleteIssuance(ctx, "u1", in)
		assert.Equal(t, codes.InvalidRequest, errCode(t, err), "%+v", in)
	}
	_, err := h.svc.CompleteIssuance(ctx, "", core.CompleteInput{MerchantUID: req.Params.MerchantUID, Source: core.SourceCallback})
	assert.Equal(t, codes.Unauthenticated, errCode(t, err), "only the webhook has no user")
	assert.Equal(t, 0, h.calls())
}

func TestCompleteIssuanceExpired(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	req := h.prepare("u1", "")
	res := h.window(req, iamporttest.CardOK, false)
	h.clock.Advance(31 * time.Minute)
	before := h.calls()
	_, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
	assert.Equal(t, codes.IssuanceExpired, errCode(t, err))
	assert.Equal(t, 410, errStatus(t, err))
	assert.Equal(t, before, h.calls())
	is, err := h.store.GetIssuance(ctx, req.Params.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, store.IssuanceExpired, is.Status)
	_, err = h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, Source: core.SourceRedirect})
	assert.Equal(t, codes.IssuanceExpired, errCode(t, err))
}

func TestCompleteIssuanceUpstreamDown(t *testing.T) {
	h := newSH(t, shClient(func(c *iamport.Config) { c.MaxRetries = -1 }))
	ctx := context.Background()
	req := h.prepare("u1", "")
	res := h.window(req, iamporttest.CardOK, false)
	h.fake.Inject(iamporttest.EPGetPayment, iamporttest.Fault{Status: 503})
	_, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
	assert.Equal(t, codes.UpstreamUnavailable, errCode(t, err))
	h.fake.Inject(iamporttest.EPGetCustomer, iamporttest.Fault{Status: 500})
	_, err = h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
	assert.Equal(t, codes.UpstreamUnavailable, errCode(t, err))
	// Nothing settled: the next signal completes it.
	out, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
	require.NoError(t, err)
	assert.Equal(t, "issued", out.Status)
}

func TestCompleteIssuanceKeyMissingAtIamport(t *testing.T) {
	h := newSH(t)
	req := h.prepare("u1", "")
	res := h.window(req, iamporttest.CardOK, false)
	require.True(t, h.fake.DeleteCustomerKey(req.Params.CustomerUID))
	_, err := h.svc.CompleteIssuance(context.Background(), "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
	assert.Equal(t, codes.IssuanceFailed, errCode(t, err))
	_, err = h.store.GetBillingKey(context.Background(), "u1")
	require.ErrorIs(t, err, store.ErrNotFound)
}

// A plan attached to the issuance: the key is issued, then the plan is charged once with
// a merchant_uid of its own, whichever of callback, redirect and webhook arrive, in
// parallel and repeatedly.
func TestCompleteIssuanceWithPlanRace(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	req := h.prepare("u1", "pro")
	res := h.window(req, iamporttest.CardOK, false)
	const n = 12
	var wg sync.WaitGroup
	results := make([]*core.IssuanceResult, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			switch i % 3 {
			case 0:
				results[i], errs[i] = h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
			case 1:
				results[i], errs[i] = h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, Source: core.SourceRedirect})
			default:
				errs[i] = h.svc.ApplyNotification(ctx, core.Notification{ImpUID: windowImpUID(res), MerchantUID: req.Params.MerchantUID, Status: "paid"})
			}
		}()
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		if i%3 != 2 {
			require.Equal(t, "issued", results[i].Status)
			require.NotNil(t, results[i].FirstCharge)
		}
	}
	assert.Equal(t, 1, h.fake.Count(iamporttest.EPAgain), "the first charge runs once")
	assert.Equal(t, 1, h.events.Count(event.BillingKeyIssued, ""))
	assert.Equal(t, 1, h.events.Count(event.ChargePaid, ""))

	is, err := h.store.GetIssuance(ctx, req.Params.MerchantUID)
	require.NoError(t, err)
	require.NotEmpty(t, is.ChargeMerchantUID)
	assert.NotEqual(t, is.MerchantUID, is.ChargeMerchantUID, "a new merchant_uid for the charge")
	c, err := h.store.GetCharge(ctx, is.ChargeMerchantUID)
	require.NoError(t, err)
	assert.Equal(t, core.ChargePaid, c.Status)
	assert.Equal(t, int64(29000), c.Amount)
	assert.Equal(t, "pro", c.PlanID)
	ps := h.fake.PaymentsByMerchantUID(is.ChargeMerchantUID)
	require.Len(t, ps, 1)
	assert.Equal(t, int64(29000), ps[0].Amount, "R1: the plan's price")

	out, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, Source: core.SourceCallback})
	require.NoError(t, err)
	assert.Equal(t, core.ChargePaid, out.FirstCharge.Status)
	assert.Equal(t, is.ChargeMerchantUID, out.FirstCharge.MerchantUID)
	assert.Equal(t, 1, h.fake.Count(iamporttest.EPAgain))
}

// iamport may record 0 (not the amount shown) on a kcp_billing issuance
// payment, since nothing is approved at issuance. Both 0 and the shown amount are
// accepted; the first charge is the plan's price either way.
func TestCompleteIssuanceAmountZeroOrShown(t *testing.T) {
	for _, tc := range []struct {
		name   string
		amount func(shown int64) int64
	}{
		{"zero", func(int64) int64 { return 0 }},
		{"shown", func(shown int64) int64 { return shown }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newSH(t)
			ctx := context.Background()
			req := h.prepare("u1", "basic")
			require.Equal(t, int64(9900), req.Params.Amount)
			res := h.window(req, iamporttest.CardOK, false)
			p := *res.Payment
			p.Amount = tc.amount(req.Params.Amount)
			h.fake.PutPayment(p)
			out, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{
				MerchantUID: req.Params.MerchantUID, ImpUID: p.ImpUID, Source: core.SourceCallback,
			})
			require.NoError(t, err)
			assert.Equal(t, "issued", out.Status)
			_, err = h.store.GetBillingKey(ctx, "u1")
			require.NoError(t, err)
			require.NotNil(t, out.FirstCharge)
			assert.Equal(t, core.ChargePaid, out.FirstCharge.Status)
			assert.Equal(t, int64(9900), out.FirstCharge.Amount)
			ps := h.fake.PaymentsByMerchantUID(out.FirstCharge.MerchantUID)
			require.Len(t, ps, 1)
			assert.Equal(t, int64(9900), ps[0].Amount, "R1: the plan's price")
			assert.Equal(t, 0, h.events.Count(event.PaymentMismatch, ""))
		})
	}
}

// The first charge of a plan is declined: the key stays issued and the charge failed.
func TestCompleteIssuanceWithPlanDeclined(t *testing.T) {
	h := newSH(t)
	req := h.prepare("u1", "basic")
	res := h.window(req, iamporttest.CardDeclined, false)
	out, err := h.svc.CompleteIssuance(context.Background(), "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
	require.NoError(t, err)
	assert.Equal(t, "issued", out.Status)
	require.NotNil(t, out.FirstCharge)
	assert.Equal(t, core.ChargeFailed, out.FirstCharge.Status)
	assert.NotEmpty(t, out.FirstCharge.FailReason)
	assert.Equal(t, 1, h.events.Count(event.ChargeFailed, ""))
}

// A new card replaces the old key, which is removed at iamport.
func TestIssuanceReplacesKey(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	old := h.customerUID("u1")
	_, ok := h.fake.Customer(old)
	require.True(t, ok)
	h.issueKey("u1", iamporttest.CardDeclined)
	now := h.customerUID("u1")
	assert.NotEqual(t, old, now)
	_, ok = h.fake.Customer(old)
	assert.False(t, ok, "the replaced key is deleted at iamport")
	_, ok = h.fake.Customer(now)
	assert.True(t, ok)
	assert.Equal(t, 2, h.events.Count(event.BillingKeyIssued, ""))
	_ = ctx
}

func TestBillingKeyAndDelete(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	_, err := h.svc.BillingKey(ctx, "u1")
	assert.Equal(t, codes.BillingKeyMissing, errCode(t, err))
	err = h.svc.DeleteBillingKey(ctx, "u1")
	assert.Equal(t, codes.BillingKeyMissing, errCode(t, err))

	h.issueKey("u1", iamporttest.CardOK)
	cu := h.customerUID("u1")
	info, err := h.svc.BillingKey(ctx, "u1")
	require.NoError(t, err)
	assert.NotContains(t, info.CardNumber, "1111-1111-1111", "masked")

	// A failure at iamport removes nothing.
	h.fake.Inject(iamporttest.EPDeleteCustomer, iamporttest.Fault{Status: 500})
	err = h.svc.DeleteBillingKey(ctx, "u1")
	assert.Equal(t, codes.UpstreamUnavailable, errCode(t, err))
	_, err = h.svc.BillingKey(ctx, "u1")
	require.NoError(t, err)

	require.NoError(t, h.svc.DeleteBillingKey(ctx, "u1"))
	_, ok := h.fake.Customer(cu)
	assert.False(t, ok)
	_, err = h.svc.BillingKey(ctx, "u1")
	assert.Equal(t, codes.BillingKeyMissing, errCode(t, err))
	assert.Equal(t, 1, h.events.Count(event.BillingKeyDeleted, ""))

	// Already gone at iamport is fine.
	h.issueKey("u1", iamporttest.CardOK)
	require.True(t, h.fake.DeleteCustomerKey(h.customerUID("u1")))
	require.NoError(t, h.svc.DeleteBillingKey(ctx, "u1"))
	assert.Equal(t, 2, h.events.Count(event.BillingKeyDeleted, ""))
}
