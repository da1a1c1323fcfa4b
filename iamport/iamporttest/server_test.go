package iamporttest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport"
)

func TestCallsAndCounts(t *testing.T) {
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	e := newAPIEnv(t, WithClock(start))
	e.login()
	e.issue("c 1", CardOK)
	e.srv.Advance(time.Minute)
	e.call(http.MethodGet, "/subscribe/customers/c%201", nil)
	e.again("c 1", "o1", 1000)
	e.call(http.MethodGet, "/nowhere", nil)

	assert.Equal(t, 1, e.srv.Count(EPGetToken))
	assert.Equal(t, 1, e.srv.Count(EPGetCustomer))
	assert.Equal(t, 1, e.srv.Count(EPAgain))
	assert.Equal(t, 0, e.srv.Count(EPCancel))
	calls := e.srv.Calls()
	require.Len(t, calls, 4)
	assert.Equal(t, Call{Endpoint: EPGetToken, Method: "POST", Path: "/users/getToken", Status: 200, At: start}, calls[0])
	assert.Equal(t, Call{Endpoint: EPGetCustomer, Method: "GET", Path: "/subscribe/customers/c 1", Status: 200, At: start.Add(time.Minute)}, calls[1])
	assert.Equal(t, EPAgain, calls[2].Endpoint)
	assert.Equal(t, Call{Endpoint: "", Method: "GET", Path: "/nowhere", Status: 404, At: start.Add(time.Minute)}, calls[3])
}

func TestRoutingErrors(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	r := e.call(http.MethodPut, "/subscribe/payments/again", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)
	assert.Equal(t, "POST", r.header.Get("Allow"))
	r = e.call(http.MethodPost, "/subscribe/customers/c1", nil)
	assert.Equal(t, http.StatusMethodNotAllowed, r.status)
	assert.Equal(t, "GET, DELETE", r.header.Get("Allow"))
	for _, p := range []string{"/", "/payments", "/payments/find", "/users/getToken/x", "/payments/find/a/b/c"} {
		r = e.call(http.MethodGet, p, nil)
		assert.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, r.status, p)
		assert.NotEqual(t, 0, r.code)
	}
}

func TestConnections(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	for range 5 {
		e.call(http.MethodGet, "/payments/x", nil)
	}
	assert.Equal(t, 1, e.srv.Connections(), "keep-alive reuses one connection")
	tr := &http.Transport{DisableKeepAlives: true}
	hc := &http.Client{Transport: tr}
	for range 3 {
		resp, err := hc.Get(e.srv.URL + "/payments/x")
		require.NoError(t, err)
		resp.Body.Close()
	}
	assert.Equal(t, 4, e.srv.Connections())
}

func TestHandlerUnderPrefix(t *testing.T) {
	f := New()
	mux := http.NewServeMux()
	mux.Handle("/fake/iamport/", http.StripPrefix("/fake/iamport", f.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(func() { srv.Close(); f.Close() })
	e := &apiEnv{t: t, srv: &Server{Fake: f, URL: srv.URL + "/fake/iamport"}, hc: srv.Client()}
	e.login()
	e.issue("c1", CardOK)
	p := as[iamport.Payment](t, e.again("c1", "o1", 1000))
	assert.Equal(t, srv.URL+"/fake/iamport/receipts/"+p.ImpUID, p.ReceiptURL)
	resp, err := e.hc.Get(p.ReceiptURL)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)

	// A bare Fake has no base URL of its own: IssueBillingKey gives a relative receipt URL.
	res, err := f.IssueBillingKey(IssueRequest{PG: "kcp_billing", MerchantUID: "m9", CustomerUID: "c9", CardNumber: CardOK})
	require.NoError(t, err)
	assert.Equal(t, "/receipts/"+res.Payment.ImpUID, res.Payment.ReceiptURL)
}

func TestRequestBase(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "http://shop.test/pay/iamport/payments/x", nil)
	r.URL.Path = "/payments/x" // as StripPrefix leaves it
	assert.Equal(t, "http://shop.test/pay/iamport", requestBase(r))
	r.Header.Set("X-Forwarded-Proto", "https")
	assert.Equal(t, "https://shop.test/pay/iamport", requestBase(r))
	r.Host = ""
	assert.Equal(t, "", requestBase(r))
}

// TestNoPanicOnJunk throws malformed requests at every endpoint; each must get an envelope
// and no 5xx.
func TestNoPanicOnJunk(t *testing.T) {
	e := newAPIEnv(t)
	e.login()
	e.issue("c1", CardOK)
	bodies := []string{"", "{", "[]", "null", `{"amount":1e400}`, `{"amount":"1e400"}`, `{"schedules":[null]}`,
		`{"schedules":"[{}]"}`, `{"merchant_uid":{"a":1}}`, `{"merchant_uid":[1,2]}`, `{"customer_uid":true}`,
		"a=%", "schedules[0]=x", "schedules[99999][a]=b", "amount=NaN&customer_uid=c1&merchant_uid=x&name=n",
		`{"amount":-9223372036854775808,"customer_uid":"c1","merchant_uid":"x","name":"n"}`,
		`{"imp_uid":"","merchant_uid":"","amount":null,"checksum":null}`, strings.Repeat("[", 10000),
		`{"customer_uid":"c1","schedules":[{"merchant_uid":"x","schedule_at":"later","amount":1,"name":"n"}]}`}
	paths := []string{"/users/getToken", "/subscribe/payments/again", "/payments/cancel",
		"/subscribe/payments/schedule", "/subscribe/payments/unschedule"}
	for _, p := range paths {
		for _, b := range bodies {
			for _, ct := range []string{"application/json", "application/x-www-form-urlencoded", "", "multipart/form-data; boundary=z"} {
				r := e.do(e.request(http.MethodPost, p, bytes.NewReader([]byte(b)), ct))
				assert.Less(t, r.status, 500, "%s %q %s", p, b, ct)
			}
		}
	}
}

func TestServerClient(t *testing.T) {
	srv := NewServer()
	t.Cleanup(srv.Close)
	c := srv.Client(func(cfg *iamport.Config) { cfg.Timeout = 5 * time.Second })
	require.NotNil(t, c)
	ctx := ctxTimeout(t, 10*time.Second)
	tok, err := c.Token(ctx)
	require.NoError(t, err)
	assert.NotEmpty(t, tok)
	assert.Equal(t, 1, srv.Count(EPGetToken))

	_, err = srv.IssueBillingKey(IssueRequest{PG: "kcp_billing", MerchantUID: "reg", CustomerUID: "c1", CardNumber: CardOK})
	require.NoError(t, err)
	p, err := c.Again(ctx, iamport.AgainRequest{CustomerUID: "c1", MerchantUID: "o1", Amount: 1000, Name: "plan"})
	require.NoError(t, err)
	assert.Equal(t, iamport.StatusPaid, p.Status)

	assert.Panics(t, func() { srv.Client(func(cfg *iamport.Config) { cfg.Key = "" }) })
}
