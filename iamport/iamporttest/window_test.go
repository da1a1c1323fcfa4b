package iamporttest

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport"
)

const testOrigin = "http://shop.test:8080"

// windowEnv is a fake served over loopback, mounted at prefix ("" = root).
type windowEnv struct {
	t      *testing.T
	fake   *Fake
	srv    *httptest.Server
	base   string // absolute base of the fake (srv.URL + prefix)
	client *http.Client
}

func newWindowEnv(t *testing.T, prefix string) *windowEnv {
	t.Helper()
	f := New()
	var h http.Handler = f.Handler()
	if prefix != "" {
		mux := http.NewServeMux()
		mux.Handle(prefix+"/", http.StripPrefix(prefix, h))
		h = mux
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.Close()
		f.Close()
	})
	return &windowEnv{
		t:    t,
		fake: f,
		srv:  srv,
		base: srv.URL + prefix,
		client: &http.Client{
			Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

type page struct {
	status int
	header http.Header
	body   string
	url    *url.URL // the URL that was fetched
}

func (e *windowEnv) do(req *http.Request) page {
	e.t.Helper()
	resp, err := e.client.Do(req)
	require.NoError(e.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err)
	return page{status: resp.StatusCode, header: resp.Header, body: string(b), url: req.URL}
}

func (e *windowEnv) get(u string) page {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(e.t, err)
	return e.do(req)
}

func (e *windowEnv) postForm(u string, form url.Values) page {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.do(req)
}

// resolve resolves a relative reference (a Location, a form action) against the page's URL,
// as a browser does.
func (p page) resolve(t *testing.T, ref string) string {
	t.Helper()
	u, err := p.url.Parse(ref)
	require.NoError(t, err)
	return u.String()
}

// open posts request_pay params the way the shim does.
func (e *windowEnv) open(params map[string]any, mode string) page {
	e.t.Helper()
	js, err := json.Marshal(params)
	require.NoError(e.t, err)
	return e.postForm(e.base+"/window/open", url.Values{
		"imp_code":   {MerchantCode},
		"params":     {string(js)},
		"mode":       {mode},
		"origin":     {testOrigin},
		"request_id": {"req123"},
	})
}

// openWindow opens a window and follows the 303 to its card form.
func (e *windowEnv) openWindow(params map[string]any, mode string) (form page, sid string) {
	e.t.Helper()
	p := e.open(params, mode)
	require.Equal(e.t, http.StatusSeeOther, p.status, p.body)
	loc := p.header.Get("Location")
	require.True(e.t, strings.HasPrefix(loc, "pay?sid="), "relative Location, got %q", loc)
	form = e.get(p.resolve(e.t, loc))
	require.Equal(e.t, http.StatusOK, form.status, form.body)
	return form, strings.TrimPrefix(loc, "pay?sid=")
}

func card(number string) url.Values {
	return url.Values{
		"card_number": {number},
		"card_expiry": {"12/39"},
		"card_birth":  {"900101"},
		"card_pwd":    {"12"},
	}
}

// submit posts the card form of the window page p (action "submit", relative).
func (e *windowEnv) submit(form page, sid string, fields url.Values) page {
	e.t.Helper()
	fields.Set("sid", sid)
	return e.postForm(form.resolve(e.t, "submit"), fields)
}

func (e *windowEnv) cancel(form page, sid string) page {
	e.t.Helper()
	return e.postForm(form.resolve(e.t, "cancel"), url.Values{"sid": {sid}})
}

var resultJSONRe = regexp.MustCompile(`(?s)<pre id="result-json">(.*?)</pre>`)

// rspOf extracts the rsp object a result page posts to its parent.
func rspOf(t *testing.T, p page) map[string]any {
	t.Helper()
	require.Equal(t, http.StatusOK, p.status, p.body)
	m := resultJSONRe.FindStringSubmatch(p.body)
	require.NotNil(t, m, "no result JSON in %s", p.body)
	var rsp map[string]any
	require.NoError(t, json.Unmarshal([]byte(html.UnescapeString(m[1])), &rsp))
	assert.Contains(t, p.body, `data-target-origin="`+testOrigin+`"`)
	assert.Contains(t, p.body, `data-request-id="req123"`)
	assert.Contains(t, p.body, `<script src="static/result.js"></script>`)
	return rsp
}

func issueParams(merchantUID, customerUID string) map[string]any {
	return map[string]any{
		"pg":           "kcp_billing",
		"pay_method":   "card",
		"merchant_uid": merchantUID,
		"name":         "월간 구독",
		"amount":       0,
		"customer_uid": customerUID,
		"buyer_name":   "홍길동",
		"buyer_email":  "buyer@example.com",
		"buyer_tel":    "010-1234-5678",
		"custom_data":  map[string]any{"plan": "basic"},
		"company":      "테스트상점",
	}
}

func TestWindowShim(t *testing.T) {
	e := newWindowEnv(t, "")
	p := e.get(e.base + "/iamport.js")
	require.Equal(t, http.StatusOK, p.status)
	assert.True(t, strings.HasPrefix(p.header.Get("Content-Type"), "application/javascript"), p.header.Get("Content-Type"))
	for _, s := range []string{"window.IMP", "init:", "request_pay:", "currentScript", "/window/open", "postMessage", "iamporttest:result", "m_redirect_url"} {
		assert.Contains(t, p.body, s)
	}
	for _, f := range []string{"window.css", "window.js", "result.js"} {
		s := e.get(e.base + "/window/static/" + f)
		assert.Equal(t, http.StatusOK, s.status, f)
		assert.NotEmpty(t, s.body, f)
	}
	assert.Equal(t, http.StatusNotFound, e.get(e.base+"/window/static/nope.js").status)
	assert.Equal(t, http.StatusMethodNotAllowed, e.postForm(e.base+"/window/pay", url.Values{}).status)
	assert.Equal(t, http.StatusMethodNotAllowed, e.get(e.base+"/window/submit").status)
}

func TestWindowPage(t *testing.T) {
	e := newWindowEnv(t, "")
	params := issueParams("order_page_1", "cust_0123456789abcdef")
	params["name"] = `<script>alert("x")</script>`
	form, sid := e.openWindow(params, "pc")
	b := form.body
	for _, id := range []string{"card-form", "card-number", "card-expiry", "card-birth", "card-pwd", "card-submit", "card-cancel", "test-cards", "test-mode-banner"} {
		assert.Contains(t, b, `id="`+id+`"`)
	}
	assert.Contains(t, b, "TEST MODE — FAKE KCP BILLING WINDOW, nothing is real")
	assert.Contains(t, b, "테스트상점")
	assert.Contains(t, b, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;")
	assert.NotContains(t, b, `<script>alert`)
	assert.NotContains(t, b, "cust_0123456789abcdef", "customer_uid shown in full")
	assert.Contains(t, b, "cust…cdef")
	assert.Contains(t, b, `name="sid" value="`+sid+`"`)
	assert.Contains(t, b, `action="submit"`)
	assert.Contains(t, b, `action="cancel"`)
	assert.Contains(t, b, `href="static/window.css"`)
	assert.Contains(t, b, `src="static/window.js"`)
	for _, c := range TestCards() {
		assert.Contains(t, b, c.Number)
	}
	assert.Contains(t, form.header.Get("Cache-Control"), "no-store")
	assert.Empty(t, form.header.Get("X-Frame-Options"), "the window must be frameable")

	// Default company; the mobile page shows the amount big.
	delete(params, "company")
	params["amount"] = 12000
	params["m_redirect_url"] = "https://shop.test/return"
	mob, _ := e.openWindow(params, "mobile")
	assert.Contains(t, mob.body, `<h1 id="company">상점</h1>`)
	assert.Contains(t, mob.body, `class="amount-big">12,000원`)
}

func TestWindowSubmitPC(t *testing.T) {
	e := newWindowEnv(t, "")
	tests := []struct {
		name       string
		card       string
		success    bool
		keyStored  bool
		wantStatus iamport.PaymentStatus
	}{
		{"ok", CardOK, true, true, iamport.StatusPaid},
		{"ok digits only", strings.ReplaceAll(CardOK, "-", ""), true, true, iamport.StatusPaid},
		{"refused", CardRefused, false, false, iamport.StatusFailed},
		{"declined at charges", CardDeclined, true, true, iamport.StatusPaid},
		{"declined after 2", CardDeclineAfter + "02", true, true, iamport.StatusPaid},
		{"unknown number", "5555-5555-5555-4444", false, false, iamport.StatusFailed},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu := "order_pc_" + string(rune('a'+i))
			cu := "cust_pc_" + tc.name + "_0123456789"
			form, sid := e.openWindow(issueParams(mu, cu), "pc")
			rsp := rspOf(t, e.submit(form, sid, card(tc.card)))
			assert.Equal(t, tc.success, rsp["success"], rsp)
			assert.Equal(t, mu, rsp["merchant_uid"])
			assert.Equal(t, "card", rsp["pay_method"])
			_, stored := e.fake.Customer(cu)
			assert.Equal(t, tc.keyStored, stored)
			if tc.success {
				assert.Nil(t, rsp["error_code"])
				impUID, _ := rsp["imp_uid"].(string)
				require.NotEmpty(t, impUID)
				pay, ok := e.fake.Payment(impUID)
				require.True(t, ok)
				assert.Equal(t, tc.wantStatus, pay.Status)
				assert.Equal(t, cu, pay.CustomerUID)
				assert.Equal(t, iamport.UsageIssue, pay.CustomerUIDUsage)
				assert.Equal(t, `{"plan":"basic"}`, pay.CustomData)
			} else {
				assert.NotEmpty(t, rsp["error_code"])
				assert.NotEmpty(t, rsp["error_msg"])
			}
		})
	}
}

func TestWindowSubmitMobile(t *testing.T) {
	e := newWindowEnv(t, "")
	params := issueParams("order_mobile_1", "cust_mobile_0123456789")
	params["m_redirect_url"] = "https://shop.test/billing/return?from=kcp"
	form, sid := e.openWindow(params, "mobile")
	p := e.submit(form, sid, card(CardOK))
	require.Equal(t, http.StatusFound, p.status, p.body)
	loc, err := url.Parse(p.header.Get("Location"))
	require.NoError(t, err)
	assert.Equal(t, "https://shop.test/billing/return", loc.Scheme+"://"+loc.Host+loc.Path)
	assert.True(t, strings.HasPrefix(loc.RawQuery, "from=kcp&"), loc.RawQuery)
	q := loc.Query()
	assert.Equal(t, "order_mobile_1", q.Get("merchant_uid"))
	assert.Equal(t, "true", q.Get("imp_success"))
	assert.Empty(t, q.Get("error_code"))
	pay, ok := e.fake.Payment(q.Get("imp_uid"))
	require.True(t, ok)
	assert.Equal(t, "order_mobile_1", pay.MerchantUID)
	assert.Equal(t, iamport.StatusPaid, pay.Status)
	_, stored := e.fake.Customer("cust_mobile_0123456789")
	assert.True(t, stored)

	// A refused card comes back with imp_success=false and the error.
	params["merchant_uid"] = "order_mobile_3"
	form, sid = e.openWindow(params, "mobile")
	p = e.submit(form, sid, card(CardRefused))
	require.Equal(t, http.StatusFound, p.status, p.body)
	loc, err = url.Parse(p.header.Get("Location"))
	require.NoError(t, err)
	q = loc.Query()
	assert.Equal(t, "false", q.Get("imp_success"))
	assert.Equal(t, "order_mobile_3", q.Get("merchant_uid"))
	assert.NotEmpty(t, q.Get("error_msg"))
	assert.NotEmpty(t, q.Get("error_code"))
}

func TestWindowCancel(t *testing.T) {
	e := newWindowEnv(t, "")
	form, sid := e.openWindow(issueParams("order_cancel_1", "cust_cancel_0123456789"), "pc")
	rsp := rspOf(t, e.cancel(form, sid))
	assert.Equal(t, false, rsp["success"])
	assert.Equal(t, WindowCancelCode, rsp["error_code"])
	assert.Equal(t, WindowCancelMessage, rsp["error_msg"])
	assert.Nil(t, rsp["imp_uid"])
	assert.Equal(t, "order_cancel_1", rsp["merchant_uid"])
	assert.Empty(t, e.fake.PaymentsByMerchantUID("order_cancel_1"))
	_, stored := e.fake.Customer("cust_cancel_0123456789")
	assert.False(t, stored)

	// A submit after the cancel replays the cancel: nothing is issued.
	again := rspOf(t, e.submit(form, sid, card(CardOK)))
	assert.Equal(t, WindowCancelCode, again["error_code"])
	assert.Empty(t, e.fake.PaymentsByMerchantUID("order_cancel_1"))

	params := issueParams("order_cancel_2", "cust_cancel_2_0123456789")
	params["m_redirect_url"] = "https://shop.test/return"
	form, sid = e.openWindow(params, "mobile")
	p := e.cancel(form, sid)
	require.Equal(t, http.StatusFound, p.status)
	loc, err := url.Parse(p.header.Get("Location"))
	require.NoError(t, err)
	q := loc.Query()
	assert.Equal(t, "false", q.Get("imp_success"))
	assert.Equal(t, WindowCancelCode, q.Get("error_code"))
	assert.Equal(t, WindowCancelMessage, q.Get("error_msg"))
	assert.Equal(t, "order_cancel_2", q.Get("merchant_uid"))
	assert.False(t, q.Has("imp_uid"))
	assert.Empty(t, e.fake.PaymentsByMerchantUID("order_cancel_2"))
}

func TestWindowRules(t *testing.T) {
	e := newWindowEnv(t, "")
	tests := []struct {
		name   string
		change func(map[string]any)
		code   string
	}{
		{"vbank", func(p map[string]any) { p["pay_method"] = "vbank" }, ""},
		{"no customer_uid", func(p map[string]any) { delete(p, "customer_uid") }, ""},
		{"empty customer_uid", func(p map[string]any) { p["customer_uid"] = "" }, ""},
		{"other pg", func(p map[string]any) { p["pg"] = "html5_inicis" }, ""},
		{"negative amount", func(p map[string]any) { p["amount"] = -1 }, ""},
		{"fractional amount", func(p map[string]any) { p["amount"] = 10.5 }, ""},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu := "order_rule_" + string(rune('a'+i))
			params := issueParams(mu, "cust_rule_0123456789")
			tc.change(params)
			rsp := rspOf(t, e.open(params, "pc"))
			assert.Equal(t, false, rsp["success"])
			assert.Equal(t, IssueErrInvalid, rsp["error_code"])
			assert.NotEmpty(t, rsp["error_msg"])
			assert.Nil(t, rsp["imp_uid"])
			assert.Equal(t, mu, rsp["merchant_uid"])
			assert.Empty(t, e.fake.PaymentsByMerchantUID(mu))

			// Mobile: straight back to m_redirect_url with imp_success=false.
			params["m_redirect_url"] = "https://shop.test/return"
			p := e.open(params, "mobile")
			require.Equal(t, http.StatusFound, p.status, p.body)
			loc, err := url.Parse(p.header.Get("Location"))
			require.NoError(t, err)
			assert.Equal(t, "false", loc.Query().Get("imp_success"))
			assert.Equal(t, IssueErrInvalid, loc.Query().Get("error_code"))
			assert.NotEmpty(t, loc.Query().Get("error_msg"))
		})
	}

	// Defaults the SDK fills in: no pg (the default PG is kcp_billing), no pay_method.
	params := issueParams("order_rule_defaults", "cust_rule_defaults_0123456789")
	delete(params, "pg")
	delete(params, "pay_method")
	form, sid := e.openWindow(params, "pc")
	rsp := rspOf(t, e.submit(form, sid, card(CardOK)))
	assert.Equal(t, true, rsp["success"], rsp)

	// A merchant code other than the fake's.
	js, _ := json.Marshal(issueParams("order_rule_code", "cust_rule_code_0123456789"))
	rsp = rspOf(t, e.postForm(e.base+"/window/open", url.Values{
		"imp_code": {"imp99999999"}, "params": {string(js)}, "mode": {"pc"}, "origin": {testOrigin}, "request_id": {"req123"},
	}))
	assert.Equal(t, IssueErrInvalid, rsp["error_code"])
	assert.Contains(t, rsp["error_msg"], MerchantCode)

	// Params that are not an object.
	rsp = rspOf(t, e.postForm(e.base+"/window/open", url.Values{
		"imp_code": {MerchantCode}, "params": {"[1,2"}, "mode": {"pc"}, "origin": {testOrigin}, "request_id": {"req123"},
	}))
	assert.Equal(t, IssueErrInvalid, rsp["error_code"])

	// Mobile without a usable m_redirect_url: an error page, no redirect anywhere.
	params = issueParams("order_rule_mredir", "cust_rule_mredir_0123456789")
	params["m_redirect_url"] = "javascript:alert(1)"
	p := e.open(params, "mobile")
	assert.Equal(t, http.StatusOK, p.status)
	assert.Empty(t, p.header.Get("Location"))
}

