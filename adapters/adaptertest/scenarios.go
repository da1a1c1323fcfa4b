package adaptertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/internal/httpapi"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/adapters/internal/shim"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
)

// scenario is one named case. compare: its transcript must match the Reference row's.
type scenario struct {
	name    string
	compare bool
	run     func(t *testing.T, cl *client)
}

var scenarios = []scenario{
	{"success_path", true, successPath},
	{"mobile_redirect", true, mobileRedirect},
	{"unauthenticated", true, unauthenticated},
	{"problems", true, problems},
	{"cross_site", true, crossSite},
	{"body_limit", true, bodyLimit},
	{"webhook_without_user", true, webhookWithoutUser},
	{"buyer_hook_panic", true, buyerHookPanic},
	{"subscriptions", true, subscriptions},
	{"admin", true, admin},
	{"concurrent", false, concurrent},
}

// sameOrigin is what a browser sends with a fetch from the merchant's own page.
var sameOrigin = map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "https://" + Host}

// request asks for the issue-billing page data and checks what the buyer hook returned
// reached the parameters.
func requestIssuance(t *testing.T, cl *client, step, user string) core.IssuanceRequest {
	t.Helper()
	var ir core.IssuanceRequest
	cl.ok(cl.do(step, call{Method: http.MethodGet, Path: Prefix + "/billing-key/request", User: user}), http.StatusOK, &ir)
	require.Equal(t, iamporttest.MerchantCode, ir.IMPCode)
	require.NotEmpty(t, ir.Params.MerchantUID)
	require.NotEmpty(t, ir.Params.CustomerUID)
	assert.Equal(t, callbackURL+"/return", ir.Params.MRedirectURL)
	// The middleware stored the user in the native context; the hook read it back.
	assert.Equal(t, user+"@example.com", ir.Params.BuyerEmail)
	return ir
}

// window does in the fake what the payment window does with a card.
func window(t *testing.T, cl *client, ir core.IssuanceRequest, card string, mobile bool) *iamporttest.IssueResult {
	t.Helper()
	p := ir.Params
	res, err := cl.h.Fake.IssueBillingKey(iamporttest.IssueRequest{
		PG: p.PG, PayMethod: p.PayMethod, MerchantUID: p.MerchantUID, CustomerUID: p.CustomerUID,
		Name: p.Name, Amount: p.Amount, BuyerName: p.BuyerName, BuyerEmail: p.BuyerEmail,
		BuyerTel: p.BuyerTel, NoticeURL: p.NoticeURL, MRedirectURL: p.MRedirectURL,
		CardNumber: card, Mobile: mobile,
	})
	require.NoError(t, err)
	return res
}

func jsonOf(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}

// registerCard gives user a billing key through the PC flow.
func registerCard(t *testing.T, cl *client, user string) {
	t.Helper()
	ir := requestIssuance(t, cl, "register: request "+user, user)
	res := window(t, cl, ir, iamporttest.CardOK, false)
	var out core.IssuanceResult
	cl.ok(cl.do("register: complete "+user, call{
		Method: http.MethodPost, Path: Prefix + "/billing-key/complete", User: user, Header: sameOrigin,
		Body: jsonOf(t, map[string]any{"imp_uid": res.Rsp["imp_uid"], "merchant_uid": ir.Params.MerchantUID}),
	}), http.StatusOK, &out)
	require.Equal(t, "issued", out.Status)
}

