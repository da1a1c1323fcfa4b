package iamport

import (
	"context"
	"errors"
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
	t, err := c.fetchToken(ctx)
	tc.fetches.Add(1)
	tc.lastErr = nil
	if err != nil {
		if ctx.Err() == nil {
			tc.lastErr = err
		}
		return nil, err
	}
	tc.cur.Store(t)
	return t, nil
}

// fetchToken performs POST /users/getToken.
func (c *Client) fetchToken(ctx context.Context) (*cachedToken, error) {
	body := struct {
		Key    string `json:"imp_key"`
		Secret string `json:"imp_secret"`
	}{c.key, c.secret}
	sentAt := c.now()
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
