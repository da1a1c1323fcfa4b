package core_test

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/internal/testkit"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store"
	"github.com/billkey/billkey/store/memstore"
)

// t0 is where every test clock starts.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

var svcPlans = []core.Plan{
	{ID: "basic", Name: "Basic monthly", Amount: 9900},
	{ID: "pro", Name: "Pro monthly", Amount: 29000},
}

// sh is one fresh fake, store, clock and service.
type sh struct {
	t      *testing.T
	fake   *iamporttest.Server
	client *iamport.Client
	store  store.Store
	clock  *testkit.Clock
	events *testkit.Events
	logs   *testkit.LogSink
	svc    *core.Service
	cfg    core.Config
}

type shOpts struct {
	fakeOpts   []iamporttest.Option
	clientOpts []func(*iamport.Config)
	cfg        func(*core.Config)
}

func shFake(o ...iamporttest.Option) func(*shOpts) {
	return func(h *shOpts) { h.fakeOpts = append(h.fakeOpts, o...) }
}

func shClient(o func(*iamport.Config)) func(*shOpts) {
	return func(h *shOpts) { h.clientOpts = append(h.clientOpts, o) }
}

func shConfig(f func(*core.Config)) func(*shOpts) {
	return func(h *shOpts) { h.cfg = f }
}

func newSH(t *testing.T, opts ...func(*shOpts)) *sh {
	t.Helper()
	var o shOpts
	for _, f := range opts {
		f(&o)
	}
	h := &sh{t: t, clock: testkit.NewClock(t0), events: &testkit.Events{}, logs: &testkit.LogSink{}}
	logger := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h.fake = iamporttest.NewServer(append([]iamporttest.Option{iamporttest.WithClock(t0)}, o.fakeOpts...)...)
	t.Cleanup(h.fake.Close)
	copts := append([]func(*iamport.Config){func(c *iamport.Config) {
		c.Logger = logger
		c.MaxRetries = 1
	}}, o.clientOpts...)
	h.client = h.fake.Client(copts...)
	h.store = memstore.New(memstore.WithClock(h.clock.Now))
	h.cfg = core.Config{
		MerchantCode: iamporttest.MerchantCode,
		Client:       h.client,
		Store:        h.store,
		Company:      "Shop",
		Plans:        svcPlans,
		PublicURL:    "https://shop.example.com/billing",
		CallbackURL:  "https://shop.example.com/iamport",
		SuccessURL:   "/subscribed",
		FailureURL:   "/subscribe-failed",
		Logger:       logger,
		Now:          h.clock.Now,
		Events:       h.events,
		InstanceID:   "test-instance",
	}
	if o.cfg != nil {
		o.cfg(&h.cfg)
	}
	svc, err := core.New(h.cfg)
	require.NoError(t, err)
	h.svc = svc
	return h
}

// prepare runs PrepareIssuance for user.
func (h *sh) prepare(user, plan string) *core.IssuanceRequest {
	h.t.Helper()
	req, err := h.svc.PrepareIssuance(context.Background(), core.Buyer{UserID: user, Name: "Kim", Email: "kim@example.com", Tel: "010-1234-5678"}, plan)
	require.NoError(h.t, err)
	return req
}

// window plays the payment window for req with card.
func (h *sh) window(req *core.IssuanceRequest, card string, mobile bool) *iamporttest.IssueResult {
	h.t.Helper()
	return testkit.PayInWindow(h.t, h.fake, req.Params, card, mobile)
}

// impUID is the imp_uid of a window result ("" when none).
func windowImpUID(res *iamporttest.IssueResult) string {
	if res.Payment == nil {
		return ""
	}
	return res.Payment.ImpUID
}

// issueKey gives user a billing key through the whole PC flow.
func (h *sh) issueKey(user, card string) *core.IssuanceResult {
	h.t.Helper()
	req := h.prepare(user, "")
	res := h.window(req, card, false)
	out, err := h.svc.CompleteIssuance(context.Background(), user, core.CompleteInput{
		MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback,
	})
	require.NoError(h.t, err)
	require.Equal(h.t, "issued", out.Status)
	return out
}

// customerUID is the user's stored customer_uid.
func (h *sh) customerUID(user string) string {
	h.t.Helper()
	k, err := h.store.GetBillingKey(context.Background(), user)
	require.NoError(h.t, err)
	return k.CustomerUID
}

// calls is the number of calls the fake has served.
func (h *sh) calls() int { return len(h.fake.Calls()) }

// paidAtFake counts paid payments at the fake under merchantUID.
func (h *sh) paidAtFake(merchantUID string) int {
	n := 0
	for _, p := range h.fake.PaymentsByMerchantUID(merchantUID) {
		if p.Status == iamport.StatusPaid {
			n++
		}
	}
	return n
}

