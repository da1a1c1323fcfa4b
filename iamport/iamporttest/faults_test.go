package iamporttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// rawAgain posts an again request with its own connection and returns the raw outcome.
func rawAgain(t *testing.T, ctx context.Context, base, token, merchantUID string) (*http.Response, []byte, error) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"customer_uid": "c1", "merchant_uid": merchantUID, "amount": 1000, "name": "plan"})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/subscribe/payments/again", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func faultEnv(t *testing.T) *apiEnv {
	t.Helper()
	e := newAPIEnv(t)
	e.login()
	e.issue("c1", CardOK)
	return e
}

func lastCall(f *Fake) Call {
	calls := f.Calls()
	return calls[len(calls)-1]
}

func TestFaultStatusAndCode(t *testing.T) {
	e := faultEnv(t)
	e.srv.Inject(EPAgain, Fault{Status: http.StatusBadGateway}, Fault{Code: 1, Message: "PG사 응답 지연"}, Fault{Status: 503, Code: -2, Message: "busy"})

	r := e.again("c1", "o1", 1000)
	assert.Equal(t, http.StatusBadGateway, r.status)
	assert.Equal(t, -1, r.code)
	assert.Equal(t, "Bad Gateway", r.msg())

	r = e.again("c1", "o1", 1000)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "PG사 응답 지연", r.msg())

	r = e.again("c1", "o1", 1000)
	assert.Equal(t, 503, r.status)
	assert.Equal(t, -2, r.code)
	assert.Empty(t, e.srv.PaymentsByMerchantUID("o1"), "these faults do not act")

	r = e.again("c1", "o1", 1000)
	assert.Equal(t, 0, r.code, "faults are consumed one per call")
	assert.Equal(t, 4, e.srv.Count(EPAgain))

	e.srv.Inject(EPAgain, Fault{Status: 500}, Fault{Status: 500})
	assert.Equal(t, 2, e.srv.QueuedFaults(EPAgain))
	assert.Zero(t, e.srv.QueuedFaults(EPCancel))
	e.srv.ClearFaults()
	assert.Zero(t, e.srv.QueuedFaults(EPAgain))
	assert.Equal(t, 0, e.again("c1", "o2", 1000).code)
}

func TestFaultPerEndpoint(t *testing.T) {
	e := faultEnv(t)
	e.srv.Inject(EPGetToken, Fault{Status: http.StatusServiceUnavailable})
	e.srv.Inject(EPGetPayment, Fault{Code: -1, Message: "x"})
	r := e.call(http.MethodPost, "/users/getToken", map[string]string{"imp_key": Key, "imp_secret": Secret})
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Equal(t, 0, e.again("c1", "o1", 1000).code, "other endpoints are unaffected")
	r = e.call(http.MethodGet, "/payments/imps_1", nil)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, -1, r.code)
}

func TestFaultDropBefore(t *testing.T) {
	e := faultEnv(t)
	e.srv.Inject(EPAgain, Fault{DropBefore: true})
	_, _, err := rawAgain(t, context.Background(), e.srv.URL, e.token, "o1")
	require.Error(t, err)
	assert.Empty(t, e.srv.PaymentsByMerchantUID("o1"))
	assert.Equal(t, 1, e.srv.Count(EPAgain))

	resp, _, err := rawAgain(t, context.Background(), e.srv.URL, e.token, "o1")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Len(t, e.srv.PaymentsByMerchantUID("o1"), 1, "the retry pays once")
}

func TestFaultDropAfter(t *testing.T) {
	e := faultEnv(t)
	e.srv.Inject(EPAgain, Fault{DropAfter: true})
	_, _, err := rawAgain(t, context.Background(), e.srv.URL, e.token, "o1")
	require.Error(t, err)
	ps := e.srv.PaymentsByMerchantUID("o1")
	require.Len(t, ps, 1, "the payment was recorded before the drop")
	assert.Equal(t, "paid", string(ps[0].Status))
}

func TestFaultTruncate(t *testing.T) {
	e := faultEnv(t)
	e.srv.Inject(EPAgain, Fault{Truncate: true})
	resp, body, err := rawAgain(t, context.Background(), e.srv.URL, e.token, "o1")
	require.NotNil(t, resp, "headers arrive")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.NotEmpty(t, body)
	assert.False(t, json.Valid(body))
	assert.Len(t, e.srv.PaymentsByMerchantUID("o1"), 1)
	require.Eventually(t, func() bool { return lastCall(e.srv.Fake).Status == http.StatusOK },
		5*time.Second, time.Millisecond, "the truncated answer is logged with its status")
}

