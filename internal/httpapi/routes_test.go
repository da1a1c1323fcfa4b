package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/store"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/internal/httpapi"
)

const (
	rtPathRequest  = rtPrefix + "/billing-key/request"
	rtPathComplete = rtPrefix + "/billing-key/complete"
	rtPathReturn   = rtCallbacks + "/return"
	rtPathKey      = rtPrefix + "/billing-key"
	rtPathCharges  = rtPrefix + "/charges"
	rtPathWebhook  = rtCallbacks + "/webhook"
	rtPathSubs     = rtPrefix + "/subscriptions"
)

func TestRouteTable(t *testing.T) {
	h := newRTHarness(t)
	var got []string
	for _, r := range httpapi.Routes(h.svc) {
		require.NotNil(t, r.Handle)
		got = append(got, r.Method+" "+r.Pattern)
	}
	assert.Equal(t, []string{
		"GET /billing-key/request",
		"POST /billing-key/complete",
		"GET /billing-key",
		"DELETE /billing-key",
		"POST /charges",
		"GET /charges",
		"GET /charges/{merchant_uid}",
		"POST /subscriptions",
		"GET /subscriptions",
		"GET /subscriptions/{id}",
		"POST /subscriptions/{id}/cancel",
		"POST /subscriptions/{id}/resume",
		"POST /subscriptions/{id}/plan",
	}, got)
	got = nil
	for _, r := range httpapi.CallbackRoutes(h.svc) {
		got = append(got, r.Method+" "+r.Pattern)
	}
	assert.Equal(t, []string{"POST /webhook", "GET /return"}, got)
	got = nil
	for _, r := range httpapi.AdminRoutes(h.svc) {
		got = append(got, r.Method+" "+r.Pattern)
	}
	assert.Equal(t, []string{
		"GET /charges", "GET /charges/{merchant_uid}", "POST /charges/{merchant_uid}/refunds",
		"POST /charges/{merchant_uid}/reconcile", "GET /subscriptions", "GET /notifications",
		"POST /notifications/{id}/reapply",
	}, got)
	// R16: only POST and DELETE change billing state; the one GET that does (the return)
	// completes an issuance iamport already confirmed, named by an unguessable merchant_uid.
	for _, r := range httpapi.Routes(h.svc) {
		assert.Contains(t, []string{http.MethodGet, http.MethodPost, http.MethodDelete}, r.Method)
	}
}

func TestIssuanceRequest(t *testing.T) {
	h := newRTHarness(t)

	w := h.do(http.MethodGet, rtPathRequest, "", rtUser("u1"))
	ir := rtDecode[core.IssuanceRequest](t, w, http.StatusOK)
	assert.Equal(t, iamporttest.MerchantCode, ir.IMPCode)
	assert.Equal(t, "https://cdn.iamport.kr/v1/iamport.js", ir.SDKURL)
	assert.Equal(t, "kcp_billing", ir.Params.PG)
	assert.Equal(t, "card", ir.Params.PayMethod)
	assert.Equal(t, "https://shop.example.com/iamport"+httpapi.PatternReturn, ir.Params.MRedirectURL, "m_redirect_url is where CallbackRoutes serve the return")
	assert.NotEmpty(t, ir.Params.MerchantUID)
	assert.NotEmpty(t, ir.Params.CustomerUID)
	assert.Equal(t, int64(0), ir.Params.Amount)
	assert.True(t, ir.ExpiresAt.After(h.clock.Now()))

	ir = h.prepare("u1", rtBasicPlan.ID)
	assert.Equal(t, rtBasicPlan.Amount, ir.Params.Amount)

	p := rtProblem(t, h.do(http.MethodGet, rtPathRequest+"?plan=gold", "", rtUser("u1")), http.StatusUnprocessableEntity, codes.PlanUnknown)
	assert.Empty(t, p.Errors)
	p = rtProblem(t, h.do(http.MethodGet, rtPathRequest+"?plan=%3Cscript%3E", "", rtUser("u1")), http.StatusBadRequest, codes.InvalidRequest)
	assert.Equal(t, []httpapi.FieldError{{Field: "plan", Reason: "invalid"}}, p.Errors)
	p = rtProblem(t, h.do(http.MethodGet, rtPathRequest+"?plan=a&plan=b", "", rtUser("u1")), http.StatusBadRequest, codes.InvalidRequest)
	assert.Equal(t, []httpapi.FieldError{{Field: "plan", Reason: "duplicate"}}, p.Errors)
}

// Every user route answers 401 without a user; the redirect sends the browser to the
// failure page instead.
func TestUnauthenticated(t *testing.T) {
	h := newRTHarness(t)
	_, ct := rtJSON(nil)
	cases := []struct {
		method, path, body string
		opts               []rtOpt
	}{
		{http.MethodGet, rtPathRequest, "", nil},
		{http.MethodPost, rtPathComplete, `{"imp_uid":"imp_1","merchant_uid":"m1"}`, []rtOpt{ct}},
		{http.MethodGet, rtPathKey, "", nil},
		{http.MethodDelete, rtPathKey, "", nil},
		{http.MethodPost, rtPathCharges, `{"plan":"basic-monthly"}`, []rtOpt{ct, rtHeader("Idempotency-Key", "k1")}},
		{http.MethodGet, rtPathCharges, "", nil},
		{http.MethodGet, rtPathCharges + "/bkc123", "", nil},
		{http.MethodPost, rtPathSubs, `{"plan":"monthly"}`, []rtOpt{ct, rtHeader("Idempotency-Key", "k1")}},
		{http.MethodGet, rtPathSubs, "", nil},
		{http.MethodGet, rtPathSubs + "/bks123", "", nil},
		{http.MethodPost, rtPathSubs + "/bks123/cancel", `{}`, []rtOpt{ct}},
		{http.MethodPost, rtPathSubs + "/bks123/resume", ``, nil},
		{http.MethodPost, rtPathSubs + "/bks123/plan", `{"plan":"monthly"}`, []rtOpt{ct}},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			w := h.do(c.method, c.path, c.body, c.opts...)
			rtProblem(t, w, http.StatusUnauthorized, codes.Unauthenticated)
		})
	}
	assert.Zero(t, h.calls(), "no iamport call without a user")
}

// The 401 body, byte for byte: adapters reproduce exactly this.
func TestProblemBytes(t *testing.T) {
	h := newRTHarness(t)
	w := h.do(http.MethodGet, rtPathKey, "")
	require.Equal(t, http.StatusUnauthorized, w.Code)
	assert.Equal(t, `{"type":"https://billkey.dev/problems/unauthenticated","title":"Authentication required","status":401,"detail":"Sign in to use billing.","code":"unauthenticated"}`+"\n", w.Body.String())
	assert.Equal(t, http.Header{
		"Content-Type":           {"application/problem+json"},
		"Cache-Control":          {"no-store"},
		"X-Content-Type-Options": {"nosniff"},
	}, w.Header())
}

