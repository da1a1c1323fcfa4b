package soak

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// requestTimeout bounds one request of a customer; a charge whose `again` stalls is
// answered well within it (the route's own deadline).
const requestTimeout = 2*time.Minute + 10*time.Second

// latencies keeps the duration of every request by route.
type latencies struct {
	mu     sync.Mutex
	byName map[string][]time.Duration
	total  int
}

func newLatencies() *latencies { return &latencies{byName: make(map[string][]time.Duration)} }

func (l *latencies) add(route string, d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.byName[route] = append(l.byName[route], d)
	l.total++
}

// RouteLatency is the p50 and p99 of one route.
type RouteLatency struct {
	Route    string
	N        int
	P50, P99 time.Duration
}

func (l *latencies) summary() ([]RouteLatency, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []RouteLatency
	for _, name := range sortedKeys(l.byName) {
		ds := append([]time.Duration(nil), l.byName[name]...)
		sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
		out = append(out, RouteLatency{Route: name, N: len(ds), P50: ds[len(ds)*50/100], P99: ds[min(len(ds)-1, len(ds)*99/100)]})
	}
	return out, l.total
}

// answer is one response, read whole.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

func (a answer) json(v any) error { return json.Unmarshal(a.Body, v) }

// client sends requests to the shop, without following redirects.
type client struct {
	hc  *http.Client
	lat *latencies
}

func newClient(lat *latencies) *client {
	return &client{
		hc: &http.Client{
			Timeout:       requestTimeout,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport:     &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second},
		},
		lat: lat,
	}
}

// do sends one request; route names it in the latency table ("" = not recorded).
func (c *client) do(ctx context.Context, route, method, target string, body []byte, hdr http.Header) (answer, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		return answer{}, err
	}
	for k, vs := range hdr {
		req.Header[k] = vs
	}
	start := time.Now()
	res, err := c.hc.Do(req)
	if err != nil {
		return answer{}, err
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	_ = res.Body.Close()
	if route != "" {
		c.lat.add(route, time.Since(start))
	}
	return answer{Status: res.StatusCode, Header: res.Header, Body: b}, err
}

// login signs user in on the shop at base and returns the session cookie.
func (c *client) login(ctx context.Context, base, path, user string) (*http.Cookie, error) {
	form := url.Values{"user": {user}}.Encode()
	a, err := c.do(ctx, "POST "+path, http.MethodPost, base+path, []byte(form), http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"}, "Origin": {base}, "Sec-Fetch-Site": {"same-origin"},
	})
	if err != nil {
		return nil, err
	}
	for _, raw := range a.Header.Values("Set-Cookie") {
		if ck, err := http.ParseSetCookie(raw); err == nil && ck.Value != "" {
			return ck, nil
		}
	}
	return nil, errors.New("login of " + user + " at " + base + " set no cookie (HTTP " + http.StatusText(a.Status) + ")")
}

// session is one customer signed in on one instance generation.
type session struct {
	base   string
	gen    int
	cookie *http.Cookie
}

func (s session) header(extra ...string) http.Header {
	h := http.Header{"Cookie": {s.cookie.Name + "=" + s.cookie.Value}, "Origin": {s.base}, "Sec-Fetch-Site": {"same-origin"}}
	for i := 0; i+1 < len(extra); i += 2 {
		h.Set(extra[i], extra[i+1])
	}
	return h
}

// logins keeps one account signed in on each instance, signing in again after a restart.
type logins struct {
	r         *run
	loginPath string // the shop's login route for this kind of account
	user      string

	mu   sync.Mutex
	byIx map[int]session // by instance index
}

func newLogins(r *run, loginPath, user string) *logins {
	return &logins{r: r, loginPath: loginPath, user: user, byIx: map[int]session{}}
}

// on returns the session on instance i.
func (l *logins) on(ctx context.Context, i int) (session, error) {
	in := l.r.fleet[i]
	base, gen := in.current()
	if base == "" {
		return session{}, fmt.Errorf("%s is down", in.name)
	}
	l.mu.Lock()
	s, ok := l.byIx[i]
	l.mu.Unlock()
	if ok && s.gen == gen && s.base == base {
		return s, nil
	}
	ck, err := l.r.cl.login(ctx, base, l.loginPath, l.user)
	if err != nil {
		return session{}, err
	}
	s = session{base: base, gen: gen, cookie: ck}
	l.mu.Lock()
	l.byIx[i] = s
	l.mu.Unlock()
	return s, nil
}

// forget drops s, which the shop no longer accepts.
func (l *logins) forget(s session) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, have := range l.byIx {
		if have == s {
			delete(l.byIx, i)
		}
	}
}

// billing is the URL of a billing route on the session's instance.
func (s session) billing(p string) string { return s.base + billingPrefix + p }

// isTransient says whether an answer means "ask again with the same key".
func isTransient(a answer, err error) bool {
	if err != nil {
		return true
	}
	return a.Status >= 500 || a.Status == http.StatusAccepted || a.Status == http.StatusUnauthorized || a.Status == http.StatusConflict ||
		a.Status == http.StatusTooManyRequests
}

// problemCode is the "code" of a problem+json answer.
func problemCode(a answer) string {
	var p struct {
		Code string `json:"code"`
	}
	if strings.Contains(a.Header.Get("Content-Type"), "json") {
		_ = a.json(&p)
	}
	return p.Code
}