func TestWindowValidation(t *testing.T) {
	e := newWindowEnv(t, "")
	form, sid := e.openWindow(issueParams("order_valid_1", "cust_valid_0123456789"), "pc")
	bad := []struct {
		field, value, errID string
	}{
		{"card_number", "4111-abcd-1111-1111", "card-number-error"},
		{"card_number", "", "card-number-error"},
		{"card_number", "4111", "card-number-error"},
		{"card_expiry", "13/30", "card-expiry-error"},
		{"card_expiry", "01/20", "card-expiry-error"},
		{"card_birth", "9001", "card-birth-error"},
		{"card_birth", "901301", "card-birth-error"},
		{"card_pwd", "1", "card-pwd-error"},
		{"card_pwd", "ab", "card-pwd-error"},
	}
	for _, b := range bad {
		fields := card(CardOK)
		fields.Set(b.field, b.value)
		p := e.submit(form, sid, fields)
		require.Equal(t, http.StatusUnprocessableEntity, p.status, "%s=%q", b.field, b.value)
		m := regexp.MustCompile(`id="` + b.errID + `"[^>]*>([^<]+)</p>`).FindStringSubmatch(p.body)
		require.NotNil(t, m, "%s=%q: no inline message", b.field, b.value)
		assert.Contains(t, p.body, `id="card-error"`)
		assert.NotContains(t, p.body, `value="12"`, "the PIN is never echoed")
		assert.Empty(t, e.fake.PaymentsByMerchantUID("order_valid_1"))
	}
	// After the corrections the same window issues.
	fields := card(CardOK)
	fields.Set("card_expiry", "1239")
	rsp := rspOf(t, e.submit(form, sid, fields))
	assert.Equal(t, true, rsp["success"], rsp)
}