// successPath walks every user route: issue a key, complete it, read it, charge with an
// Idempotency-Key (twice), read the charge, list, delete the key.
func successPath(t *testing.T, cl *client) {
	const user = "alice"
	ir := requestIssuance(t, cl, "GET /billing-key/request", user)
	assert.Equal(t, "card", ir.Params.PayMethod)
	assert.True(t, strings.HasPrefix(ir.Params.PG, "kcp_billing"), ir.Params.PG)

	res := window(t, cl, ir, iamporttest.CardOK, false)
	var issued core.IssuanceResult
	cl.ok(cl.do("POST /billing-key/complete", call{
		Method: http.MethodPost, Path: Prefix + "/billing-key/complete", User: user, Header: sameOrigin,
		Body: jsonOf(t, res.Rsp),
	}), http.StatusOK, &issued)
	assert.Equal(t, ir.Params.MerchantUID, issued.MerchantUID)
	require.Equal(t, "issued", issued.Status)
	require.NotNil(t, issued.Key)

	var key core.KeyInfo
	cl.ok(cl.do("GET /billing-key", call{Method: http.MethodGet, Path: Prefix + "/billing-key", User: user}), http.StatusOK, &key)
	assert.Equal(t, issued.Key.CardNumber, key.CardNumber)
	assert.NotContains(t, key.CardNumber, "1111-1111-1111", "the card number is masked")

	// The amount in the body changes nothing (R1); the plan's price is charged.
	chargeBody := []byte(`{"plan":"basic","amount":1}`)
	idem := map[string]string{"Sec-Fetch-Site": "same-origin", "Idempotency-Key": "order-0001"}
	first := cl.do("POST /charges", call{Method: http.MethodPost, Path: Prefix + "/charges", User: user, Header: idem, Body: chargeBody})
	require.Contains(t, []int{http.StatusOK, http.StatusCreated}, first.Status, "body %s", first.Body)
	var charge core.ChargeView
	cl.jsonBody(first, &charge)
	assert.Equal(t, core.ChargePaid, charge.Status)
	assert.Equal(t, PlanBasic.Amount, charge.Amount)

	again := cl.do("POST /charges again", call{Method: http.MethodPost, Path: Prefix + "/charges", User: user, Header: idem, Body: chargeBody})
	require.Contains(t, []int{http.StatusOK, http.StatusCreated}, again.Status, "body %s", again.Body)
	var repeat core.ChargeView
	cl.jsonBody(again, &repeat)
	assert.Equal(t, charge.MerchantUID, repeat.MerchantUID, "the same Idempotency-Key returns the same charge")
	assert.Len(t, cl.h.Fake.PaymentsByMerchantUID(charge.MerchantUID), 1, "one payment upstream")

	var got core.ChargeView
	cl.ok(cl.do("GET /charges/{merchant_uid}", call{
		Method: http.MethodGet, Path: Prefix + "/charges/" + url.PathEscape(charge.MerchantUID), User: user,
	}), http.StatusOK, &got)
	assert.Equal(t, charge.MerchantUID, got.MerchantUID)
	assert.Equal(t, core.ChargePaid, got.Status)

	list := cl.do("GET /charges", call{Method: http.MethodGet, Path: Prefix + "/charges", User: user})
	require.Equal(t, http.StatusOK, list.Status, "body %s", list.Body)
	assert.Contains(t, string(list.Body), charge.MerchantUID)

	// Another user sees neither the key nor the charge (R11).
	foreign := cl.do("GET /charges/{merchant_uid} as another user", call{
		Method: http.MethodGet, Path: Prefix + "/charges/" + url.PathEscape(charge.MerchantUID), User: "mallory",
	})
	cl.problem(foreign, http.StatusNotFound, codes.NotFound)

	del := cl.do("DELETE /billing-key", call{Method: http.MethodDelete, Path: Prefix + "/billing-key", User: user, Header: sameOrigin})
	require.Contains(t, []int{http.StatusOK, http.StatusNoContent}, del.Status, "body %s", del.Body)
	_, exists := cl.h.Fake.Customer(ir.Params.CustomerUID)
	assert.False(t, exists, "the key is deleted at iamport too")

	gone := cl.do("GET /billing-key after delete", call{Method: http.MethodGet, Path: Prefix + "/billing-key", User: user})
	assert.GreaterOrEqual(t, gone.Status, 400, "body %s", gone.Body)
	assert.Equal(t, httpapi.ProblemContentType, gone.Header.Get("Content-Type"))

	for _, ex := range cl.log {
		assert.Equal(t, MerchantHeaderValue, ex.Header.Get(MerchantHeader), "%s: the merchant's header survives", ex.Step)
		assert.Equal(t, "no-store", ex.Header.Get("Cache-Control"), "%s", ex.Step)
	}
}