func TestCompleteAndKeyLifecycle(t *testing.T) {
	h := newRTHarness(t)
	ir := h.prepare("u1", "")
	res := h.window(ir, iamporttest.CardOK, false)
	require.NotNil(t, res.Payment)

	w := h.postJSON(rtPathComplete, res.Rsp, rtUser("u1"))
	got := rtDecode[core.IssuanceResult](t, w, http.StatusOK)
	assert.Equal(t, ir.Params.MerchantUID, got.MerchantUID)
	assert.Equal(t, "issued", got.Status)
	require.NotNil(t, got.Key)
	assert.NotEmpty(t, got.Key.CardNumber)
	assert.NotContains(t, w.Body.String(), ir.Params.CustomerUID, "no customer_uid in answers (R13)")

	// The callback again: the same answer (idempotent).
	w2 := h.postJSON(rtPathComplete, res.Rsp, rtUser("u1"))
	assert.Equal(t, w.Body.String(), w2.Body.String())

	key := rtDecode[core.KeyInfo](t, h.do(http.MethodGet, rtPathKey, "", rtUser("u1")), http.StatusOK)
	assert.Equal(t, got.Key.CardNumber, key.CardNumber)

	w = h.do(http.MethodDelete, rtPathKey, "", rtUser("u1"), rtHeader("Sec-Fetch-Site", "same-origin"))
	require.Equal(t, http.StatusNoContent, w.Code, w.Body.String())
	assert.Empty(t, w.Body.String())
	rtRequireHeaders(t, w)
	_, still := h.fake.Customer(ir.Params.CustomerUID)
	assert.False(t, still, "deleted at iamport too")

	rtProblem(t, h.do(http.MethodGet, rtPathKey, "", rtUser("u1")), http.StatusNotFound, codes.BillingKeyMissing)
	rtProblem(t, h.do(http.MethodDelete, rtPathKey, "", rtUser("u1")), http.StatusNotFound, codes.BillingKeyMissing)
}

// R2 through the route: imp_success=false with a real success is accepted; a success
// flag for a refused card is not.
func TestCompleteHintsAreHints(t *testing.T) {
	h := newRTHarness(t)
	ir := h.prepare("u1", "")
	res := h.window(ir, iamporttest.CardOK, false)
	body := map[string]any{"imp_uid": res.Rsp["imp_uid"], "merchant_uid": ir.Params.MerchantUID, "success": false, "imp_success": "false"}
	got := rtDecode[core.IssuanceResult](t, h.postJSON(rtPathComplete, body, rtUser("u1")), http.StatusOK)
	assert.Equal(t, "issued", got.Status)

	ir = h.prepare("u2", "")
	res = h.window(ir, iamporttest.CardRefused, false)
	body = map[string]any{"imp_uid": res.Rsp["imp_uid"], "merchant_uid": ir.Params.MerchantUID, "success": true}
	p := rtProblem(t, h.postJSON(rtPathComplete, body, rtUser("u2")), http.StatusUnprocessableEntity, codes.IssuanceFailed)
	assert.Equal(t, ir.Params.MerchantUID, p.MerchantUID)
	rtProblem(t, h.do(http.MethodGet, rtPathKey, "", rtUser("u2")), http.StatusNotFound, codes.BillingKeyMissing)
}

// R1: amount and customer_uid in the callback body change nothing.
func TestCompleteIgnoresBodyAmountAndCustomerUID(t *testing.T) {
	h := newRTHarness(t)
	irA, _ := h.register("alice")

	ir := h.prepare("bob", rtBasicPlan.ID)
	res := h.window(ir, iamporttest.CardOK, false)
	body := map[string]any{}
	for k, v := range res.Rsp {
		body[k] = v
	}
	body["amount"] = 1
	body["paid_amount"] = 1
	body["customer_uid"] = irA.Params.CustomerUID
	body["plan"] = "pro-monthly"
	got := rtDecode[core.IssuanceResult](t, h.postJSON(rtPathComplete, body, rtUser("bob")), http.StatusOK)
	require.Equal(t, "issued", got.Status)
	require.NotNil(t, got.FirstCharge)
	assert.Equal(t, rtBasicPlan.Amount, got.FirstCharge.Amount)
	paid := h.fake.PaymentsByMerchantUID(got.FirstCharge.MerchantUID)
	require.Len(t, paid, 1)
	assert.Equal(t, rtBasicPlan.Amount, paid[0].Amount)
	assert.Equal(t, ir.Params.CustomerUID, paid[0].CustomerUID, "bob's own key was charged")
}

func TestCompleteBodyRules(t *testing.T) {
	h := newRTHarness(t)
	u := rtUser("u1")
	same := rtHeader("Sec-Fetch-Site", "same-origin")

	rtProblem(t, h.do(http.MethodPost, rtPathComplete, `{"merchant_uid":"m1"}`, u, same, rtHeader("Content-Type", "text/plain")),
		http.StatusUnsupportedMediaType, codes.UnsupportedMediaType)
	rtProblem(t, h.do(http.MethodPost, rtPathComplete, `{"merchant_uid":"m1"}`, u, same),
		http.StatusUnsupportedMediaType, codes.UnsupportedMediaType)
	rtProblem(t, h.do(http.MethodPost, rtPathComplete, `{"merchant_uid":"m1"}`, u, same, rtHeader("Content-Type", "application/json; charset=latin1")),
		http.StatusUnsupportedMediaType, codes.UnsupportedMediaType)
	big := `{"merchant_uid":"m1","error_msg":"` + strings.Repeat("x", 20<<10) + `"}`
	rtProblem(t, h.do(http.MethodPost, rtPathComplete, big, u, same, rtHeader("Content-Type", "application/json")),
		http.StatusRequestEntityTooLarge, codes.BodyTooLarge)
	rtProblem(t, h.do(http.MethodPost, rtPathComplete, `{"merchant_uid":`, u, same, rtHeader("Content-Type", "application/json")),
		http.StatusBadRequest, codes.InvalidRequest)
	p := rtProblem(t, h.do(http.MethodPost, rtPathComplete, `{"imp_uid":"imp/../1"}`, u, same, rtHeader("Content-Type", "application/json; charset=UTF-8")),
		http.StatusBadRequest, codes.InvalidRequest)
	assert.ElementsMatch(t, []httpapi.FieldError{{Field: "imp_uid", Reason: "invalid"}, {Field: "merchant_uid", Reason: "required"}}, p.Errors)
	// A well-formed merchant_uid that is nobody's: 404.
	rtProblem(t, h.postJSON(rtPathComplete, map[string]any{"imp_uid": "imp_000000000001", "merchant_uid": "bki0000000000000nobody"}, u),
		http.StatusNotFound, codes.NotFound)
	assert.Zero(t, h.calls(), "rejected requests call nobody")
}

