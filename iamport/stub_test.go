package iamport

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A small stand-in for iamport used by the unit tests of this package: getToken with
// its rules, an Authorization check, and a per-test handler for everything else. The full
// fake lives in iamporttest; these tests need precise control over single answers.

const (
	stubKey    = "stub_key"
	stubSecret = "stub_secret_do_not_log"
)

type stub struct {
	t   testing.TB
	srv *httptest.Server

	getTokens atomic.Int64 // getToken requests served
	requests  atomic.Int64 // other requests served

	mu         sync.Mutex
	token      string           // the token the server accepts and hands out
	serverNow  func() time.Time // the server's clock
	ttl        time.Duration    // token lifetime
	expiredAt  int64            // when non-zero, sent as expired_at instead of now+ttl
	tokenGate  chan struct{}    // when set, getToken waits for it to close
	log        []string         // "METHOD escaped-path" of every request, getToken included
	handler    http.HandlerFunc
	tokenCount int
}

func newStub(t testing.TB, h http.HandlerFunc) *stub { return newStubWith(t, h, nil) }

// newStubWith lets setup adjust the server before it starts.
func newStubWith(t testing.TB, h http.HandlerFunc, setup func(*httptest.Server)) *stub {
	s := &stub{t: t, token: "tok_1_secret_value", serverNow: time.Now, ttl: 30 * time.Minute, handler: h}
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	if setup != nil {
		setup(s.srv)
	}
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

// rotate makes the server refuse the current token and hand out a new one.
func (s *stub) rotate() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenCount++
	s.token = "tok_" + strconv.Itoa(s.tokenCount+1) + "_secret_value"
	return s.token
}

func (s *stub) calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

func (s *stub) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.log = append(s.log, r.Method+" "+r.URL.EscapedPath())
	tok, now, ttl, gate, h, exp := s.token, s.serverNow, s.ttl, s.tokenGate, s.handler, s.expiredAt
	s.mu.Unlock()

	if r.URL.Path == "/users/getToken" {
		s.getTokens.Add(1)
		if gate != nil {
			<-gate
		}
		var body struct {
			Key    string `json:"imp_key"`
			Secret string `json:"imp_secret"`
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
			json.NewDecoder(r.Body).Decode(&body) != nil {
			writeEnv(w, 400, -1, "bad request", nil)
			return
		}
		if body.Key != stubKey || body.Secret != stubSecret {
			writeEnv(w, 401, -1, "Unauthorized", nil)
			return
		}
		n := now().Unix()
		if exp == 0 {
			exp = n + int64(ttl/time.Second)
		}
		writeEnv(w, 200, 0, "", map[string]any{"access_token": tok, "now": n, "expired_at": exp})
		return
	}
	s.requests.Add(1)
	if r.Header.Get("Authorization") != "Bearer "+tok {
		writeEnv(w, 401, -1, "Unauthorized", nil)
		return
	}
	if h == nil {
		writeEnv(w, 404, -1, "no handler", nil)
		return
	}
	h(w, r)
}

func writeEnv(w http.ResponseWriter, status, code int, msg string, resp any) {
	env := map[string]any{"code": code, "message": nil, "response": resp}
	if msg != "" {
		env["message"] = msg
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(env)
}

// newStubClient returns a client of s with fast backoff.
func newStubClient(t testing.TB, s *stub, mods ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{Key: stubKey, Secret: stubSecret, BaseURL: s.srv.URL}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := New(cfg)
	require.NoError(t, err)
	c.backoffBase = time.Millisecond
	c.backoffCap = 4 * time.Millisecond
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func paidPayment(req AgainRequest) map[string]any {
	return map[string]any{
		"imp_uid": "imp_100000000001", "merchant_uid": req.MerchantUID, "amount": req.Amount,
		"cancel_amount": 0, "currency": "KRW", "status": "paid", "sandbox": false,
		"customer_uid": req.CustomerUID, "customer_uid_usage": "payment", "channel": "api",
		"pay_method": "card", "pg_provider": "kcp_billing", "paid_at": 1700000000,
		"started_at": 1700000000, "failed_at": 0, "cancelled_at": 0, "card_type": 0,
	}
}

// againHandler answers again with fn(request) as the payment and looks every other path up
// in lookups.
func againHandler(t testing.TB, fn func(AgainRequest) (int, int, string, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != epAgain {
			writeEnv(w, 404, -1, "존재하지 않는 결제정보입니다.", nil)
			return
		}
		var req AgainRequest
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &req); err != nil {
			writeEnv(w, 400, -1, "bad body", nil)
			return
		}
		status, code, msg, resp := fn(req)
		writeEnv(w, status, code, msg, resp)
	}
}