// subscriptions walks the subscription routes: subscribe (twice under one key), list,
// read, change the plan, cancel at period end, resume, cancel now.
func subscriptions(t *testing.T, cl *client) {
	const user = "sam"
	registerCard(t, cl, user)
	idem := map[string]string{"Sec-Fetch-Site": "same-origin", "Idempotency-Key": "sub-0001"}
	body := []byte(`{"plan":"monthly"}`)
	var sub core.SubscriptionView
	cl.ok(cl.do("POST /subscriptions", call{Method: http.MethodPost, Path: Prefix + "/subscriptions", User: user, Header: idem, Body: body}),
		http.StatusCreated, &sub)
	assert.Equal(t, core.SubscriptionActive, sub.Status)
	require.Len(t, sub.Charges, 1)
	assert.Equal(t, PlanMonthly.Amount, sub.Charges[0].Amount)
	var again core.SubscriptionView
	cl.ok(cl.do("POST /subscriptions again", call{Method: http.MethodPost, Path: Prefix + "/subscriptions", User: user, Header: idem, Body: body}),
		http.StatusCreated, &again)
	assert.Equal(t, sub.ID, again.ID)

	cl.problem(cl.do("POST /subscriptions, second of the group", call{Method: http.MethodPost, Path: Prefix + "/subscriptions", User: user,
		Header: map[string]string{"Sec-Fetch-Site": "same-origin", "Idempotency-Key": "sub-0002"}, Body: []byte(`{"plan":"monthly-pro"}`)}),
		http.StatusConflict, codes.SubscriptionExists)
	list := cl.do("GET /subscriptions", call{Method: http.MethodGet, Path: Prefix + "/subscriptions", User: user})
	require.Equal(t, http.StatusOK, list.Status, "body %s", list.Body)
	assert.Contains(t, string(list.Body), sub.ID)

	path := Prefix + "/subscriptions/" + url.PathEscape(sub.ID)
	var got core.SubscriptionView
	cl.ok(cl.do("GET /subscriptions/{id}", call{Method: http.MethodGet, Path: path, User: user}), http.StatusOK, &got)
	assert.Equal(t, sub.ID, got.ID)
	cl.problem(cl.do("GET /subscriptions/{id} as another user", call{Method: http.MethodGet, Path: path, User: "mallory"}),
		http.StatusNotFound, codes.NotFound)

	cl.ok(cl.do("POST /subscriptions/{id}/plan", call{Method: http.MethodPost, Path: path + "/plan", User: user, Header: sameOrigin,
		Body: []byte(`{"plan":"monthly-pro"}`)}), http.StatusOK, &got)
	assert.Equal(t, PlanMonthlyPro.ID, got.NextPlanID)
	cl.ok(cl.do("POST /subscriptions/{id}/cancel", call{Method: http.MethodPost, Path: path + "/cancel", User: user, Header: sameOrigin,
		Body: []byte(`{"at_period_end":true}`)}), http.StatusOK, &got)
	assert.Equal(t, core.SubscriptionCanceled, got.Status)
	cl.ok(cl.do("POST /subscriptions/{id}/resume", call{Method: http.MethodPost, Path: path + "/resume", User: user, Header: sameOrigin,
		Body: []byte(`{}`)}), http.StatusOK, &got)
	assert.Equal(t, core.SubscriptionActive, got.Status)
	cl.problem(cl.do("DELETE /billing-key of a live subscription", call{Method: http.MethodDelete, Path: Prefix + "/billing-key", User: user, Header: sameOrigin}),
		http.StatusConflict, codes.BillingKeyInUse)
	cl.ok(cl.do("POST /subscriptions/{id}/cancel now", call{Method: http.MethodPost, Path: path + "/cancel", User: user, Header: sameOrigin,
		Body: []byte(`{"at_period_end":false}`)}), http.StatusOK, &got)
	assert.Equal(t, core.SubscriptionEnded, got.Status)
	cl.problem(cl.do("POST /subscriptions/{id}/resume after the end", call{Method: http.MethodPost, Path: path + "/resume", User: user, Header: sameOrigin,
		Body: []byte(`{}`)}), http.StatusConflict, codes.SubscriptionState)
}