// The mobile redirect lands on a configured page with a result code (R15).
// The mobile return needs no session: a card app may bring the customer back in another
// browser. It lands on a configured page whatever happens.
func TestReturn(t *testing.T) {
	h := newRTHarness(t)
	success := func(result string) string {
		return "https://shop.example.com/account/billing?result=" + result + "&tab=card"
	}
	failure := func(result string) string {
		return "https://shop.example.com/account/billing/failed?result=" + result
	}
	follow := func(t *testing.T, rawURL string) string {
		t.Helper()
		u, err := url.Parse(rawURL)
		require.NoError(t, err)
		w := h.do(http.MethodGet, u.RequestURI(), "") // no session
		require.Equal(t, http.StatusSeeOther, w.Code, w.Body.String())
		rtRequireHeaders(t, w)
		assert.Empty(t, w.Body.String())
		return w.Header().Get("Location")
	}

	t.Run("issued", func(t *testing.T) {
		ir := h.prepare("m1", "")
		res := h.window(ir, iamporttest.CardOK, true)
		require.True(t, strings.HasPrefix(res.RedirectURL, "https://shop.example.com/iamport/return?"), res.RedirectURL)
		assert.Equal(t, success("issued"), follow(t, res.RedirectURL))
		rtDecode[core.KeyInfo](t, h.do(http.MethodGet, rtPathKey, "", rtUser("m1")), http.StatusOK)
		// Replayed, with or without the session: the same landing.
		assert.Equal(t, success("issued"), follow(t, res.RedirectURL))
	})
	t.Run("failed", func(t *testing.T) {
		ir := h.prepare("m2", "")
		res := h.window(ir, iamporttest.CardRefused, true)
		assert.Equal(t, failure("issuance_failed"), follow(t, res.RedirectURL))
	})
	t.Run("first charge declined", func(t *testing.T) {
		ir := h.prepare("m7", rtBasicPlan.ID)
		res := h.window(ir, iamporttest.CardDeclined, true)
		assert.Equal(t, failure("card_declined"), follow(t, res.RedirectURL))
		// The key itself was issued.
		rtDecode[core.KeyInfo](t, h.do(http.MethodGet, rtPathKey, "", rtUser("m7")), http.StatusOK)
	})
	t.Run("first charge in progress", func(t *testing.T) {
		ir := h.prepare("m8", rtBasicPlan.ID)
		res := h.window(ir, iamporttest.CardOK, true)
		h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{DropAfter: true})
		assert.Equal(t, success("charge_in_progress"), follow(t, res.RedirectURL), "the card is registered: not a failure")
	})
	t.Run("expired", func(t *testing.T) {
		ir := h.prepare("m3", "")
		res := h.window(ir, iamporttest.CardOK, true)
		h.clock.Advance(31 * time.Minute)
		t.Cleanup(func() { h.clock.Advance(-31 * time.Minute) })
		assert.Equal(t, failure("issuance_expired"), follow(t, res.RedirectURL))
	})
	t.Run("unknown", func(t *testing.T) {
		before := h.calls()
		assert.Equal(t, failure("not_found"), follow(t, rtPathReturn+"?merchant_uid=bki0000000000000nobody&imp_uid=imp_000000000001"))
		assert.Equal(t, before, h.calls(), "no iamport call for an issuance nobody prepared")
	})
	t.Run("invalid query", func(t *testing.T) {
		assert.Equal(t, failure("invalid_request"), follow(t, rtPathReturn+"?imp_uid=imp_1"))
		assert.Equal(t, failure("invalid_request"), follow(t, rtPathReturn+"?merchant_uid=a&merchant_uid=b"))
	})
	t.Run("hostile values", func(t *testing.T) {
		hostile := []string{
			"//evil.com", "/\\evil.com", "\\\\evil.com", "%2F%2Fevil.com", "https://shop.example.com@evil.com",
			"javascript:alert(1)", "https:evil.com", "\r\nLocation: https://evil.com", "http://evil.com/",
			"/%5Cevil.com", "　//evil.com", "..//evil.com", "?result=issued", "#@evil.com",
		}
		for _, v := range hostile {
			for _, param := range []string{"merchant_uid", "imp_uid", "error_msg", "error_code", "imp_success", "next", "redirect", "result", "return_to"} {
				q := url.Values{"merchant_uid": {"bki0000000000000nobody"}, "imp_uid": {"imp_000000000001"}}
				q.Set(param, v)
				loc := follow(t, rtPathReturn+"?"+q.Encode())
				u, err := url.Parse(loc)
				require.NoError(t, err, loc)
				assert.Equal(t, "https", u.Scheme, loc)
				assert.Equal(t, rtHost, u.Host, loc)
				assert.Nil(t, u.User, loc)
				assert.Contains(t, []string{"/account/billing", "/account/billing/failed"}, u.Path, loc)
				assert.Len(t, u.Query()["result"], 1, loc)
				assert.NotContains(t, loc, "evil", loc)
				assert.False(t, strings.ContainsAny(loc, "\r\n\\ "), loc)
			}
		}
	})
}

// R1 and R4 through POST /charges.
func TestCharges(t *testing.T) {
	h := newRTHarness(t)
	h.register("u1")
	againBefore := h.fake.Count(iamporttest.EPAgain)

	w := h.charge("u1", "order-1", map[string]any{"plan": rtBasicPlan.ID, "amount": 1, "name": "free", "customer_uid": "someone"})
	view := rtDecode[core.ChargeView](t, w, http.StatusCreated)
	assert.Equal(t, core.ChargePaid, view.Status)
	assert.Equal(t, rtBasicPlan.Amount, view.Amount, "the plan's price, not the body's (R1)")
	assert.Equal(t, "charges/"+view.MerchantUID, w.Header().Get("Location"))
	paid := h.fake.PaymentsByMerchantUID(view.MerchantUID)
	require.Len(t, paid, 1)
	assert.Equal(t, rtBasicPlan.Amount, paid[0].Amount)

	// The same key: the same answer, no second `again`.
	w2 := h.charge("u1", "order-1", map[string]any{"plan": rtBasicPlan.ID})
	assert.Equal(t, http.StatusCreated, w2.Code)
	assert.Equal(t, w.Body.String(), w2.Body.String())
	assert.Equal(t, againBefore+1, h.fake.Count(iamporttest.EPAgain))

	// The quoted (structured field) form of the same key is the same key.
	w3 := h.charge("u1", `"order-1"`, map[string]any{"plan": rtBasicPlan.ID})
	assert.Equal(t, w.Body.String(), w3.Body.String())

	// Listing and reading.
	list := rtDecode[struct {
		Charges []core.ChargeView `json:"charges"`
	}](t, h.do(http.MethodGet, rtPathCharges, "", rtUser("u1")), http.StatusOK)
	require.Len(t, list.Charges, 1)
	assert.Equal(t, view.MerchantUID, list.Charges[0].MerchantUID)
	one := rtDecode[core.ChargeView](t, h.do(http.MethodGet, rtPathCharges+"/"+view.MerchantUID, "", rtUser("u1")), http.StatusOK)
	assert.Equal(t, view, one)

	// Empty list is [] not null.
	w = h.do(http.MethodGet, rtPathCharges, "", rtUser("nobody"))
	require.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, `{"charges":[]}`+"\n", w.Body.String())
}

