package iamporttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The clock control route lets other processes read and move the fake's clock: several
// service instances that must agree on the fake's notion of now (RemoteClock), or a demo's
// "time machine". It lives beside the API, under a path iamport's API never uses:
//
//	GET  {base}/__fake/clock   → 200 {"now":"<RFC3339Nano>","frozen":false}
//	POST {base}/__fake/clock   {"advance":"6h"} or {"set":"2027-03-01T00:00:00+09:00"}
//	                           → 200 with the new {"now",...}, as Fake.Advance moves it
//
// A POST must be application/json (so a page on another origin cannot send one without a
// CORS preflight, which the fake never grants) and name exactly one of advance (a Go
// duration, not negative) or set (RFC 3339, not before now: the clock moves forward
// only). Bad requests get 400, a set into the past 409, another content type 415, other
// methods 405; error bodies are {"error":"..."}. Control calls are not API calls: they are
// neither counted nor logged in Calls, and faults do not apply to them.

// ClockPath is the path of the clock control route, relative to the fake's base URL.
const ClockPath = "/__fake/clock"

// maxClockBody caps a clock control request body.
const maxClockBody = 1 << 10

// ClockState is what the clock control route answers.
type ClockState struct {
	Now time.Time `json:"now"`
	// Frozen is true when the fake's clock moves only when advanced (the default), false
	// when it follows the wall clock (WithRealClock).
	Frozen bool `json:"frozen"`
}

// ClockChange is the body of a POST to the clock control route: exactly one field set.
type ClockChange struct {
	Advance string `json:"advance,omitempty"` // a Go duration such as "6h" or "90m", not negative
	Set     string `json:"set,omitempty"`     // an RFC 3339 time, not before the fake's now
}

// isClockPath reports whether the path segments name the clock control route.
func isClockPath(segs []string) bool {
	return len(segs) == 2 && segs[0] == "__fake" && segs[1] == "clock"
}

// serveClock answers the clock control route.
func (f *Fake) serveClock(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		writeClockJSON(w, http.StatusOK, f.clockState())
	case http.MethodPost:
		status, err := f.changeClock(w, r)
		if err != nil {
			writeClockJSON(w, status, map[string]string{"error": err.Error()})
			return
		}
		writeClockJSON(w, http.StatusOK, f.clockState())
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		writeClockJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "use GET or POST"})
	}
}

// clockState is the clock as the route shows it.
func (f *Fake) clockState() ClockState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return ClockState{Now: f.nowLocked(), Frozen: !f.clock.real}
}

// changeClock applies a POSTed ClockChange, returning the HTTP status of a refusal.
func (f *Fake) changeClock(w http.ResponseWriter, r *http.Request) (int, error) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return http.StatusUnsupportedMediaType, errors.New("the body must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxClockBody))
	dec.DisallowUnknownFields()
	var ch ClockChange
	if err := dec.Decode(&ch); err != nil {
		return http.StatusBadRequest, errors.New(`the body must be {"advance":"<duration>"} or {"set":"<RFC 3339 time>"}`)
	}
	if dec.More() {
		return http.StatusBadRequest, errors.New("the body must hold one JSON object")
	}
	if (ch.Advance == "") == (ch.Set == "") {
		return http.StatusBadRequest, errors.New("name exactly one of advance and set")
	}
	d, status, err := f.clockStep(ch)
	if err != nil {
		return status, err
	}
	f.Advance(d)
	return http.StatusOK, nil
}

// clockStep is how far ch moves the clock.
func (f *Fake) clockStep(ch ClockChange) (time.Duration, int, error) {
	if ch.Advance != "" {
		d, err := time.ParseDuration(ch.Advance)
		switch {
		case err != nil:
			return 0, http.StatusBadRequest, errors.New(`advance must be a Go duration such as "6h" or "90m"`)
		case d < 0:
			return 0, http.StatusBadRequest, errors.New("advance must not be negative: the clock moves forward only")
		}
		return d, http.StatusOK, nil
	}
	t, err := time.Parse(time.RFC3339Nano, ch.Set)
	if err != nil {
		return 0, http.StatusBadRequest, errors.New(`set must be an RFC 3339 time such as "2027-03-01T00:00:00+09:00"`)
	}
	d := t.Sub(f.Now())
	if d < 0 {
		return 0, http.StatusConflict, errors.New("set is before the fake's now: the clock moves forward only")
	}
	return d, http.StatusOK, nil
}

func writeClockJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":"internal error"}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// RemoteClock follows the clock of a fake served elsewhere (a Server or cmd/fakeiamport
// in another process) through its clock control route: Now is the fake's time as last
// fetched, run on by this process's monotonic clock since (not run on when the fake's
// clock is frozen). It refetches in the background every refresh interval until Close,
// so processes on one machine that follow one fake agree on its time to within that
// interval, and at once after each calls Sync. Now never goes backwards. Safe for
// concurrent use.
type RemoteClock struct {
	url string
	hc  *http.Client
	tr  *http.Transport

	mu     sync.Mutex
	base   time.Time // the fake's time when it was fetched
	at     time.Time // this process's clock then (monotonic reading)
	frozen bool
	last   time.Time // the latest time Now returned
	err    error     // of the last background refresh

	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// remoteClockTimeout bounds one fetch of the fake's clock.
const remoteClockTimeout = 5 * time.Second

// NewRemoteClock fetches the clock of the fake at baseURL (what NewServer's URL or
// cmd/fakeiamport's banner shows as the base URL) and follows it, refetching every
// refresh; refresh <= 0 fetches only when Sync is called. The first fetch must succeed.
// Call Close when done.
func NewRemoteClock(baseURL string, refresh time.Duration) (*RemoteClock, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("iamporttest: NewRemoteClock: the base URL must be an absolute http(s) URL")
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 2}
	c := &RemoteClock{
		url:  u.String() + ClockPath,
		tr:   tr,
		hc:   &http.Client{Transport: tr, Timeout: remoteClockTimeout},
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	ctx, cancel := context.WithTimeout(context.Background(), remoteClockTimeout)
	defer cancel()
	if err := c.Sync(ctx); err != nil {
		tr.CloseIdleConnections()
		return nil, err
	}
	if refresh <= 0 {
		close(c.done)
		return c, nil
	}
	go c.refreshEvery(refresh)
	return c, nil
}

// Now is the fake's time as this clock follows it.
func (c *RemoteClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.base
	if !c.frozen {
		now = c.base.Add(time.Since(c.at))
	}
	if now.Before(c.last) {
		now = c.last
	}
	c.last = now
	return now
}

// Sync fetches the fake's clock now. On failure the clock keeps following the last time
// fetched.
func (c *RemoteClock) Sync(ctx context.Context) error {
	before := time.Now()
	st, err := c.fetch(ctx)
	if err != nil {
		return err
	}
	after := time.Now()
	// The fake read its clock somewhere between the two readings: take the middle.
	mid := before.Add(after.Sub(before) / 2)
	c.mu.Lock()
	c.base, c.at, c.frozen = st.Now, mid, st.Frozen
	c.mu.Unlock()
	return nil
}

// Err is the error of the last background refresh, nil once one succeeds again.
func (c *RemoteClock) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close stops the background refresh and waits for it. Now keeps answering. Idempotent.
func (c *RemoteClock) Close() {
	c.closeOnce.Do(func() { close(c.stop) })
	<-c.done
	c.tr.CloseIdleConnections()
}

func (c *RemoteClock) refreshEvery(d time.Duration) {
	defer close(c.done)
	// A fetch in flight ends with Close, not only after its timeout.
	life, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-c.stop
		cancel()
	}()
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-tick.C:
		}
		ctx, cancelFetch := context.WithTimeout(life, min(d, remoteClockTimeout))
		err := c.Sync(ctx)
		cancelFetch()
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
	}
}

// fetch reads the clock control route once.
func (c *RemoteClock) fetch(ctx context.Context) (ClockState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return ClockState{}, fmt.Errorf("iamporttest: remote clock: %w", err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return ClockState{}, fmt.Errorf("iamporttest: remote clock: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxClockBody))
	if err != nil {
		return ClockState{}, fmt.Errorf("iamporttest: remote clock: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return ClockState{}, fmt.Errorf("iamporttest: remote clock: HTTP %d from %s", resp.StatusCode, ClockPath)
	}
	var st ClockState
	if err := json.Unmarshal(body, &st); err != nil || st.Now.IsZero() {
		return ClockState{}, fmt.Errorf("iamporttest: remote clock: %s did not answer {\"now\":...}", ClockPath)
	}
	return st, nil
}