// admin walks the staff's routes: search, one charge's record, a partial refund (twice
// under one key), one too large, reconcile, subscriptions, the inbox and a re-apply; and
// that nobody but an operator gets in.
func admin(t *testing.T, cl *client) {
	registerCard(t, cl, "ann")
	var charge core.ChargeView
	cl.ok(cl.do("POST /charges", call{Method: http.MethodPost, Path: Prefix + "/charges", User: "ann",
		Header: map[string]string{"Sec-Fetch-Site": "same-origin", "Idempotency-Key": "order-1"}, Body: []byte(`{"plan":"basic"}`)}),
		http.StatusCreated, &charge)
	const op = "staff-kim"
	base := AdminPrefix + "/charges/" + url.PathEscape(charge.MerchantUID)

	cl.problem(cl.do("admin without an operator", call{Method: http.MethodGet, Path: AdminPrefix + "/charges", User: "ann"}),
		http.StatusUnauthorized, codes.Unauthenticated)
	list := cl.do("GET admin /charges?user_id=", call{Method: http.MethodGet, Path: AdminPrefix + "/charges?user_id=ann&status=paid", Operator: op})
	require.Equal(t, http.StatusOK, list.Status, "body %s", list.Body)
	assert.Contains(t, string(list.Body), charge.MerchantUID)
	cl.problem(cl.do("GET admin /charges bad status", call{Method: http.MethodGet, Path: AdminPrefix + "/charges?status=rich", Operator: op}),
		http.StatusBadRequest, codes.InvalidRequest)

	var rec core.ChargeRecord
	cl.ok(cl.do("GET admin /charges/{merchant_uid}", call{Method: http.MethodGet, Path: base, Operator: op}), http.StatusOK, &rec)
	assert.Equal(t, "ann", rec.Charge.UserID)
	assert.NotEmpty(t, rec.History)

	refund := map[string]string{"Sec-Fetch-Site": "same-origin", "Idempotency-Key": "refund-1"}
	var rv core.RefundView
	cl.ok(cl.do("POST admin refund", call{Method: http.MethodPost, Path: base + "/refunds", Operator: op, Header: refund,
		Body: []byte(`{"amount":1000,"reason":"damaged item"}`)}), http.StatusCreated, &rv)
	assert.Equal(t, core.RefundSucceeded, rv.Status)
	assert.Equal(t, op, rv.Operator)
	cl.ok(cl.do("POST admin refund again", call{Method: http.MethodPost, Path: base + "/refunds", Operator: op, Header: refund,
		Body: []byte(`{"amount":1000,"reason":"damaged item"}`)}), http.StatusCreated, &rv)
	cl.problem(cl.do("POST admin refund too large", call{Method: http.MethodPost, Path: base + "/refunds", Operator: op,
		Header: map[string]string{"Sec-Fetch-Site": "same-origin", "Idempotency-Key": "refund-2"},
		Body:   []byte(`{"amount":100000,"reason":"oops"}`)}), http.StatusUnprocessableEntity, codes.RefundExceedsBalance)
	cl.problem(cl.do("POST admin refund cross-site", call{Method: http.MethodPost, Path: base + "/refunds", Operator: op,
		Header: map[string]string{"Sec-Fetch-Site": "cross-site", "Idempotency-Key": "refund-3"},
		Body:   []byte(`{"amount":100,"reason":"x"}`)}), http.StatusForbidden, codes.CrossSiteRequest)
	assert.EqualValues(t, 1000, cl.h.Fake.PaymentsByMerchantUID(charge.MerchantUID)[0].CancelAmount, "refunded once")

	var ac core.AdminCharge
	cl.ok(cl.do("POST admin reconcile", call{Method: http.MethodPost, Path: base + "/reconcile", Operator: op, Header: sameOrigin}), http.StatusOK, &ac)
	assert.EqualValues(t, 1000, ac.Refunded)

	subs := cl.do("GET admin /subscriptions", call{Method: http.MethodGet, Path: AdminPrefix + "/subscriptions?status=past_due", Operator: op})
	assert.Equal(t, http.StatusOK, subs.Status, "body %s", subs.Body)
	assert.JSONEq(t, `{"subscriptions":[]}`, string(subs.Body))

	// A webhook for the charge lands in the inbox; an operator applies it again.
	ps := cl.h.Fake.PaymentsByMerchantUID(charge.MerchantUID)
	hook := cl.do("POST webhook", call{Method: http.MethodPost, Path: WebhookPath,
		Body: jsonOf(t, map[string]string{"imp_uid": ps[0].ImpUID, "merchant_uid": charge.MerchantUID, "status": "paid"})})
	require.Equal(t, http.StatusOK, hook.Status, "body %s", hook.Body)
	var inbox struct {
		Notifications []core.NotificationView `json:"notifications"`
	}
	cl.ok(cl.do("GET admin /notifications", call{Method: http.MethodGet, Path: AdminPrefix + "/notifications?merchant_uid=" + charge.MerchantUID, Operator: op}),
		http.StatusOK, &inbox)
	require.Len(t, inbox.Notifications, 1)
	var nv core.NotificationView
	cl.ok(cl.do("POST admin reapply", call{Method: http.MethodPost, Path: AdminPrefix + "/notifications/" + inbox.Notifications[0].ID + "/reapply",
		Operator: op, Header: sameOrigin}), http.StatusOK, &nv)
	assert.Equal(t, "applied", nv.Result)
	cl.problem(cl.do("POST admin reapply unknown", call{Method: http.MethodPost, Path: AdminPrefix + "/notifications/bkw0000/reapply",
		Operator: op, Header: sameOrigin}), http.StatusNotFound, codes.NotFound)
}