func TestWindowDoubleSubmit(t *testing.T) {
	e := newWindowEnv(t, "")
	form, sid := e.openWindow(issueParams("order_double_1", "cust_double_0123456789"), "pc")
	first := rspOf(t, e.submit(form, sid, card(CardOK)))
	second := rspOf(t, e.submit(form, sid, card(CardOK)))
	assert.Equal(t, first, second)
	assert.Len(t, e.fake.PaymentsByMerchantUID("order_double_1"), 1)
	// Reloading the card form of a finished window shows its result, not a new form.
	again := e.get(form.url.String())
	assert.Equal(t, first, rspOf(t, again))
}

func TestWindowUnderPrefix(t *testing.T) {
	e := newWindowEnv(t, "/__fake_iamport__")
	js := e.get(e.base + "/iamport.js")
	require.Equal(t, http.StatusOK, js.status)
	assert.Contains(t, js.body, "window.IMP")

	form, sid := e.openWindow(issueParams("order_prefix_1", "cust_prefix_0123456789"), "pc")
	assert.Equal(t, "/__fake_iamport__/window/pay", form.url.Path)
	// Every link of the page resolves inside the mount.
	for _, ref := range []string{"static/window.css", "static/window.js"} {
		assert.Contains(t, form.body, `"`+ref+`"`)
		p := e.get(form.resolve(t, ref))
		assert.Equal(t, http.StatusOK, p.status, ref)
	}
	assert.Equal(t, e.base+"/window/submit", form.resolve(t, "submit"))
	res := e.submit(form, sid, card(CardOK))
	rsp := rspOf(t, res)
	assert.Equal(t, true, rsp["success"], rsp)
	assert.Equal(t, http.StatusOK, e.get(res.resolve(t, "static/result.js")).status)
	// Nothing answers outside the mount.
	assert.Equal(t, http.StatusNotFound, e.get(e.srv.URL+"/iamport.js").status)
}