func TestChargeProblems(t *testing.T) {
	h := newRTHarness(t)
	h.register("u1")
	again := func() int { return h.fake.Count(iamporttest.EPAgain) }
	n := again()

	rtProblem(t, h.charge("u1", "", map[string]any{"plan": rtBasicPlan.ID}), http.StatusBadRequest, codes.IdempotencyKeyRequired)
	p := rtProblem(t, h.charge("u1", "tab\tkey", map[string]any{"plan": rtBasicPlan.ID}), http.StatusBadRequest, codes.InvalidRequest)
	assert.Equal(t, []httpapi.FieldError{{Field: "Idempotency-Key", Reason: "invalid"}}, p.Errors)
	p = rtProblem(t, h.charge("u1", strings.Repeat("k", 129), map[string]any{"plan": rtBasicPlan.ID}), http.StatusBadRequest, codes.InvalidRequest)
	assert.Equal(t, []httpapi.FieldError{{Field: "Idempotency-Key", Reason: "too_long"}}, p.Errors)
	rtProblem(t, h.charge("u1", "k1", map[string]any{"plan": rtBasicPlan.ID}, rtHeader("Idempotency-Key", "k2")), http.StatusBadRequest, codes.InvalidRequest)
	p = rtProblem(t, h.charge("u1", "k1", map[string]any{"amount": 100}), http.StatusBadRequest, codes.InvalidRequest)
	assert.Equal(t, []httpapi.FieldError{{Field: "plan", Reason: "required"}}, p.Errors)
	rtProblem(t, h.charge("u1", "k1", map[string]any{"plan": 7}), http.StatusBadRequest, codes.InvalidRequest)
	rtProblem(t, h.charge("u1", "k1", map[string]any{"plan": "gold"}), http.StatusUnprocessableEntity, codes.PlanUnknown)
	rtProblem(t, h.do(http.MethodPost, rtPathCharges, `plan=basic-monthly`, rtUser("u1"), rtHeader("Idempotency-Key", "k1"),
		rtHeader("Content-Type", "application/x-www-form-urlencoded")), http.StatusUnsupportedMediaType, codes.UnsupportedMediaType)
	rtProblem(t, h.do(http.MethodPost, rtPathCharges, `{"plan":"`+strings.Repeat("a", 17<<10)+`"}`, rtUser("u1"), rtHeader("Idempotency-Key", "k1"),
		rtHeader("Content-Type", "application/json")), http.StatusRequestEntityTooLarge, codes.BodyTooLarge)
	assert.Equal(t, n, again(), "no `again` for a rejected request")

	// The same key with another plan.
	rtDecode[core.ChargeView](t, h.charge("u1", "k-reuse", map[string]any{"plan": rtBasicPlan.ID}), http.StatusCreated)
	rtProblem(t, h.charge("u1", "k-reuse", map[string]any{"plan": "pro-monthly"}), http.StatusUnprocessableEntity, codes.IdempotencyKeyReused)

	// No billing key.
	rtProblem(t, h.charge("nokey", "k1", map[string]any{"plan": rtBasicPlan.ID}), http.StatusNotFound, codes.BillingKeyMissing)
}

// One rule for idempotency keys (internal/idrule): POST /charges accepts exactly the keys
// Service.Charge accepts, and each refuses the others with invalid_request.
func TestIdempotencyKeyOneRule(t *testing.T) {
	h := newRTHarness(t)
	h.register("u1")
	keys := []string{"renewal-2024-05", "renewal 2024 05", "k", strings.Repeat("k", 128), strings.Repeat("k", 129),
		"tab\tkey", "한글키", `quote"inside`, "x\x7f"}
	for i, key := range keys {
		plan := rtBasicPlan.ID
		_, goErr := h.svc.Charge(context.Background(), core.ChargeRequest{UserID: "u1", PlanID: plan, IdempotencyKey: key})
		goRefused := core.ErrorCode(goErr) == codes.InvalidRequest
		// The route takes the same key in its own charge (another user's namespace would
		// be the same rule; a fresh key per case keeps the two charges apart).
		h.register(fmt.Sprint("r", i))
		w := h.charge(fmt.Sprint("r", i), key, map[string]any{"plan": plan})
		routeRefused := w.Code == http.StatusBadRequest
		assert.Equal(t, goRefused, routeRefused, "key %q: Go API refused %v (%v), route answered %d %s", key, goRefused, goErr, w.Code, w.Body.String())
	}
}

func TestChargeDeclinedAndUnknown(t *testing.T) {
	h := newRTHarness(t)
	ir := h.prepare("u1", "")
	res := h.window(ir, iamporttest.CardDeclined, false)
	rtDecode[core.IssuanceResult](t, h.postJSON(rtPathComplete, res.Rsp, rtUser("u1")), http.StatusOK)

	w := h.charge("u1", "d1", map[string]any{"plan": rtBasicPlan.ID})
	p := rtProblem(t, w, http.StatusPaymentRequired, codes.CardDeclined)
	require.NotEmpty(t, p.MerchantUID)
	view := rtDecode[core.ChargeView](t, h.do(http.MethodGet, rtPathCharges+"/"+p.MerchantUID, "", rtUser("u1")), http.StatusOK)
	assert.Equal(t, core.ChargeFailed, view.Status)
	// Replayed: the same problem.
	assert.Equal(t, w.Body.String(), h.charge("u1", "d1", map[string]any{"plan": rtBasicPlan.ID}).Body.String())

	// An outcome we cannot know: 202 with the charge, never a failure (R5).
	h2 := newRTHarness(t)
	h2.register("u2")
	h2.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{DropAfter: true})
	h2.fake.Inject(iamporttest.EPFindPayment, iamporttest.Fault{Status: 503})
	w = h2.charge("u2", "x1", map[string]any{"plan": rtBasicPlan.ID})
	view = rtDecode[core.ChargeView](t, w, http.StatusAccepted)
	assert.Contains(t, []core.ChargeStatus{core.ChargeUnknown, core.ChargeCharging, core.ChargePending}, view.Status)
	assert.Equal(t, "charges/"+view.MerchantUID, w.Header().Get("Location"))
}