func errCode(t *testing.T, err error) string {
	t.Helper()
	require.Error(t, err)
	var e *core.Error
	require.ErrorAs(t, err, &e)
	return e.Code
}

func errStatus(t *testing.T, err error) int {
	t.Helper()
	var e *core.Error
	require.ErrorAs(t, err, &e)
	return e.HTTPStatus()
}

func TestNewDefaults(t *testing.T) {
	h := newSH(t)
	req := h.prepare("u1", "")
	assert.Equal(t, "https://cdn.iamport.kr/v1/iamport.js", req.SDKURL)
	assert.Equal(t, "kcp_billing", req.Params.PG)
	assert.Equal(t, t0.Add(30*time.Minute), req.ExpiresAt)
	assert.Equal(t, "https://shop.example.com/iamport/return", req.Params.MRedirectURL)
}

func TestNewValidation(t *testing.T) {
	fake := iamporttest.NewServer()
	t.Cleanup(fake.Close)
	base := func() core.Config {
		return core.Config{
			MerchantCode: "imp12345678",
			Client:       fake.Client(),
			Store:        memstore.New(),
			Plans:        svcPlans,
			PublicURL:    "https://shop.example.com/billing",
			CallbackURL:  "https://shop.example.com/iamport",
			SuccessURL:   "/ok",
			FailureURL:   "https://shop.example.com/fail?x=1",
		}
	}
	_, err := core.New(base())
	require.NoError(t, err)

	cases := []struct {
		name  string
		field string
		mod   func(*core.Config)
	}{
		{"no merchant code", "MerchantCode", func(c *core.Config) { c.MerchantCode = "" }},
		{"merchant code without imp", "MerchantCode", func(c *core.Config) { c.MerchantCode = "12345678" }},
		{"merchant code with symbols", "MerchantCode", func(c *core.Config) { c.MerchantCode = "imp1234-5678" }},
		{"no client", "Client", func(c *core.Config) { c.Client = nil }},
		{"no store", "Store", func(c *core.Config) { c.Store = nil }},
		{"other pg", "PG", func(c *core.Config) { c.PG = "kcp" }},
		{"pg bad site", "PG", func(c *core.Config) { c.PG = "kcp_billing./x" }},
		{"duplicate plan", "Plans[1].ID", func(c *core.Config) {
			c.Plans = []core.Plan{{ID: "a", Name: "A", Amount: 1}, {ID: "a", Name: "B", Amount: 2}}
		}},
		{"zero amount", "Plans[0].Amount", func(c *core.Config) { c.Plans = []core.Plan{{ID: "a", Name: "A"}} }},
		{"negative amount", "Plans[0].Amount", func(c *core.Config) { c.Plans = []core.Plan{{ID: "a", Name: "A", Amount: -5}} }},
		{"long name", "Plans[0].Name", func(c *core.Config) {
			c.Plans = []core.Plan{{ID: "a", Name: strings.Repeat("가", 41), Amount: 1}}
		}},
		{"empty plan id", "Plans[0].ID", func(c *core.Config) { c.Plans = []core.Plan{{Name: "A", Amount: 1}} }},
		{"plan id with slash", "Plans[0].ID", func(c *core.Config) { c.Plans = []core.Plan{{ID: "a/b", Name: "A", Amount: 1}} }},
		{"no public url", "PublicURL", func(c *core.Config) { c.PublicURL = "" }},
		{"relative public url", "PublicURL", func(c *core.Config) { c.PublicURL = "/billing" }},
		{"ftp public url", "PublicURL", func(c *core.Config) { c.PublicURL = "ftp://shop.example.com" }},
		{"public url with query", "PublicURL", func(c *core.Config) { c.PublicURL = "https://shop.example.com/b?x=1" }},
		{"public url with fragment", "PublicURL", func(c *core.Config) { c.PublicURL = "https://shop.example.com/b#x" }},
		{"public url with userinfo", "PublicURL", func(c *core.Config) { c.PublicURL = "https://u:p@shop.example.com/b" }},
		{"relative notice url", "NoticeURL", func(c *core.Config) { c.NoticeURL = "/webhook" }},
		{"no success url", "SuccessURL", func(c *core.Config) { c.SuccessURL = "" }},
		{"no failure url", "FailureURL", func(c *core.Config) { c.FailureURL = "" }},
		{"foreign success url", "SuccessURL", func(c *core.Config) { c.SuccessURL = "https://evil.example.net/ok" }},
		{"other scheme success url", "SuccessURL", func(c *core.Config) { c.SuccessURL = "http://shop.example.com/ok" }},
		{"scheme-relative success url", "SuccessURL", func(c *core.Config) { c.SuccessURL = "//evil.example.net/ok" }},
		{"backslash success url", "SuccessURL", func(c *core.Config) { c.SuccessURL = "/\\evil.example.net/ok" }},
		{"encoded slash success url", "SuccessURL", func(c *core.Config) { c.SuccessURL = "/%2Fevil.example.net/ok" }},
		{"userinfo success url", "SuccessURL", func(c *core.Config) { c.SuccessURL = "https://shop.example.com@evil.example.net/ok" }},
		{"javascript success url", "SuccessURL", func(c *core.Config) { c.SuccessURL = "javascript:alert(1)" }},
		{"http site logo", "SiteLogo", func(c *core.Config) { c.SiteLogo = "http://shop.example.com/logo.gif" }},
		{"relative site logo", "SiteLogo", func(c *core.Config) { c.SiteLogo = "/logo.gif" }},
		{"http sdk url", "SDKURL", func(c *core.Config) { c.SDKURL = "http://cdn.example.com/iamport.js" }},
		{"scheme-relative sdk url", "SDKURL", func(c *core.Config) { c.SDKURL = "//cdn.example.com/iamport.js" }},
		{"backslash sdk url", "SDKURL", func(c *core.Config) { c.SDKURL = "/\\cdn.example.com/iamport.js" }},
		{"encoded slash sdk url", "SDKURL", func(c *core.Config) { c.SDKURL = "/%2Fcdn.example.com/iamport.js" }},
		{"negative ttl", "IssuanceTTL", func(c *core.Config) { c.IssuanceTTL = -time.Second }},
		{"negative reconcile", "ReconcileAfter", func(c *core.Config) { c.ReconcileAfter = -time.Second }},
		{"negative body", "MaxBodyBytes", func(c *core.Config) { c.MaxBodyBytes = -1 }},
		{"negative hops", "TrustedProxyHops", func(c *core.Config) { c.TrustedProxyHops = -1 }},
		{"company with control", "Company", func(c *core.Config) { c.Company = "Shop\n" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.mod(&cfg)
			svc, err := core.New(cfg)
			require.Error(t, err)
			assert.Nil(t, svc)
			var ce *core.ConfigError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.field, ce.Field, "%v", err)
		})
	}
}

