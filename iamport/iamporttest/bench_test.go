package iamporttest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// BenchmarkHandlerAgain measures the fake's own cost of one again call (no network).
func BenchmarkHandlerAgain(b *testing.B) {
	f := New()
	b.Cleanup(f.Close)
	if _, err := f.IssueBillingKey(IssueRequest{PG: "kcp_billing", MerchantUID: "reg", CustomerUID: "c1", CardNumber: CardOK}); err != nil {
		b.Fatal(err)
	}
	h := f.Handler()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/users/getToken", strings.NewReader("imp_key="+Key+"&imp_secret="+Secret)))
	token := f.currentToken()
	var n atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body := fmt.Sprintf(`{"customer_uid":"c1","merchant_uid":"m%d","amount":1000,"name":"plan"}`, n.Add(1))
			req := httptest.NewRequest(http.MethodPost, "/subscribe/payments/again", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("HTTP %d", rec.Code)
			}
		}
	})
}

// BenchmarkServerGetPayment measures a payment lookup over loopback with keep-alive.
func BenchmarkServerGetPayment(b *testing.B) {
	srv := NewServer()
	b.Cleanup(srv.Close)
	res, err := srv.IssueBillingKey(IssueRequest{PG: "kcp_billing", MerchantUID: "reg", CustomerUID: "c1", CardNumber: CardOK})
	if err != nil {
		b.Fatal(err)
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	resp, err := hc.Post(srv.URL+"/users/getToken", "application/json",
		bytes.NewReader([]byte(`{"imp_key":"`+Key+`","imp_secret":"`+Secret+`"}`)))
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	token := srv.currentToken()
	url := srv.URL + "/payments/" + res.Payment.ImpUID
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("HTTP %d", resp.StatusCode)
			}
		}
	})
}

// currentToken is the token the fake issued last.
func (f *Fake) currentToken() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.token
}