func TestWindowOpenByQuery(t *testing.T) {
	e := newWindowEnv(t, "")
	q := url.Values{
		"customer_uid":   {"cust_query_0123456789"},
		"merchant_uid":   {"order_query_1"},
		"name":           {"by hand"},
		"amount":         {"1000"},
		"m_redirect_url": {"https://shop.test/return"},
	}
	// A desktop browser gets the PC window even with m_redirect_url.
	p := e.get(e.base + "/window/open?" + q.Encode())
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	form := e.get(p.resolve(t, p.header.Get("Location")))
	assert.Contains(t, form.body, `data-mode="pc"`)

	// A phone gets the mobile window and comes back by redirect.
	q.Set("merchant_uid", "order_query_2")
	req, err := http.NewRequest(http.MethodGet, e.base+"/window/open?"+q.Encode(), nil)
	require.NoError(t, err)
	req.Header.Set("User-Agent", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148")
	p = e.do(req)
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	loc := p.header.Get("Location")
	form = e.get(p.resolve(t, loc))
	assert.Contains(t, form.body, `data-mode="mobile"`)
	r := e.submit(form, strings.TrimPrefix(loc, "pay?sid="), card(CardOK))
	require.Equal(t, http.StatusFound, r.status)
	assert.True(t, strings.HasPrefix(r.header.Get("Location"), "https://shop.test/return?"))
}

func TestWindowSessions(t *testing.T) {
	e := newWindowEnv(t, "")
	assert.Equal(t, http.StatusGone, e.get(e.base+"/window/pay?sid=nope").status)
	assert.Equal(t, http.StatusGone, e.postForm(e.base+"/window/submit", card(CardOK)).status)
	assert.Equal(t, http.StatusGone, e.postForm(e.base+"/window/cancel", url.Values{"sid": {"nope"}}).status)

	// A session answers only the fake that opened it.
	form, sid := e.openWindow(issueParams("order_sess_1", "cust_sess_0123456789"), "pc")
	other := newWindowEnv(t, "")
	p := other.postForm(other.base+"/window/submit", func() url.Values { v := card(CardOK); v.Set("sid", sid); return v }())
	assert.Equal(t, http.StatusGone, p.status)
	assert.Empty(t, e.fake.PaymentsByMerchantUID("order_sess_1"))
	assert.Empty(t, other.fake.PaymentsByMerchantUID("order_sess_1"))
	_ = form
}

func TestWindowHelpers(t *testing.T) {
	for in, want := range map[string]string{"": "", "http://a.test:8080": "http://a.test:8080", "https://a.test/": "https://a.test",
		"null": "", "file:///x": "", "http://a.test/path": "", "javascript:alert(1)": "", "http://u@a.test": ""} {
		assert.Equal(t, want, cleanOrigin(in), in)
	}
	for in, want := range map[string]int64{"": 0, "0": 0, "1000": 1000, "1000.0": 1000, "1e3": 1000} {
		got, msg := parseAmount(in)
		assert.Empty(t, msg, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"-1", "1.5", "abc", "NaN", "1e300"} {
		_, msg := parseAmount(in)
		assert.NotEmpty(t, msg, in)
	}
	assert.Equal(t, "********", maskUID("short"))
	assert.Equal(t, "abcd…wxyz", maskUID("abcdefghijklmnopqrstuvwxyz"))
	assert.Equal(t, "1,234,567", groupDigits(1234567))
	assert.Equal(t, "0", groupDigits(0))
	assert.Equal(t, "999", groupDigits(999))

	p, err := paramsFromJSON(`{"pg":"kcp_billing","amount":"1000","merchant_uid":123,"notice_url":["","https://n.test/a","https://n.test/b"],"custom_data":{"a":[1, 2]}}`)
	require.NoError(t, err)
	assert.Equal(t, int64(1000), p.req.Amount)
	assert.Equal(t, "123", p.req.MerchantUID)
	assert.Equal(t, "https://n.test/a", p.req.NoticeURL)
	assert.Equal(t, `{"a":[1,2]}`, p.req.CustomData)
	p, err = paramsFromJSON(`{"custom_data":"plain","notice_url":"https://n.test/x","channelKey":"channel-key-1"}`)
	require.NoError(t, err)
	assert.Equal(t, "plain", p.req.CustomData)
	assert.Equal(t, "https://n.test/x", p.req.NoticeURL)
	assert.Equal(t, "kcp_billing", p.req.PG)
	for _, in := range []string{"", "null", "[]", "1", `"x"`, "{"} {
		_, err := paramsFromJSON(in)
		assert.Error(t, err, in)
	}
}

// FuzzWindowParams: no params string makes the window panic.
func FuzzWindowParams(f *testing.F) {
	f.Add(`{"pg":"kcp_billing","customer_uid":"c","amount":1000}`)
	f.Add(`{"notice_url":[1,"x"],"custom_data":{"a":null},"amount":"1e400"}`)
	f.Add(`{"m_redirect_url":"http://[::1"}`)
	fake := New()
	f.Cleanup(fake.Close)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := paramsFromJSON(s)
		if err != nil {
			return
		}
		p.req.Mobile = true
		if err := fake.precheck(MerchantCode, &p); err != nil {
			_ = errorOutcome(p.req, IssueErrInvalid, err.Error())
		}
	})
}