// SDKURL may name a script on the merchant's own origin (a sandbox shim, a self-hosted
// copy): the path is passed to the page as it is.
func TestSDKURLPath(t *testing.T) {
	h := newSH(t, shConfig(func(c *core.Config) { c.SDKURL = "/__fake_iamport__/iamport.js" }))
	req, err := h.svc.PrepareIssuance(context.Background(), core.Buyer{UserID: "u1"}, "")
	require.NoError(t, err)
	assert.Equal(t, "/__fake_iamport__/iamport.js", req.SDKURL)
	// Or a fake of iamport on this machine, over plain http.
	for _, local := range []string{"http://127.0.0.1:8099/iamport.js", "http://localhost:8099/iamport.js", "http://[::1]:8099/iamport.js"} {
		h = newSH(t, shConfig(func(c *core.Config) { c.SDKURL = local }))
		assert.Equal(t, local, h.prepare("u1", "").SDKURL)
	}
}

func TestPlansIsACopy(t *testing.T) {
	h := newSH(t)
	ps := h.svc.Plans()
	require.Equal(t, svcPlans, ps)
	ps[0].Amount = 1
	assert.Equal(t, int64(9900), h.svc.Plans()[0].Amount)
	p, ok := h.svc.Plan("pro")
	assert.True(t, ok)
	assert.Equal(t, int64(29000), p.Amount)
}

