package soak

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/billkey/billkey/iamport/iamporttest"
)

// upstream is the fake iamport of the run, served by the harness on loopback, with a
// record of every merchant_uid `again` was asked to charge and every access token it
// issued (for the log scan).
type upstream struct {
	fake *iamporttest.Fake
	srv  *http.Server
	URL  string

	mu     sync.Mutex
	again  map[string]bool
	tokens map[string]bool
	againN int
}

const againPath = "/subscribe/payments/again"

func startUpstream(tokenLifetime time.Duration) (*upstream, error) {
	u := &upstream{again: make(map[string]bool), tokens: make(map[string]bool)}
	u.fake = iamporttest.New(
		iamporttest.WithSandbox(true),
		iamporttest.WithRealClock(),
		iamporttest.WithTokenLifetime(tokenLifetime),
		// Every notification twice, late and shuffled: the instances must not care.
		// Delivery retries on, as a merchant running several servers asks iamport for:
		// with iamport's default of one delivery, a console refund whose notification
		// finds the shop down is never seen (billkey does not poll paid charges).
		// Five resends as iamport makes them, 5 s apart here rather than a minute.
		iamporttest.WithWebhook(iamporttest.WebhookConfig{Duplicates: 1, Delay: 150 * time.Millisecond, Reorder: true,
			Retries: 5, RetryEvery: 5 * time.Second}),
	)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		u.fake.Close()
		return nil, err
	}
	u.URL = "http://" + ln.Addr().String()
	u.srv = &http.Server{Handler: u.recording(u.fake.Handler()), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = u.srv.Serve(ln) }()
	return u, nil
}

// recording notes the merchant_uid of each `again` and the token of each getToken answer.
func (u *upstream) recording(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, againPath):
			body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
			_ = r.Body.Close()
			r.Body = io.NopCloser(bytes.NewReader(body))
			if mu := merchantUIDOf(body, r.Header.Get("Content-Type")); mu != "" {
				u.mu.Lock()
				u.again[mu] = true
				u.againN++
				u.mu.Unlock()
			}
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/users/getToken"):
			tw := &teeWriter{ResponseWriter: w}
			next.ServeHTTP(tw, r)
			var env struct {
				Response struct {
					AccessToken string `json:"access_token"`
				} `json:"response"`
			}
			if json.Unmarshal(tw.buf.Bytes(), &env) == nil && env.Response.AccessToken != "" {
				u.mu.Lock()
				u.tokens[env.Response.AccessToken] = true
				u.mu.Unlock()
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}

func merchantUIDOf(body []byte, contentType string) string {
	if strings.Contains(contentType, "json") {
		var v struct {
			MerchantUID string `json:"merchant_uid"`
		}
		if json.Unmarshal(body, &v) == nil {
			return v.MerchantUID
		}
		return ""
	}
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return ""
	}
	return q.Get("merchant_uid")
}

type teeWriter struct {
	http.ResponseWriter
	buf bytes.Buffer
}

func (t *teeWriter) Write(p []byte) (int, error) {
	if t.buf.Len() < 1<<16 {
		t.buf.Write(p)
	}
	return t.ResponseWriter.Write(p)
}

// againMerchantUIDs is every merchant_uid `again` was asked for, and how many calls.
func (u *upstream) againMerchantUIDs() ([]string, int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return sortedKeys(u.again), u.againN
}

func (u *upstream) issuedTokens() []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return sortedKeys(u.tokens)
}

func (u *upstream) close() {
	_ = u.srv.Close()
	u.fake.Close()
}