// Each kind of failed charge answers with its own code and status, naming the charge:
// a declined card, a request iamport refused (nothing charged), a key iamport no longer
// has. A failure on our side once the row exists answers 202 with the charge.
func TestChargeFailureCodes(t *testing.T) {
	h := newRTHarness(t)
	ir, _ := h.register("u1")
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{Code: -1, Message: "잠시 후 다시 시도해 주세요."})
	p := rtProblem(t, h.charge("u1", "r1", map[string]any{"plan": rtBasicPlan.ID}), http.StatusBadGateway, codes.ChargeRefused)
	require.NotEmpty(t, p.MerchantUID)
	view := rtDecode[core.ChargeView](t, h.do(http.MethodGet, rtPathCharges+"/"+p.MerchantUID, "", rtUser("u1")), http.StatusOK)
	assert.Equal(t, codes.ChargeRefused, view.FailCode)

	require.True(t, h.fake.DeleteCustomerKey(ir.Params.CustomerUID))
	p = rtProblem(t, h.charge("u1", "g1", map[string]any{"plan": rtBasicPlan.ID}), http.StatusGone, codes.BillingKeyGone)
	require.NotEmpty(t, p.MerchantUID)
	rtProblem(t, h.do(http.MethodGet, rtPathKey, "", rtUser("u1")), http.StatusNotFound, codes.BillingKeyMissing)

	// The store fails after `again` paid: 202, the charge, and the same key reads it later.
	failing := &rtFailOnPaid{}
	h2 := newRTHarness(t, func(c *core.Config) { failing.Store = c.Store; c.Store = failing })
	h2.register("u2")
	w := h2.charge("u2", "s1", map[string]any{"plan": rtBasicPlan.ID})
	v := rtDecode[core.ChargeView](t, w, http.StatusAccepted)
	assert.NotEmpty(t, v.MerchantUID)
	assert.Equal(t, "charges/"+v.MerchantUID, w.Header().Get("Location"))

	// The store fails creating the row, which it may or may not have committed: 500, and
	// the caller is told to repeat with the same key, on both routes that charge.
	h3 := newRTHarness(t, func(c *core.Config) { c.Store = &rtFailOnCreate{Store: c.Store} })
	h3.register("u3")
	p = rtProblem(t, h3.charge("u3", "c1", map[string]any{"plan": rtBasicPlan.ID}), http.StatusInternalServerError, codes.Internal)
	assert.Contains(t, p.Detail, "same Idempotency-Key")
}

// rtFailOnCreate fails every CreateCharge and CreateKeyedCharge.
type rtFailOnCreate struct{ store.Store }

func (s *rtFailOnCreate) CreateCharge(context.Context, *store.Charge, store.Lease) (*store.Charge, bool, error) {
	return nil, false, errors.New("connection reset")
}

func (s *rtFailOnCreate) CreateKeyedCharge(context.Context, *store.Charge, store.Lease) (*store.Charge, bool, error) {
	return nil, false, errors.New("connection reset")
}

// rtFailOnPaid fails the first write that records a charge as paid.
type rtFailOnPaid struct {
	store.Store
	once sync.Once
}

func (s *rtFailOnPaid) UpdateCharge(ctx context.Context, mu string, from []store.ChargeStatus, u store.ChargeUpdate) (*store.Charge, error) {
	fail := false
	if u.Status == store.ChargePaid {
		s.once.Do(func() { fail = true })
	}
	if fail {
		return nil, errors.New("connection to the database lost")
	}
	return s.Store.UpdateCharge(ctx, mu, from, u)
}

// R4 through the route: many concurrent requests with one key, one `again`.
func TestChargeConcurrentSameKey(t *testing.T) {
	h := newRTHarness(t)
	h.register("u1")
	n := h.fake.Count(iamporttest.EPAgain)
	var wg sync.WaitGroup
	mus := make([]string, 50)
	for i := range mus {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, ct := rtJSON(map[string]any{"plan": rtBasicPlan.ID})
			w := h.do(http.MethodPost, rtPathCharges, body, ct, rtUser("u1"), rtHeader("Idempotency-Key", "same"))
			var v struct {
				MerchantUID string `json:"merchant_uid"`
			}
			_ = json.Unmarshal(w.Body.Bytes(), &v)
			mus[i] = v.MerchantUID
		}()
	}
	wg.Wait()
	assert.Equal(t, n+1, h.fake.Count(iamporttest.EPAgain))
	for _, mu := range mus {
		assert.Equal(t, mus[0], mu)
	}
}

// R16: cross-site POST and DELETE are refused before anything happens; same-origin and
// non-browser requests pass; the webhook is exempt.
func TestCrossSite(t *testing.T) {
	h := newRTHarness(t)
	h.register("u1")
	again := h.fake.Count(iamporttest.EPAgain)
	body, ct := rtJSON(map[string]any{"plan": rtBasicPlan.ID})
	post := func(key string, opts ...rtOpt) int {
		opts = append([]rtOpt{ct, rtUser("u1"), rtHeader("Idempotency-Key", key)}, opts...)
		return h.do(http.MethodPost, rtPathCharges, body, opts...).Code
	}
	refused := [][]rtOpt{
		{rtHeader("Sec-Fetch-Site", "cross-site")},
		{rtHeader("Sec-Fetch-Site", "same-site")},
		{rtHeader("Sec-Fetch-Site", "weird")},
		{rtHeader("Sec-Fetch-Site", "cross-site"), rtHeader("Origin", "https://shop.example.com")},
		{rtHeader("Origin", "https://evil.com")},
		{rtHeader("Origin", "http://shop.example.com.evil.com")},
		{rtHeader("Origin", "null")},
		{rtHeader("Origin", "https://shop.example.com:8443")},
		{rtHeader("Origin", "https://shop.example.com@evil.com")},
		{rtHeader("Origin", "https://shop.example.com"), rtHeader("Origin", "https://evil.com")},
	}
	for i, opts := range refused {
		w := h.do(http.MethodPost, rtPathCharges, body, append([]rtOpt{ct, rtUser("u1"), rtHeader("Idempotency-Key", fmt.Sprint("x", i))}, opts...)...)
		rtProblem(t, w, http.StatusForbidden, codes.CrossSiteRequest)
	}
	assert.Equal(t, again, h.fake.Count(iamporttest.EPAgain), "no charge from a cross-site request")

	w := h.do(http.MethodDelete, rtPathKey, "", rtUser("u1"), rtHeader("Sec-Fetch-Site", "cross-site"))
	rtProblem(t, w, http.StatusForbidden, codes.CrossSiteRequest)
	w = h.do(http.MethodPost, rtPathComplete, `{"merchant_uid":"m1"}`, ct, rtUser("u1"), rtHeader("Origin", "https://evil.com"))
	rtProblem(t, w, http.StatusForbidden, codes.CrossSiteRequest)
	rtDecode[core.KeyInfo](t, h.do(http.MethodGet, rtPathKey, "", rtUser("u1")), http.StatusOK)

	assert.Equal(t, http.StatusCreated, post("ok1", rtHeader("Sec-Fetch-Site", "same-origin")))
	assert.Equal(t, http.StatusCreated, post("ok2", rtHeader("Sec-Fetch-Site", "none")))
	assert.Equal(t, http.StatusCreated, post("ok3"))
	assert.Equal(t, http.StatusCreated, post("ok4", rtHeader("Origin", "https://shop.example.com")))
	assert.Equal(t, http.StatusCreated, post("ok5", rtHeader("Origin", "HTTPS://Shop.Example.com:443")))

	// A cross-site GET cannot charge or delete: it only reads.
	rtDecode[core.KeyInfo](t, h.do(http.MethodGet, rtPathKey, "", rtUser("u1"), rtHeader("Sec-Fetch-Site", "cross-site")), http.StatusOK)

	// The webhook is exempt: iamport's server is cross-site by nature.
	imp := h.fake.PaymentsByMerchantUID(rtDecode[struct {
		Charges []core.ChargeView `json:"charges"`
	}](t, h.do(http.MethodGet, rtPathCharges, "", rtUser("u1")), http.StatusOK).Charges[0].MerchantUID)[0].ImpUID
	wb, wct := rtJSON(map[string]any{"imp_uid": imp, "status": "paid"})
	w = h.do(http.MethodPost, rtPathWebhook, wb, wct, rtHeader("Sec-Fetch-Site", "cross-site"), rtHeader("Origin", "https://evil.com"))
	assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
}

