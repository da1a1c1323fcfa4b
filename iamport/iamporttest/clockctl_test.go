package iamporttest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/billkey/billkey/iamport"
)

// clockCall sends one request to the clock control route of base and decodes the answer.
func clockCall(t *testing.T, method, base, ctype, body string) (int, http.Header, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, base+ClockPath, strings.NewReader(body))
	require.NoError(t, err)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "application/json; charset=utf-8", resp.Header.Get("Content-Type"))
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out), "body %s", b)
	return resp.StatusCode, resp.Header, out
}

func clockNow(t *testing.T, out map[string]any) time.Time {
	t.Helper()
	s, ok := out["now"].(string)
	require.True(t, ok, "answer %v", out)
	at, err := time.Parse(time.RFC3339Nano, s)
	require.NoError(t, err)
	return at
}

func TestClockRoute(t *testing.T) {
	start := time.Date(2027, 1, 31, 10, 0, 0, 123456789, time.UTC)
	srv := NewServer(WithClock(start))
	t.Cleanup(srv.Close)
	const js = "application/json"

	status, _, out := clockCall(t, http.MethodGet, srv.URL, "", "")
	require.Equal(t, http.StatusOK, status)
	assert.True(t, clockNow(t, out).Equal(start), "to the nanosecond")
	assert.Equal(t, true, out["frozen"])

	status, _, out = clockCall(t, http.MethodPost, srv.URL, js, `{"advance":"6h30m"}`)
	require.Equal(t, http.StatusOK, status, out)
	want := start.Add(6*time.Hour + 30*time.Minute)
	assert.True(t, clockNow(t, out).Equal(want))
	assert.True(t, srv.Now().Equal(want), "the fake itself moved")

	at := time.Date(2027, 3, 1, 0, 0, 0, 0, time.FixedZone("KST", 9*60*60))
	status, _, out = clockCall(t, http.MethodPost, srv.URL, "application/json; charset=utf-8", `{"set":"2027-03-01T00:00:00+09:00"}`)
	require.Equal(t, http.StatusOK, status, out)
	assert.True(t, clockNow(t, out).Equal(at))
	assert.True(t, srv.Now().Equal(at))

	status, _, out = clockCall(t, http.MethodPost, srv.URL, js, `{"advance":"0s"}`)
	require.Equal(t, http.StatusOK, status, out)
	assert.True(t, srv.Now().Equal(at), "advancing by nothing is allowed")

	assert.Empty(t, srv.Calls(), "control calls are not API calls")
}

func TestClockRouteRefusals(t *testing.T) {
	start := time.Date(2027, 1, 31, 10, 0, 0, 0, time.UTC)
	srv := NewServer(WithClock(start))
	t.Cleanup(srv.Close)
	const js = "application/json"
	for _, tc := range []struct {
		name, method, ctype, body string
		status                    int
	}{
		{"into the past", http.MethodPost, js, `{"set":"2027-01-31T09:59:59Z"}`, http.StatusConflict},
		{"negative advance", http.MethodPost, js, `{"advance":"-1h"}`, http.StatusBadRequest},
		{"days are not a Go duration", http.MethodPost, js, `{"advance":"1d"}`, http.StatusBadRequest},
		{"set without a zone", http.MethodPost, js, `{"set":"2027-03-01T00:00:00"}`, http.StatusBadRequest},
		{"both", http.MethodPost, js, `{"advance":"1h","set":"2028-01-01T00:00:00Z"}`, http.StatusBadRequest},
		{"neither", http.MethodPost, js, `{}`, http.StatusBadRequest},
		{"unknown field", http.MethodPost, js, `{"advance":"1h","by":"me"}`, http.StatusBadRequest},
		{"not JSON", http.MethodPost, js, `advance=1h`, http.StatusBadRequest},
		{"two objects", http.MethodPost, js, `{"advance":"1h"}{"advance":"1h"}`, http.StatusBadRequest},
		{"too large", http.MethodPost, js, `{"advance":"1h","x":"` + strings.Repeat("a", 2*maxClockBody) + `"}`, http.StatusBadRequest},
		{"a form", http.MethodPost, "application/x-www-form-urlencoded", `advance=1h`, http.StatusUnsupportedMediaType},
		{"no content type", http.MethodPost, "", `{"advance":"1h"}`, http.StatusUnsupportedMediaType},
		{"text/plain (a cross-site form could send it)", http.MethodPost, "text/plain", `{"advance":"1h"}`, http.StatusUnsupportedMediaType},
		{"PUT", http.MethodPut, js, `{"advance":"1h"}`, http.StatusMethodNotAllowed},
		{"DELETE", http.MethodDelete, "", "", http.StatusMethodNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, out := clockCall(t, tc.method, srv.URL, tc.ctype, tc.body)
			assert.Equal(t, tc.status, status, out)
			assert.NotEmpty(t, out["error"])
			if tc.status == http.StatusMethodNotAllowed {
				assert.Equal(t, "GET, HEAD, POST", h.Get("Allow"))
			}
			assert.True(t, srv.Now().Equal(start), "a refused change moves nothing")
		})
	}
}

