package iamporttest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzAPIBody sends arbitrary bodies to every POST endpoint, as JSON, form and without a
// content type: the fake must answer an envelope, never a 5xx, never panic.
func FuzzAPIBody(f *testing.F) {
	for _, s := range []string{
		`{"customer_uid":"c1","merchant_uid":"m1","amount":1000,"name":"n"}`,
		`customer_uid=c1&merchant_uid=m1&amount=1000.0&name=n`,
		`{"imp_uid":"x","amount":"5","checksum":null,"enable_webhook":"true"}`,
		`{"customer_uid":"c1","schedules":[{"merchant_uid":"s","schedule_at":9999999999,"amount":1,"name":"n"}]}`,
		`customer_uid=c1&schedules[0][merchant_uid]=s&schedules[0][schedule_at]=9999999999&schedules[0][amount]=1&schedules[0][name]=n`,
		`{"merchant_uid":["a","b"],"customer_uid":"c1"}`,
		`{"imp_key":"test_imp_key","imp_secret":"test_imp_secret"}`,
		`{"amount":1e308}`, `[`, ``,
	} {
		f.Add(s)
	}
	fake := New(WithClock(time.Unix(1_700_000_000, 0)))
	f.Cleanup(fake.Close)
	if _, err := fake.IssueBillingKey(IssueRequest{PG: "kcp_billing", MerchantUID: "reg", CustomerUID: "c1", CardNumber: CardOK}); err != nil {
		f.Fatal(err)
	}
	h := fake.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/users/getToken",
		strings.NewReader("imp_key="+Key+"&imp_secret="+Secret)))
	var tok struct {
		Response struct {
			AccessToken string `json:"access_token"`
		} `json:"response"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &tok); err != nil || tok.Response.AccessToken == "" {
		f.Fatalf("no token: %s", rec.Body)
	}
	paths := []string{"/users/getToken", "/subscribe/payments/again", "/payments/cancel",
		"/subscribe/payments/schedule", "/subscribe/payments/unschedule"}
	f.Fuzz(func(t *testing.T, body string) {
		for _, p := range paths {
			for _, ct := range []string{"application/json", "application/x-www-form-urlencoded", ""} {
				req := httptest.NewRequest(http.MethodPost, p, strings.NewReader(body))
				if ct != "" {
					req.Header.Set("Content-Type", ct)
				}
				req.Header.Set("Authorization", tok.Response.AccessToken)
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code >= 500 {
					t.Fatalf("%s %q: HTTP %d", p, body, rec.Code)
				}
				var env struct {
					Code *int `json:"code"`
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil || env.Code == nil {
					t.Fatalf("%s %q: not an envelope: %s", p, body, rec.Body)
				}
			}
		}
	})
}