// A proxy that rewrites Host: the configured PublicURL's origin is trusted.
func TestCrossSitePublicOrigin(t *testing.T) {
	h := newRTHarness(t)
	h.register("u1")
	body, ct := rtJSON(map[string]any{"plan": rtBasicPlan.ID})
	r := func(origin string) int {
		req := []rtOpt{ct, rtUser("u1"), rtHeader("Idempotency-Key", origin), rtHeader("Origin", origin),
			func(r *http.Request) { r.Host = "backend:8080" }}
		return h.do(http.MethodPost, rtPathCharges, body, req...).Code
	}
	assert.Equal(t, http.StatusCreated, r("https://shop.example.com"))
	assert.Equal(t, http.StatusForbidden, r("http://shop.example.com"))
}

func TestWebhook(t *testing.T) {
	h := newRTHarness(t)
	h.register("u1")
	w := h.charge("u1", "c1", map[string]any{"plan": rtBasicPlan.ID})
	view := rtDecode[core.ChargeView](t, w, http.StatusCreated)
	imp := h.fake.PaymentsByMerchantUID(view.MerchantUID)[0].ImpUID
	paidEvents := h.events.Count(event.ChargePaid, "")

	send := func(ct, body string, opts ...rtOpt) (int, string) {
		opts = append([]rtOpt{rtHeader("Content-Type", ct)}, opts...)
		w := h.do(http.MethodPost, rtPathWebhook, body, opts...)
		rtRequireHeaders(t, w)
		return w.Code, w.Body.String()
	}

	code, body := send("application/json", `{"imp_uid":"`+imp+`","merchant_uid":"`+view.MerchantUID+`","status":"paid"}`)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, `{"status":"ok"}`+"\n", body)
	code, _ = send("application/x-www-form-urlencoded", "imp_uid="+imp+"&merchant_uid="+view.MerchantUID+"&status=paid")
	assert.Equal(t, http.StatusOK, code)
	code, _ = send("application/json; charset=utf-8", `{"imp_uid":"`+imp+`","status":"paid","extra":{"x":[1,2]}}`)
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, paidEvents, h.events.Count(event.ChargePaid, ""), "a paid charge stays paid, once")

	// Unknown payment: harmless, 200.
	code, _ = send("application/json", `{"imp_uid":"imp_999999999999","merchant_uid":"order-elsewhere.1","status":"paid"}`)
	assert.Equal(t, http.StatusOK, code)

	// Malformed: 400 with a code; wrong type: 415; too large: 413.
	for _, b := range []string{`{"imp_uid":`, `[]`, `{"imp_uid":7}`, `{"merchant_uid":"m"}`, `{"imp_uid":"a b"}`, `{}`, ``} {
		code, body = send("application/json", b)
		assert.Equal(t, http.StatusBadRequest, code, b)
		assert.Contains(t, body, `"code":"invalid_request"`, b)
	}
	for _, b := range []string{"imp_uid=%zz", "imp_uid=a&imp_uid=b", "status=paid"} {
		code, _ = send("application/x-www-form-urlencoded", b)
		assert.Equal(t, http.StatusBadRequest, code, b)
	}
	for _, ct := range []string{"text/plain", "", "multipart/form-data; boundary=x", "application/jsonx"} {
		code, body = send(ct, `{"imp_uid":"`+imp+`"}`)
		assert.Equal(t, http.StatusUnsupportedMediaType, code, ct)
		assert.Contains(t, body, `"code":"unsupported_media_type"`)
	}
	code, _ = send("application/json", `{"imp_uid":"`+imp+`","pad":"`+strings.Repeat("x", 17<<10)+`"}`)
	assert.Equal(t, http.StatusRequestEntityTooLarge, code)

	// iamport failing: 503 so that iamport resends (R9). (A minute on, so the copy
	// applied above is looked up again rather than answered from the inbox.)
	h.clock.Advance(2 * time.Minute)
	h.fake.Inject(iamporttest.EPGetPayment, iamporttest.Fault{Status: 500})
	code, body = send("application/json", `{"imp_uid":"`+imp+`","status":"paid"}`)
	assert.Equal(t, http.StatusServiceUnavailable, code, body)
	assert.Contains(t, body, `"code":"upstream_unavailable"`)
}

