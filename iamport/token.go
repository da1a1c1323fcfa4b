package iamport

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Token lifetime handling. The server's clock is authoritative: a token lives for
// expired_at - now seconds as the server counts them, and that span is laid onto the
// local monotonic clock from the moment the getToken request was sent. The wall clock of
// this machine never enters the computation, so a skewed local clock is harmless.
const (
	tokenMargin    = 30 * time.Second // refresh this long before the server's expiry
	maxTokenTTL    = 24 * time.Hour   // distrust longer lifetimes
	tokenEndpoint  = "/users/getToken"
	bearerPrefix   = "Bearer "
	tokenMaxLength = 4096
)

// cachedToken is immutable once published through tokenCache.cur.
type cachedToken struct {
	value   string    // the access token
	header  string    // "Bearer " + value
	expires time.Time // local time (with monotonic reading) after which it is stale
	expiry  time.Time // local time at which iamport's lifetime ends (expires + margin)
}

// tokenCache holds the current token and serialises refreshes.
type tokenCache struct {
	cur atomic.Pointer[cachedToken]
	// sem admits one refresher at a time; waiting honours the caller's context.
	sem chan struct{}
	// fetches counts completed getToken attempts; lastErr (guarded by sem) is the
	// outcome of the latest one, shared with callers that queued behind it.
	fetches atomic.Uint64
	lastErr error

	// What TokenState reports, guarded by stateMu (never held while fetching).
	stateMu     sync.Mutex
	fetchedAt   time.Time
	failure     error
	failureTime time.Time
	refreshes   uint64 // successful getToken requests
	failures    uint64 // failed ones
}

// TokenState is what a health check may show about the access token. It never holds the
// token itself.
type TokenState struct {
	// Valid reports whether the client holds a token it still uses.
	Valid bool
	// FetchedAt is when the last successful getToken request was sent; zero if none yet.
	FetchedAt time.Time
	// ExpiresAt is when the held token expires by iamport's lifetime, on this machine's
	// clock; zero when none is held. The client refreshes it up to 30 s before.
	ExpiresAt time.Time
	// LastError is the last getToken that failed (not counting callers that gave up
	// waiting), and LastErrorAt when; nil and zero if none has. A later success does not
	// clear it: compare LastErrorAt with FetchedAt.
	LastError   error
	LastErrorAt time.Time
	// Refreshes and Failures count the getToken requests that succeeded and failed since
	// the client was made.
	Refreshes, Failures uint64
}

// TokenState reports the state of the access token without fetching one.
func (c *Client) TokenState() TokenState {
	if c == nil {
		return TokenState{}
	}
	tc := &c.tok
	tc.stateMu.Lock()
	st := TokenState{FetchedAt: tc.fetchedAt, LastError: tc.failure, LastErrorAt: tc.failureTime,
		Refreshes: tc.refreshes, Failures: tc.failures}
	tc.stateMu.Unlock()
	if t := tc.cur.Load(); t != nil {
		st.ExpiresAt = t.expiry
		st.Valid = c.now().Before(t.expires)
	}
	return st
}

// noteFetch records the outcome of one getToken for TokenState.
func (tc *tokenCache) noteFetch(sentAt time.Time, err error) {
	tc.stateMu.Lock()
	defer tc.stateMu.Unlock()
	if err != nil {
		tc.failure, tc.failureTime = err, sentAt.Round(0)
		tc.failures++
		return
	}
	tc.fetchedAt = sentAt.Round(0)
	tc.refreshes++
}

func newTokenCache() tokenCache { return tokenCache{sem: make(chan struct{}, 1)} }

// valid returns the cached token if it is fresh at now.
func (tc *tokenCache) valid(now time.Time) *cachedToken {
	if t := tc.cur.Load(); t != nil && now.Before(t.expires) {
		return t
	}
	return nil
}