func TestPrepareIssuance(t *testing.T) {
	h := newSH(t, shConfig(func(c *core.Config) {
		c.NoticeURL = "https://shop.example.com/billing/webhook"
		c.SiteLogo = "https://shop.example.com/logo.gif"
		c.BirthDayYN = true
		c.PG = "kcp_billing.A52CY"
	}))
	ctx := context.Background()
	req, err := h.svc.PrepareIssuance(ctx, core.Buyer{
		UserID: "u1",
		Name:   "가나다라마바사아자차카타파하가나다라", // 18 characters: cut to 16
		Email:  strings.Repeat("a", 60) + "@example.com",
		Tel:    "010-1234-5678",
	}, "pro")
	require.NoError(t, err)
	p := req.Params
	assert.Equal(t, iamporttest.MerchantCode, req.IMPCode)
	assert.Equal(t, "kcp_billing.A52CY", p.PG)
	assert.Equal(t, "card", p.PayMethod)
	assert.Equal(t, "Pro monthly", p.Name)
	assert.Equal(t, int64(29000), p.Amount)
	assert.Equal(t, "가나다라마바사아자차카타파하가나", p.BuyerName)
	assert.Empty(t, p.BuyerEmail, "an e-mail too long for iamport is dropped, not cut")
	assert.Equal(t, "010-1234-5678", p.BuyerTel)
	assert.Equal(t, "https://shop.example.com/iamport/return", p.MRedirectURL)
	assert.Equal(t, "https://shop.example.com/billing/webhook", p.NoticeURL)
	assert.Equal(t, "Shop", p.Company)
	require.NotNil(t, p.Bypass)
	assert.Equal(t, "https://shop.example.com/logo.gif", p.Bypass.SiteLogo)
	assert.Equal(t, "Y", p.Bypass.BatchBirthDayYN)
	u, err := url.Parse(p.MRedirectURL)
	require.NoError(t, err)
	assert.True(t, u.IsAbs())

	// R3: server-made identifiers, alphanumeric, bounded, bound to the user.
	assert.Regexp(t, `^bki[0-9a-z]{29}$`, p.MerchantUID)
	assert.Regexp(t, `^bkcu[0-9a-f]{32}$`, p.CustomerUID)
	is, err := h.store.GetIssuance(ctx, p.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, "u1", is.UserID)
	assert.Equal(t, p.CustomerUID, is.CustomerUID)
	assert.Equal(t, store.IssuancePending, is.Status)
	assert.Equal(t, "pro", is.PlanID)
	assert.Equal(t, int64(29000), is.Amount)
	assert.Equal(t, t0.Add(30*time.Minute), is.ExpiresAt)

	// Without a plan: amount 0 and the company's default name, no bypass when unset.
	h2 := newSH(t)
	req2 := h2.prepare("u1", "")
	assert.Equal(t, int64(0), req2.Params.Amount)
	assert.Equal(t, "Shop 정기결제 카드 등록", req2.Params.Name)
	assert.Nil(t, req2.Params.Bypass)
	assert.Empty(t, req2.Params.NoticeURL)

	_, err = h.svc.PrepareIssuance(ctx, core.Buyer{UserID: "u1"}, "gold")
	assert.Equal(t, codes.PlanUnknown, errCode(t, err))
	_, err = h.svc.PrepareIssuance(ctx, core.Buyer{}, "")
	assert.Equal(t, codes.Unauthenticated, errCode(t, err))
	_, err = h.svc.PrepareIssuance(ctx, core.Buyer{UserID: "u\x00"}, "")
	assert.Equal(t, codes.InvalidRequest, errCode(t, err))
	assert.Equal(t, 0, h.calls(), "preparing calls nobody")
}

// Asking for a billing-key request again (a reloaded page, a cross-site navigation, a
// script) answers the user's pending one for the same plan while it has more than half its
// time left: the store holds a row per user and plan, not one per request.
func TestPrepareIssuanceReusesPending(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	first := h.prepare("u1", "basic").Params
	for range 20 {
		again := h.prepare("u1", "basic").Params
		assert.Equal(t, first.MerchantUID, again.MerchantUID)
		assert.Equal(t, first.CustomerUID, again.CustomerUID)
	}
	other := h.prepare("u1", "pro").Params
	assert.NotEqual(t, first.MerchantUID, other.MerchantUID, "another plan, another issuance")
	assert.NotEqual(t, first.MerchantUID, h.prepare("u2", "basic").Params.MerchantUID, "another user's")
	h.clock.Advance(16 * time.Minute) // past half of the 30-minute TTL
	later := h.prepare("u1", "basic").Params
	assert.NotEqual(t, first.MerchantUID, later.MerchantUID, "too little time left: a fresh one")
	// A settled issuance is never answered again.
	res := h.window(&core.IssuanceRequest{Params: later}, iamporttest.CardOK, false)
	_, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: later.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
	require.NoError(t, err)
	assert.NotEqual(t, later.MerchantUID, h.prepare("u1", "basic").Params.MerchantUID)
}

func TestErrorType(t *testing.T) {
	e := &core.Error{Code: codes.CardDeclined, Detail: "refused", Err: iamport.ErrDeclined}
	assert.Equal(t, "billkey: card_declined: refused", e.Error())
	assert.Equal(t, 402, e.HTTPStatus())
	assert.ErrorIs(t, e, iamport.ErrDeclined)
	assert.ErrorIs(t, e, &core.Error{Code: codes.CardDeclined})
	assert.NotErrorIs(t, e, &core.Error{Code: codes.NotFound})
	assert.Equal(t, codes.CardDeclined, core.ErrorCode(e))
	assert.Equal(t, "", core.ErrorCode(iamport.ErrDeclined))
}