// R8/R9: the fake delivers the notifications of a charge and of an issuance 100 times each
// to the route over loopback; one transition, one event.
func TestWebhookReplayedFromFake(t *testing.T) {
	h := newRTHarness(t)
	srv := rtLoopback(t, h)
	h.fake.SetWebhook(iamporttest.WebhookConfig{URL: srv + rtPathWebhook, Format: iamporttest.WebhookForm, Duplicates: 99, Reorder: true})

	_, res := h.register("u1")
	require.True(t, h.fake.WaitWebhooks(10*time.Second))
	view := rtDecode[core.ChargeView](t, h.charge("u1", "c1", map[string]any{"plan": rtBasicPlan.ID}), http.StatusCreated)
	require.True(t, h.fake.WaitWebhooks(10*time.Second))

	hooks := h.fake.Webhooks()
	require.Len(t, hooks, 200)
	for _, wh := range hooks {
		require.NoError(t, wh.Err)
		require.Equal(t, http.StatusOK, wh.HTTPStatus, wh)
	}
	assert.Equal(t, 1, h.events.Count(event.ChargePaid, ""))
	assert.Equal(t, 1, h.events.Count(event.BillingKeyIssued, ""))
	assert.Zero(t, h.events.Count(event.PaymentMismatch, ""))
	assert.Equal(t, res.Payment.ImpUID, hooks[0].ImpUID)
	list := rtDecode[struct {
		Charges []core.ChargeView `json:"charges"`
	}](t, h.do(http.MethodGet, rtPathCharges, "", rtUser("u1")), http.StatusOK)
	require.Len(t, list.Charges, 1, "the issuance's notification is not a charge")
	assert.Equal(t, view.MerchantUID, list.Charges[0].MerchantUID)

	// JSON bodies too.
	h.fake.SetWebhook(iamporttest.WebhookConfig{URL: srv + rtPathWebhook, Format: iamporttest.WebhookJSON, Duplicates: 9})
	rtDecode[core.ChargeView](t, h.charge("u1", "c2", map[string]any{"plan": rtBasicPlan.ID}), http.StatusCreated)
	require.True(t, h.fake.WaitWebhooks(10*time.Second))
	for _, wh := range h.fake.Webhooks()[200:] {
		require.Equal(t, http.StatusOK, wh.HTTPStatus)
	}
	assert.Equal(t, 2, h.events.Count(event.ChargePaid, ""))
}

// R7: a slow iamport cannot hold the webhook beyond its deadline.
func TestWebhookDeadline(t *testing.T) {
	restore := httpapi.SetWebhookTimeoutForTest(50 * time.Millisecond)
	defer restore()
	h := newRTHarness(t)
	h.register("u1")
	view := rtDecode[core.ChargeView](t, h.charge("u1", "c1", map[string]any{"plan": rtBasicPlan.ID}), http.StatusCreated)
	imp := h.fake.PaymentsByMerchantUID(view.MerchantUID)[0].ImpUID
	h.fake.Inject(iamporttest.EPGetPayment, iamporttest.Fault{Latency: 30 * time.Second})
	body, ct := rtJSON(map[string]any{"imp_uid": imp, "status": "paid"})
	w := h.do(http.MethodPost, rtPathWebhook, body, ct)
	rtProblem(t, w, http.StatusServiceUnavailable, codes.UpstreamUnavailable)
}

// R10: the allowlist checks the peer, or the entry written by the outermost trusted proxy.
func TestWebhookSourceAllowlist(t *testing.T) {
	iamportIP := netip.MustParsePrefix("52.78.100.19/32")
	for _, c := range []struct {
		name   string
		hops   int
		peer   string
		xff    []string
		status int
	}{
		{"peer allowed", 0, "52.78.100.19:40000", nil, http.StatusOK},
		{"peer foreign", 0, "203.0.113.9:40000", nil, http.StatusForbidden},
		{"spoofed xff from foreign peer", 0, "203.0.113.9:40000", []string{"52.78.100.19"}, http.StatusForbidden},
		{"mapped v6 peer", 0, "[::ffff:52.78.100.19]:40000", nil, http.StatusOK},
		{"one proxy honoured", 1, "10.0.0.1:5000", []string{"52.78.100.19"}, http.StatusOK},
		{"one proxy, spoofed leftmost", 1, "10.0.0.1:5000", []string{"52.78.100.19, 203.0.113.9"}, http.StatusForbidden},
		{"one proxy, spoofed line", 1, "10.0.0.1:5000", []string{"52.78.100.19", "203.0.113.9"}, http.StatusForbidden},
		{"one proxy, client spoofs then real", 1, "10.0.0.1:5000", []string{"203.0.113.9, 52.78.100.19"}, http.StatusOK},
		{"two proxies", 2, "10.0.0.2:5000", []string{"1.2.3.4, 52.78.100.19, 10.0.0.1"}, http.StatusOK},
		{"two proxies, too few entries", 2, "10.0.0.2:5000", []string{"52.78.100.19"}, http.StatusForbidden},
		{"proxy but no header", 1, "52.78.100.19:5000", nil, http.StatusForbidden},
		{"garbage entry", 1, "10.0.0.1:5000", []string{"evil"}, http.StatusForbidden},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newRTHarness(t, func(cfg *core.Config) {
				cfg.WebhookAllowlist = []netip.Prefix{iamportIP}
				cfg.TrustedProxyHops = c.hops
			})
			opts := []rtOpt{rtHeader("Content-Type", "application/json"), rtFrom(c.peer)}
			for _, x := range c.xff {
				opts = append(opts, rtHeader("X-Forwarded-For", x))
			}
			w := h.do(http.MethodPost, rtPathWebhook, `{"imp_uid":"imp_999999999999","status":"paid"}`, opts...)
			if c.status == http.StatusForbidden {
				rtProblem(t, w, http.StatusForbidden, codes.WebhookSourceForbidden)
				assert.Zero(t, h.calls(), "refused before any lookup")
			} else {
				assert.Equal(t, c.status, w.Code, w.Body.String())
			}
		})
	}
}