// mobileRedirect follows the mobile flow: the fake's redirect to m_redirect_url lands on
// the return route, which answers 303 to the configured pages. The browser comes back
// without a session (a card app's own browser): the return needs none.
func mobileRedirect(t *testing.T, cl *client) {
	for _, tc := range []struct {
		user, card, target string
	}{
		{"bob", iamporttest.CardOK, successURL + "&result=" + httpapi.ResultIssued},
		{"carol", iamporttest.CardRefused, failureURL + "?result=" + codes.IssuanceFailed},
	} {
		ir := requestIssuance(t, cl, "GET /billing-key/request "+tc.user, tc.user)
		res := window(t, cl, ir, tc.card, true)
		u, err := url.Parse(res.RedirectURL)
		require.NoError(t, err)
		require.Equal(t, callbackURL+"/return", u.Scheme+"://"+u.Host+u.Path)
		ex := cl.do("GET /return "+tc.user+" without a session", call{
			Method: http.MethodGet, Path: ReturnPath + "?" + u.RawQuery,
		})
		require.Equal(t, http.StatusSeeOther, ex.Status, "body %s", ex.Body)
		assert.Equal(t, tc.target, ex.Header.Get("Location"), "the configured page, for %s", tc.user)
	}
	var key core.KeyInfo
	cl.ok(cl.do("GET /billing-key bob", call{Method: http.MethodGet, Path: Prefix + "/billing-key", User: "bob"}), http.StatusOK, &key)
	assert.NotEmpty(t, key.CardNumber)
}

// userRoutes is one request per user route of the table.
func userRoutes() []call {
	return []call{
		{Method: http.MethodGet, Path: Prefix + "/billing-key/request"},
		{Method: http.MethodPost, Path: Prefix + "/billing-key/complete", Body: []byte(`{"imp_uid":"imp_123456789012","merchant_uid":"m1"}`)},
		{Method: http.MethodGet, Path: Prefix + "/billing-key"},
		{Method: http.MethodDelete, Path: Prefix + "/billing-key"},
		{Method: http.MethodPost, Path: Prefix + "/charges", Body: []byte(`{"plan":"basic"}`), Header: map[string]string{"Idempotency-Key": "k1"}},
		{Method: http.MethodGet, Path: Prefix + "/charges"},
		{Method: http.MethodGet, Path: Prefix + "/charges/m1"},
	}
}

// unauthenticated: without a user (no header, or a hook error) every user route is 401.
func unauthenticated(t *testing.T, cl *client) {
	for _, user := range []string{"", ErrorUser} {
		for _, c := range userRoutes() {
			c.User = user
			step := fmt.Sprintf("%s %s as %q", c.Method, strings.TrimPrefix(c.Path, Prefix), user)
			cl.problem(cl.do(step, c), http.StatusUnauthorized, codes.Unauthenticated)
		}
	}
	// The return needs no user: an issuance nobody prepared lands on the failure page,
	// without a call to iamport.
	ex := cl.do("GET /return for an unknown issuance", call{
		Method: http.MethodGet, Path: ReturnPath + "?imp_uid=imp_123456789012&merchant_uid=m1&imp_success=true",
	})
	require.Equal(t, http.StatusSeeOther, ex.Status, "body %s", ex.Body)
	assert.Equal(t, failureURL+"?result="+codes.NotFound, ex.Header.Get("Location"))
	assert.Zero(t, len(cl.h.Fake.Calls()), "no call to iamport")
}