func ExampleTestCards() {
	for _, c := range TestCards() {
		fmt.Printf("%-20s %s\n", c.Number, c.Outcome)
	}
	// Output:
	// 4111-1111-1111-1111  발급 성공, 모든 결제 승인 / issued; every charge pays
	// 4000-0000-0000-0002  발급 거절, 키 저장 안 됨 / refused at issuance; no key stored
	// 4000-0000-0000-0069  발급 성공, 모든 결제 거절 / issued; every charge is declined (code 0, status failed)
	// 4000-0000-0000-03NN  발급 성공, 처음 NN건 승인 후 거절 / issued; the first NN charges pay, then declined (e.g. 4000-0000-0000-0302)
}

// The card form's messages are written once (cardMessages) and handed to window.js; each
// is two lines, Korean then English, for the message line's fixed two-line height.
func TestWindowMessages(t *testing.T) {
	for key, msg := range cardMessages {
		lines := strings.Split(msg, "\n")
		require.Len(t, lines, 2, key)
		assert.Regexp(t, `[가-힣]`, lines[0], key)
		assert.Regexp(t, `^[ -~]+$`, lines[1], key)
		assert.LessOrEqual(t, len([]rune(lines[0])), 24, key)
		assert.LessOrEqual(t, len(lines[1]), 40, key)
	}
	e := newWindowEnv(t, "")
	form, _ := e.openWindow(issueParams("order_msgs_1", "cust_msgs_0123456789"), "pc")
	m := regexp.MustCompile(`data-messages="([^"]+)"`).FindStringSubmatch(form.body)
	require.NotNil(t, m, "the form carries the messages")
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(html.UnescapeString(m[1])), &got))
	assert.Equal(t, cardMessages, got)
	js, ok := windowStatic["/window/static/window.js"]
	require.True(t, ok)
	for key := range cardMessages {
		if key != "expiry_past" && key != "birth_date" { // checked by the server only
			assert.Contains(t, string(js.body), "messages."+key, "window.js uses %s", key)
		}
	}
}