// R11: another user's merchant_uid, imp_uid or key gets 404 and causes no iamport call.
func TestIDOR(t *testing.T) {
	h := newRTHarness(t)
	irA, resA := h.register("alice")
	viewA := rtDecode[core.ChargeView](t, h.charge("alice", "a1", map[string]any{"plan": rtBasicPlan.ID}), http.StatusCreated)
	irPending := h.prepare("alice", "") // alice's pending issuance, window done, not completed
	resPending := h.window(irPending, iamporttest.CardOK, true)
	h.register("bob")

	before := h.calls()
	againBefore := h.fake.Count(iamporttest.EPAgain)
	mallory := rtUser("bob")

	// complete with alice's merchant_uid (settled and pending), with or without her imp_uid.
	for _, body := range []map[string]any{
		{"imp_uid": resA.Rsp["imp_uid"], "merchant_uid": irA.Params.MerchantUID},
		{"merchant_uid": irA.Params.MerchantUID},
		{"imp_uid": resPending.Payment.ImpUID, "merchant_uid": irPending.Params.MerchantUID},
		{"merchant_uid": irPending.Params.MerchantUID, "customer_uid": irPending.Params.CustomerUID},
	} {
		rtProblem(t, h.postJSON(rtPathComplete, body, mallory), http.StatusNotFound, codes.NotFound)
	}
	// (The mobile return has no user at all: like the webhook, it completes the issuance its
	// unguessable merchant_uid names, as far as iamport confirms it; see TestReturn.)
	// alice's charge.
	rtProblem(t, h.do(http.MethodGet, rtPathCharges+"/"+viewA.MerchantUID, "", mallory), http.StatusNotFound, codes.NotFound)
	rtProblem(t, h.do(http.MethodGet, rtPathCharges+"/"+irA.Params.MerchantUID, "", mallory), http.StatusNotFound, codes.NotFound)
	rtProblem(t, h.do(http.MethodGet, rtPathCharges+"/..%2F"+viewA.MerchantUID, "", mallory), http.StatusNotFound, codes.NotFound)
	list := rtDecode[struct {
		Charges []core.ChargeView `json:"charges"`
	}](t, h.do(http.MethodGet, rtPathCharges, "", mallory), http.StatusOK)
	assert.Empty(t, list.Charges)
	// alice's idempotency key under bob's account is bob's own key: no charge of alice's.
	assert.Equal(t, before, h.calls(), "no iamport call for a foreign record")

	// bob's own routes still act on bob's records only.
	w := h.charge("bob", "a1", map[string]any{"plan": rtBasicPlan.ID, "customer_uid": irA.Params.CustomerUID})
	viewB := rtDecode[core.ChargeView](t, w, http.StatusCreated)
	assert.NotEqual(t, viewA.MerchantUID, viewB.MerchantUID)
	pay := h.fake.PaymentsByMerchantUID(viewB.MerchantUID)
	require.Len(t, pay, 1)
	assert.NotEqual(t, irA.Params.CustomerUID, pay[0].CustomerUID, "bob's key, whatever the body says")
	assert.Equal(t, againBefore+1, h.fake.Count(iamporttest.EPAgain))

	// bob deletes his key; alice's stays, at iamport too.
	require.Equal(t, http.StatusNoContent, h.do(http.MethodDelete, rtPathKey, "", mallory).Code)
	_, ok := h.fake.Customer(irA.Params.CustomerUID)
	assert.True(t, ok)
	rtDecode[core.KeyInfo](t, h.do(http.MethodGet, rtPathKey, "", rtUser("alice")), http.StatusOK)
}

// A failure inside the service is a generic 500: the cause's text never reaches the body.
func TestInternalErrorIsGeneric(t *testing.T) {
	h := newRTHarness(t, func(cfg *core.Config) { cfg.Store = rtFailingStore{Store: cfg.Store} })
	w := h.do(http.MethodGet, rtPathCharges, "", rtUser("u1"))
	p := rtProblem(t, w, http.StatusInternalServerError, codes.Internal)
	assert.NotContains(t, w.Body.String(), "secret-db-host")
	assert.Equal(t, "Something went wrong on our side.", p.Detail)
}

type rtFailingStore struct{ store.Store }

func (rtFailingStore) SearchCharges(context.Context, store.ChargeQuery) (store.ChargePage, error) {
	return store.ChargePage{}, errors.New("dial tcp secret-db-host:5432: connection refused")
}

// A loopback server so the fake can deliver webhooks to the routes.
func rtLoopback(t *testing.T, h *rtHarness) string {
	t.Helper()
	srv := httptest.NewServer(h.mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// R11 for imp_uid: bob names his own pending issuance with alice's imp_uid (already
// recorded on her settled issuance). 404, no iamport call, and nothing changes.
func TestIDORForeignImpUID(t *testing.T) {
	h := newRTHarness(t)
	_, resA := h.register("alice")
	bobPending := h.prepare("bob", "")
	before := h.calls()
	p := rtProblem(t, h.postJSON(rtPathComplete, map[string]any{"imp_uid": resA.Rsp["imp_uid"], "merchant_uid": bobPending.Params.MerchantUID}, rtUser("bob")),
		http.StatusNotFound, codes.NotFound)
	assert.Empty(t, p.MerchantUID)
	assert.Equal(t, before, h.calls(), "no iamport call for a foreign imp_uid")
	// The imp_uid of alice's charge, too.
	viewA := rtDecode[core.ChargeView](t, h.charge("alice", "a1", map[string]any{"plan": rtBasicPlan.ID}), http.StatusCreated)
	chargeImp := h.fake.PaymentsByMerchantUID(viewA.MerchantUID)[0].ImpUID
	before2 := h.calls()
	rtProblem(t, h.postJSON(rtPathComplete, map[string]any{"imp_uid": chargeImp, "merchant_uid": bobPending.Params.MerchantUID}, rtUser("bob")),
		http.StatusNotFound, codes.NotFound)
	assert.Equal(t, before2, h.calls(), "no iamport call for a charge's imp_uid")
	rtProblem(t, h.do(http.MethodGet, rtPathKey, "", rtUser("bob")), http.StatusNotFound, codes.BillingKeyMissing)
	rtDecode[core.KeyInfo](t, h.do(http.MethodGet, rtPathKey, "", rtUser("alice")), http.StatusOK)
}

// R13: the log lines of a run through the routes, failures included, hold no secret and
// no full customer_uid.
func TestRouteLogsHoldNoSecrets(t *testing.T) {
	h := newRTHarness(t)
	ir, _ := h.register("u1")
	view := rtDecode[core.ChargeView](t, h.charge("u1", "c1", map[string]any{"plan": rtBasicPlan.ID}), http.StatusCreated)
	imp := h.fake.PaymentsByMerchantUID(view.MerchantUID)[0].ImpUID
	h.fake.Inject(iamporttest.EPGetPayment, iamporttest.Fault{Status: 500})
	body, ct := rtJSON(map[string]any{"imp_uid": imp, "status": "paid"})
	require.Equal(t, http.StatusServiceUnavailable, h.do(http.MethodPost, rtPathWebhook, body, ct).Code)
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{Status: 502})
	h.fake.Inject(iamporttest.EPFindPayment, iamporttest.Fault{Status: 502})
	h.charge("u1", "c2", map[string]any{"plan": rtBasicPlan.ID})
	h.fake.Inject(iamporttest.EPDeleteCustomer, iamporttest.Fault{Status: 500})
	h.do(http.MethodDelete, rtPathKey, "", rtUser("u1"))

	logs := h.logs.String()
	require.NotEmpty(t, logs, "the failures above were logged")
	assert.NotContains(t, logs, iamporttest.Secret)
	assert.NotContains(t, logs, ir.Params.CustomerUID)
	assert.NotContains(t, strings.ToLower(logs), "authorization")
}

// A router that hands a GET route a HEAD request (Go's ServeMux does) gets 405: a HEAD
// never creates an issuance record or reaches the service.
func TestRouteRefusesOtherMethods(t *testing.T) {
	h := newRTHarness(t)
	before := h.calls()
	w := h.do(http.MethodHead, rtPathRequest, "", rtUser("u1"))
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	assert.Equal(t, http.MethodGet, w.Header().Get("Allow"))
	assert.Equal(t, httpapi.ProblemContentType, w.Header().Get("Content-Type"))
	assert.Equal(t, before, h.calls(), "no call to iamport")
}