// problems: a handful of errors, each with its status, content type and code.
func problems(t *testing.T, cl *client) {
	const user = "dave"
	post := func(step, path string, body []byte, typ string, hdr map[string]string) *Exchange {
		h := map[string]string{"Sec-Fetch-Site": "same-origin"}
		for k, v := range hdr {
			h[k] = v
		}
		return cl.do(step, call{Method: http.MethodPost, Path: Prefix + path, User: user, Body: body, Type: typ, Header: h})
	}
	cl.problem(cl.do("unknown plan on request", call{Method: http.MethodGet, Path: Prefix + "/billing-key/request?plan=gold", User: user}),
		http.StatusUnprocessableEntity, codes.PlanUnknown)
	cl.problem(post("charge without Idempotency-Key", "/charges", []byte(`{"plan":"basic"}`), "", nil),
		http.StatusBadRequest, codes.IdempotencyKeyRequired)
	cl.problem(post("charge of an unknown plan", "/charges", []byte(`{"plan":"gold"}`), "", map[string]string{"Idempotency-Key": "p-1"}),
		http.StatusUnprocessableEntity, codes.PlanUnknown)
	cl.problem(post("charge without a billing key", "/charges", []byte(`{"plan":"basic"}`), "", map[string]string{"Idempotency-Key": "p-2"}),
		http.StatusNotFound, codes.BillingKeyMissing)
	cl.problem(post("complete as text/plain", "/billing-key/complete", []byte(`imp_uid=x`), "text/plain", nil),
		http.StatusUnsupportedMediaType, codes.UnsupportedMediaType)
	cl.problem(post("complete with broken JSON", "/billing-key/complete", []byte(`{"imp_uid":`), "", nil),
		http.StatusBadRequest, codes.InvalidRequest)
	cl.problem(post("complete of an unknown issuance", "/billing-key/complete", []byte(`{"imp_uid":"imp_123456789012","merchant_uid":"nosuchissuance"}`), "", nil),
		http.StatusNotFound, codes.NotFound)
	cl.problem(cl.do("unknown charge", call{Method: http.MethodGet, Path: Prefix + "/charges/nosuchcharge", User: user}),
		http.StatusNotFound, codes.NotFound)
	cl.problem(cl.do("escaped path value", call{Method: http.MethodGet, Path: Prefix + "/charges/no%20such", User: user}),
		http.StatusNotFound, codes.NotFound)
	for _, ex := range cl.log {
		assert.Equal(t, MerchantHeaderValue, ex.Header.Get(MerchantHeader), "%s: the merchant's header survives", ex.Step)
	}
}

// crossSite: cookie-authenticated POST and DELETE refuse cross-site browser requests; the
// webhook does not.
func crossSite(t *testing.T, cl *client) {
	const user = "erin"
	registerCard(t, cl, user)
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site", "Idempotency-Key": "x-1"},
		{"Origin": "https://evil.example", "Idempotency-Key": "x-2"},
	} {
		cl.problem(cl.do("cross-site POST /charges "+hdr["Idempotency-Key"], call{
			Method: http.MethodPost, Path: Prefix + "/charges", User: user, Header: hdr, Body: []byte(`{"plan":"basic"}`),
		}), http.StatusForbidden, codes.CrossSiteRequest)
	}
	cl.problem(cl.do("cross-site DELETE /billing-key", call{
		Method: http.MethodDelete, Path: Prefix + "/billing-key", User: user, Header: map[string]string{"Sec-Fetch-Site": "cross-site"},
	}), http.StatusForbidden, codes.CrossSiteRequest)
	assert.Zero(t, cl.h.Fake.Count(iamporttest.EPAgain), "nothing charged")
	assert.Zero(t, cl.h.Fake.Count(iamporttest.EPDeleteCustomer), "nothing deleted")

	var key core.KeyInfo
	cl.ok(cl.do("GET /billing-key still there", call{Method: http.MethodGet, Path: Prefix + "/billing-key", User: user}), http.StatusOK, &key)

	hook := cl.do("cross-site webhook", call{
		Method: http.MethodPost, Path: WebhookPath, Header: map[string]string{"Sec-Fetch-Site": "cross-site"},
		Body: []byte(`{"imp_uid":"imp_000000000000","merchant_uid":"unknown","status":"paid"}`),
	})
	assert.NotEqual(t, http.StatusForbidden, hook.Status, "body %s", hook.Body)
	assert.Less(t, hook.Status, 500, "body %s", hook.Body)
}