// invalidate drops failed from the cache unless another caller already replaced it.
func (tc *tokenCache) invalidate(failed *cachedToken) {
	if failed != nil {
		tc.cur.CompareAndSwap(failed, nil)
	}
}

// tokenMarginFor is the safety margin for a token living ttl: 30 s, or a tenth of the
// lifetime for short-lived tokens.
func tokenMarginFor(ttl time.Duration) time.Duration {
	if m := ttl / 10; m < tokenMargin {
		return m
	}
	return tokenMargin
}

// Token returns a valid access token, fetching one if the cache is empty or stale.
// Concurrent callers share one getToken request. A cached token is returned without
// allocating.
func (c *Client) Token(ctx context.Context) (string, error) {
	if c == nil {
		return "", errNilClient
	}
	if t := c.tok.valid(c.now()); t != nil {
		return t.value, nil
	}
	if ctx == nil {
		return "", errNilContext
	}
	ctx, cancel := c.withDefaultTimeout(ctx)
	defer cancel()
	t, err := c.token(ctx)
	if err != nil {
		return "", err
	}
	return t.value, nil
}

// token returns the cached token or refreshes it, one refresh at a time.
func (c *Client) token(ctx context.Context) (*cachedToken, error) {
	tc := &c.tok
	if t := tc.valid(c.now()); t != nil {
		return t, nil
	}
	seen := tc.fetches.Load()
	select {
	case tc.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, &TransportError{Method: "POST", Endpoint: tokenEndpoint, Sent: false, Err: context.Cause(ctx)}
	}
	defer func() { <-tc.sem }()
	// Another caller may have refreshed while this one waited.
	if t := tc.valid(c.now()); t != nil {
		return t, nil
	}
	// A refresh finished while this caller waited and failed for a reason that is not
	// its own caller's context: share that failure instead of queueing another request.
	if tc.fetches.Load() != seen && tc.lastErr != nil {
		return nil, tc.lastErr
	}
	sentAt := c.now()
	t, err := c.fetchToken(ctx, sentAt)
	tc.fetches.Add(1)
	tc.lastErr = nil
	if err != nil {
		if ctx.Err() == nil {
			tc.lastErr = err
			tc.noteFetch(sentAt, err)
		}
		return nil, err
	}
	tc.cur.Store(t)
	tc.noteFetch(sentAt, nil)
	return t, nil
}

// fetchToken performs POST /users/getToken, sent at sentAt.
func (c *Client) fetchToken(ctx context.Context, sentAt time.Time) (*cachedToken, error) {
	body := struct {
		Key    string `json:"imp_key"`
		Secret string `json:"imp_secret"`
	}{c.key, c.secret}
	var tok Token
	if err := c.do(ctx, call{method: "POST", endpoint: tokenEndpoint, path: tokenEndpoint, body: body, noAuth: true}, &tok); err != nil {
		return nil, err
	}
	if tok.AccessToken == "" || len(tok.AccessToken) > tokenMaxLength || !validHeaderValue(tok.AccessToken) {
		return nil, &TransportError{Method: "POST", Endpoint: tokenEndpoint, Sent: true, Err: errors.New("answer holds no usable access_token")}
	}
	t := &cachedToken{value: tok.AccessToken, header: bearerPrefix + tok.AccessToken}
	ttl := time.Duration(0)
	if tok.ExpiredAt > 0 && tok.Now > 0 && tok.ExpiredAt > tok.Now {
		// Compare in seconds: multiplying a huge span by time.Second would overflow.
		ttl = maxTokenTTL
		if secs := int64(tok.ExpiredAt - tok.Now); secs < int64(maxTokenTTL/time.Second) {
			ttl = time.Duration(secs) * time.Second
		}
	}
	// Without a usable lifetime the token serves the request that fetched it only.
	t.expires = sentAt.Add(ttl - tokenMarginFor(ttl))
	t.expiry = sentAt.Add(ttl).Round(0)
	return t, nil
}

// validHeaderValue reports whether s can be sent in a header unchanged: visible ASCII.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}