// The route moves the clock as Advance does: schedules that came due run, and it works
// under a prefix.
func TestClockRouteRunsSchedulesUnderAPrefix(t *testing.T) {
	e := newAPIEnv(t, WithClock(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)))
	e.login()
	e.issue("c1", CardOK)
	at := e.srv.Now().Add(2 * time.Hour).Unix()
	r := e.call(http.MethodPost, "/subscribe/payments/schedule", map[string]any{
		"customer_uid": "c1",
		"schedules":    []map[string]any{{"merchant_uid": "s1", "schedule_at": at, "amount": 1000, "name": "예약"}},
	})
	require.Equal(t, 0, r.code, r.msg())

	mux := http.NewServeMux()
	mux.Handle("/fake/", http.StripPrefix("/fake", e.srv.Handler()))
	mounted := httptest.NewServer(mux)
	t.Cleanup(mounted.Close)
	status, _, out := clockCall(t, http.MethodPost, mounted.URL+"/fake", "application/json", `{"advance":"3h"}`)
	require.Equal(t, http.StatusOK, status, out)
	s, ok := e.srv.Schedule("s1")
	require.True(t, ok)
	assert.Equal(t, iamport.ScheduleExecuted, s.ScheduleStatus)
}

func TestRemoteClockFollowsARealClock(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	start := time.Date(2027, 1, 31, 10, 0, 0, 0, time.UTC)
	srv := NewServer(WithRealClock(), WithClock(start))
	defer srv.Close()

	rc, err := NewRemoteClock(srv.URL+"/", 10*time.Millisecond)
	require.NoError(t, err)
	defer rc.Close()
	assert.WithinDuration(t, srv.Now(), rc.Now(), time.Second)

	srv.Advance(6 * time.Hour)
	require.NoError(t, rc.Sync(context.Background()))
	assert.WithinDuration(t, srv.Now(), rc.Now(), time.Second, "Sync takes the jump at once")

	srv.Advance(30 * 24 * time.Hour)
	require.Eventually(t, func() bool { return rc.Now().Sub(srv.Now()).Abs() < time.Second },
		10*time.Second, 5*time.Millisecond, "the background refresh takes the jump")
	assert.NoError(t, rc.Err())

	a := rc.Now()
	assert.False(t, rc.Now().Before(a), "never backwards")
}

func TestRemoteClockFollowsAFrozenClock(t *testing.T) {
	start := time.Date(2027, 1, 31, 10, 0, 0, 5, time.UTC)
	srv := NewServer(WithClock(start))
	defer srv.Close()
	rc, err := NewRemoteClock(srv.URL, 0)
	require.NoError(t, err)
	defer rc.Close()
	assert.True(t, rc.Now().Equal(start), "a frozen clock is not run on")
	srv.Advance(time.Hour)
	assert.True(t, rc.Now().Equal(start), "without a refresh interval only Sync fetches")
	require.NoError(t, rc.Sync(context.Background()))
	assert.True(t, rc.Now().Equal(start.Add(time.Hour)))
}

// stubClock is a clock control route answering scripted bodies.
type stubClock struct {
	mu      sync.Mutex
	status  int
	answers []string
}

func (s *stubClock) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path != ClockPath {
		http.NotFound(w, r)
		return
	}
	body := `{"now":"2027-01-01T00:00:00Z","frozen":true}`
	if len(s.answers) > 0 {
		body, s.answers = s.answers[0], s.answers[1:]
	}
	if s.status != 0 {
		w.WriteHeader(s.status)
	}
	_, _ = io.WriteString(w, body)
}

func (s *stubClock) script(status int, answers ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.answers = status, answers
}

func TestRemoteClockErrors(t *testing.T) {
	stub := &stubClock{}
	hs := httptest.NewServer(stub)
	t.Cleanup(hs.Close)

	for _, tc := range []struct {
		name   string
		base   string
		status int
		body   string
	}{
		{"not a URL", "127.0.0.1:1", 0, ""},
		{"ftp", "ftp://127.0.0.1/", 0, ""},
		{"HTTP 500", hs.URL, http.StatusInternalServerError, `{"error":"x"}`},
		{"not JSON", hs.URL, 0, `now`},
		{"no now", hs.URL, 0, `{"frozen":true}`},
		{"not the clock route", hs.URL + "/elsewhere", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stub.script(tc.status, tc.body)
			rc, err := NewRemoteClock(tc.base, 0)
			require.Error(t, err)
			assert.Nil(t, rc)
			assert.Contains(t, err.Error(), "iamporttest: ")
		})
	}

	// A failed refetch keeps the clock where it was; a later answer behind it does not
	// move it back.
	stub.script(0, `{"now":"2027-01-01T00:00:00Z","frozen":true}`)
	rc, err := NewRemoteClock(hs.URL, 0)
	require.NoError(t, err)
	defer rc.Close()
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	require.True(t, rc.Now().Equal(at))
	stub.script(http.StatusBadGateway, `{}`)
	require.Error(t, rc.Sync(context.Background()))
	assert.True(t, rc.Now().Equal(at))
	stub.script(0, `{"now":"2026-12-31T23:00:00Z","frozen":true}`)
	require.NoError(t, rc.Sync(context.Background()))
	assert.True(t, rc.Now().Equal(at), "never backwards")
}

func TestRemoteClockBackgroundError(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	stub := &stubClock{}
	hs := httptest.NewServer(stub)
	defer hs.Close()
	rc, err := NewRemoteClock(hs.URL, 5*time.Millisecond)
	require.NoError(t, err)
	stub.script(http.StatusServiceUnavailable)
	require.Eventually(t, func() bool { return rc.Err() != nil }, 10*time.Second, 5*time.Millisecond)
	stub.script(0)
	require.Eventually(t, func() bool { return rc.Err() == nil }, 10*time.Second, 5*time.Millisecond)
	rc.Close()
	rc.Close()
	hs.CloseClientConnections()
}