func TestFaultStall(t *testing.T) {
	e := faultEnv(t)
	e.srv.Inject(EPAgain, Fault{Stall: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := rawAgain(t, ctx, e.srv.URL, e.token, "o1")
		done <- err
	}()
	require.Eventually(t, func() bool { return len(e.srv.PaymentsByMerchantUID("o1")) == 1 },
		5*time.Second, time.Millisecond, "the work is done before the stall")
	select {
	case err := <-done:
		t.Fatalf("answered during the stall: %v", err)
	default:
	}
	cancel() // the client gives up
	assert.ErrorIs(t, <-done, context.Canceled)
	require.Eventually(t, func() bool { return lastCall(e.srv.Fake).Status == http.StatusOK },
		5*time.Second, time.Millisecond, "the handler ends once the client is gone")

	e.srv.Inject(EPAgain, Fault{Stall: time.Millisecond})
	resp, _, err := rawAgain(t, context.Background(), e.srv.URL, e.token, "o2")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestFaultLatency(t *testing.T) {
	e := faultEnv(t)
	e.srv.Inject(EPAgain, Fault{Latency: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, _, err := rawAgain(t, ctx, e.srv.URL, e.token, "o1")
		done <- err
	}()
	require.Eventually(t, func() bool { return e.srv.Count(EPAgain) == 1 }, 5*time.Second, time.Millisecond)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled)
	require.Eventually(t, func() bool {
		calls := e.srv.Calls()
		return len(calls) > 0 && calls[len(calls)-1].Endpoint == EPAgain && calls[len(calls)-1].Status == 0
	}, 5*time.Second, time.Millisecond)
	// The handler has returned (its status is logged) without acting.
	assert.Empty(t, e.srv.PaymentsByMerchantUID("o1"), "nothing done when the client left during the latency")

	e.srv.Inject(EPAgain, Fault{Latency: time.Millisecond, Code: 1, Message: "late"})
	r := e.again("c1", "o1", 1000)
	assert.Equal(t, 1, r.code)
	assert.Equal(t, "late", r.msg())
}

func TestFaultStallReleasedByClose(t *testing.T) {
	e := faultEnv(t)
	e.srv.Inject(EPAgain, Fault{Stall: time.Hour})
	done := make(chan error, 1)
	go func() {
		resp, _, err := rawAgain(t, context.Background(), e.srv.URL, e.token, "o1")
		if err == nil && resp.StatusCode != http.StatusOK {
			err = errors.New(resp.Status)
		}
		done <- err
	}()
	require.Eventually(t, func() bool { return len(e.srv.PaymentsByMerchantUID("o1")) == 1 }, 5*time.Second, time.Millisecond)
	e.srv.Close()
	assert.NoError(t, <-done, "Close ends the stall and the answer goes out")
}

// plainWriter hides the Hijacker and Flusher of the writer it wraps.
type plainWriter struct{ w http.ResponseWriter }

func (p plainWriter) Header() http.Header         { return p.w.Header() }
func (p plainWriter) Write(b []byte) (int, error) { return p.w.Write(b) }
func (p plainWriter) WriteHeader(code int)        { p.w.WriteHeader(code) }

func TestFaultWithoutHijacker(t *testing.T) {
	f := New()
	h := f.Handler()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(plainWriter{w}, r)
	}))
	srv.Start()
	t.Cleanup(func() { srv.Close(); f.Close() })
	_, err := f.IssueBillingKey(IssueRequest{PG: "kcp_billing", MerchantUID: "m0", CustomerUID: "c1", CardNumber: CardOK})
	require.NoError(t, err)
	e := &apiEnv{t: t, srv: &Server{Fake: f, URL: srv.URL}, hc: srv.Client()}
	e.login()

	f.Inject(EPAgain, Fault{DropAfter: true}, Fault{Truncate: true}, Fault{DropBefore: true})
	_, _, err = rawAgain(t, context.Background(), srv.URL, e.token, "o1")
	assert.Error(t, err)
	assert.Len(t, f.PaymentsByMerchantUID("o1"), 1)

	resp, _, err := rawAgain(t, context.Background(), srv.URL, e.token, "o2")
	if resp != nil {
		assert.ErrorIs(t, err, io.ErrUnexpectedEOF)
	} else {
		assert.Error(t, err)
	}
	assert.Len(t, f.PaymentsByMerchantUID("o2"), 1)
	require.Eventually(t, func() bool { return lastCall(f).Status == http.StatusOK },
		5*time.Second, time.Millisecond, "the truncated answer is logged with its status")

	_, _, err = rawAgain(t, context.Background(), srv.URL, e.token, "o3")
	assert.Error(t, err)
	assert.Empty(t, f.PaymentsByMerchantUID("o3"))
}

func TestFaultLatencyAfterClose(t *testing.T) {
	f := New()
	srv := httptest.NewServer(f.Handler())
	t.Cleanup(srv.Close)
	f.Close()
	f.Inject(EPGetToken, Fault{Latency: time.Hour})
	e := &apiEnv{t: t, srv: &Server{Fake: f, URL: srv.URL}, hc: srv.Client()}
	tok := e.login()
	assert.NotEmpty(t, tok.AccessToken, "a closed fake skips the wait and still answers")
}

// WithLatency holds every API call: a caller that gives up first gets no answer, and
// nothing was done.
func TestWithLatency(t *testing.T) {
	e := newAPIEnv(t, WithLatency(time.Hour))
	_, err := e.srv.IssueBillingKey(IssueRequest{PG: "kcp_billing", MerchantUID: "i1", CustomerUID: "c1", CardNumber: CardOK})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err = rawAgain(t, ctx, e.srv.URL, "any", "o1")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Empty(t, e.srv.PaymentsByMerchantUID("o1"))
	assert.Equal(t, 1, e.srv.Count(EPAgain), "it arrived")

	// Without latency the same call is answered (here: 401, no token).
	e = newAPIEnv(t, WithLatency(0))
	resp, _, err := rawAgain(t, context.Background(), e.srv.URL, "any", "o1")
	require.NoError(t, err)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
}