// bodyLimit: a body over Config.MaxBodyBytes is refused with the 413 problem, declared
// or streamed, on a customer's route and on the webhook.
func bodyLimit(t *testing.T, cl *client) {
	const user = "frank"
	big := []byte(`{"plan":"basic","pad":"` + strings.Repeat("x", int(BodyLimit)) + `"}`)
	idem := map[string]string{"Sec-Fetch-Site": "same-origin", "Idempotency-Key": "big-1"}
	cl.problem(cl.do("oversized POST /charges", call{Method: http.MethodPost, Path: Prefix + "/charges", User: user, Header: idem, Body: big}),
		http.StatusRequestEntityTooLarge, codes.BodyTooLarge)
	cl.problem(cl.do("oversized chunked POST /charges", call{Method: http.MethodPost, Path: Prefix + "/charges", User: user, Header: idem, Body: big, Chunked: true}),
		http.StatusRequestEntityTooLarge, codes.BodyTooLarge)
	cl.problem(cl.do("oversized webhook", call{Method: http.MethodPost, Path: WebhookPath, Body: big}),
		http.StatusRequestEntityTooLarge, codes.BodyTooLarge)
	huge := bytes.Repeat([]byte("y"), 4*int(BodyLimit))
	cl.problem(cl.do("huge body", call{Method: http.MethodPost, Path: Prefix + "/billing-key/complete", User: user, Header: idem, Body: huge}),
		http.StatusRequestEntityTooLarge, codes.BodyTooLarge)
	// Just under the cap is read (and fails later for its own reasons).
	fits := []byte(`{"plan":"basic","pad":"` + strings.Repeat("x", int(BodyLimit)-40) + `"}`)
	under := cl.do("POST /charges under the cap", call{Method: http.MethodPost, Path: Prefix + "/charges", User: user, Header: idem, Body: fits, Chunked: true})
	assert.NotEqual(t, http.StatusRequestEntityTooLarge, under.Status, "body %s", under.Body)
	assert.Zero(t, cl.h.Fake.Count(iamporttest.EPAgain))
}

// webhookWithoutUser: the webhook answers without any user, for a known payment (the
// issuance's), an unknown one, and a malformed body; in JSON and in form encoding.
func webhookWithoutUser(t *testing.T, cl *client) {
	const user = "grace"
	ir := requestIssuance(t, cl, "GET /billing-key/request", user)
	res := window(t, cl, ir, iamporttest.CardOK, false)
	impUID, _ := res.Rsp["imp_uid"].(string)
	require.NotEmpty(t, impUID)

	known := cl.do("webhook for the issuance", call{Method: http.MethodPost, Path: WebhookPath,
		Body: jsonOf(t, map[string]string{"imp_uid": impUID, "merchant_uid": ir.Params.MerchantUID, "status": "paid"})})
	assert.Equal(t, http.StatusOK, known.Status, "body %s", known.Body)

	form := url.Values{"imp_uid": {impUID}, "merchant_uid": {ir.Params.MerchantUID}, "status": {"paid"}}
	again := cl.do("webhook again, as a form", call{Method: http.MethodPost, Path: WebhookPath,
		Body: []byte(form.Encode()), Type: "application/x-www-form-urlencoded"})
	assert.Equal(t, http.StatusOK, again.Status, "body %s", again.Body)

	// The webhook settled the issuance: the user now has a key.
	var key core.KeyInfo
	cl.ok(cl.do("GET /billing-key after the webhook", call{Method: http.MethodGet, Path: Prefix + "/billing-key", User: user}), http.StatusOK, &key)

	malformed := cl.do("malformed webhook", call{Method: http.MethodPost, Path: WebhookPath, Body: []byte(`{"imp_uid":`)})
	assert.GreaterOrEqual(t, malformed.Status, 400, "body %s", malformed.Body)
	assert.Less(t, malformed.Status, 500, "body %s", malformed.Body)
	assert.Equal(t, httpapi.ProblemContentType, malformed.Header.Get("Content-Type"))

	assert.Empty(t, known.Header.Get(MerchantHeader), "the webhook is mounted outside the merchant's group")
}

// buyerHookPanic: a panic inside a hook is recovered by the adapter, answered with core's
// 500 problem, and handed to the error hook; the server keeps serving.
func buyerHookPanic(t *testing.T, cl *client) {
	ex := cl.do("GET /billing-key with a panicking hook", call{Method: http.MethodGet, Path: Prefix + "/billing-key", User: PanicUser})
	cl.problem(ex, http.StatusInternalServerError, codes.Internal)
	assert.Equal(t, MerchantHeaderValue, ex.Header.Get(MerchantHeader), "the merchant's headers survive the panic")
	errs := cl.h.Errors()
	require.Len(t, errs, 1, "the error hook is called once")
	var perr *shim.PanicError
	require.True(t, errors.As(errs[0], &perr), "%T %v", errs[0], errs[0])
	assert.NotEmpty(t, perr.Stack)
	assert.NotContains(t, string(ex.Body), "on purpose", "the panic value is not shown to the user")

	cl.ok(cl.do("GET /billing-key/request after the panic", call{Method: http.MethodGet, Path: Prefix + "/billing-key/request", User: "heidi"}), http.StatusOK, nil)
}

// concurrent: many requests at once through the adapter, for -race: issue-page data for
// different users, charges with distinct keys, and one key asked for many times at once.
func concurrent(t *testing.T, cl *client) {
	const user = "ivan"
	registerCard(t, cl, user)
	const n = 50
	var wg sync.WaitGroup
	type result struct {
		status int
		body   []byte
		err    error
	}
	results := make([]result, 3*n)
	for i := 0; i < n; i++ {
		wg.Add(3)
		go func() {
			defer wg.Done()
			ex, err := cl.send("request", call{Method: http.MethodGet, Path: Prefix + "/billing-key/request", User: fmt.Sprintf("user%02d", i)})
			if err == nil {
				results[i] = result{ex.Status, ex.Body, nil}
			} else {
				results[i] = result{err: err}
			}
		}()
		go func() {
			defer wg.Done()
			ex, err := cl.send("charge", call{Method: http.MethodPost, Path: Prefix + "/charges", User: user, Body: []byte(`{"plan":"basic"}`),
				Header: map[string]string{"Idempotency-Key": fmt.Sprintf("distinct-%02d", i)}})
			if err == nil {
				results[n+i] = result{ex.Status, ex.Body, nil}
			} else {
				results[n+i] = result{err: err}
			}
		}()
		go func() {
			defer wg.Done()
			ex, err := cl.send("same key", call{Method: http.MethodPost, Path: Prefix + "/charges", User: user, Body: []byte(`{"plan":"pro"}`),
				Header: map[string]string{"Idempotency-Key": "shared"}})
			if err == nil {
				results[2*n+i] = result{ex.Status, ex.Body, nil}
			} else {
				results[2*n+i] = result{err: err}
			}
		}()
	}
	wg.Wait()
	merchantUIDs := map[string]bool{}
	shared := map[string]bool{}
	for i, r := range results {
		require.NoError(t, r.err, "request %d", i)
		switch {
		case i < n:
			assert.Equal(t, http.StatusOK, r.status, "request %d: %s", i, r.body)
			var ir core.IssuanceRequest
			if assert.NoError(t, json.Unmarshal(r.body, &ir)) {
				merchantUIDs[ir.Params.MerchantUID] = true
			}
		case i < 2*n:
			assert.Equal(t, http.StatusCreated, r.status, "charge %d: %s", i-n, r.body)
		default:
			// Concurrent requests of one key may find the first still in flight (202).
			if r.status == http.StatusCreated || r.status == http.StatusAccepted {
				var cv core.ChargeView
				if assert.NoError(t, json.Unmarshal(r.body, &cv)) {
					shared[cv.MerchantUID] = true
				}
			} else {
				assert.Equal(t, http.StatusConflict, r.status, "same key %d: %s", i-2*n, r.body)
			}
		}
	}
	assert.Len(t, merchantUIDs, n, "one issuance per request")
	assert.Len(t, shared, 1, "one charge per Idempotency-Key")
	assert.Equal(t, n+1, cl.h.Fake.Count(iamporttest.EPAgain), "one again per distinct key, one for the shared key")
}
