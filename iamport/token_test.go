package iamport

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeClock is a local clock the test moves by hand. It starts from time.Now(), so it
// carries a monotonic reading like the real clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

func okPayment(w http.ResponseWriter, r *http.Request) {
	writeEnv(w, 200, 0, "", map[string]any{"imp_uid": "imp_1", "merchant_uid": "m_1", "amount": 1000, "status": "paid"})
}

func TestTokenSingleFlight(t *testing.T) {
	s := newStub(t, okPayment)
	gate := make(chan struct{})
	s.tokenGate = gate
	c := newStubClient(t, s)

	const callers = 1000
	var wg sync.WaitGroup
	var failures atomic.Int64
	start := make(chan struct{})
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := c.GetPayment(context.Background(), "imp_1", false); err != nil {
				failures.Add(1)
			}
		}()
	}
	close(start)
	// Hold the first getToken until it has certainly been asked for, so the other
	// callers pile up behind it.
	require.Eventually(t, func() bool { return s.getTokens.Load() >= 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	close(gate)
	wg.Wait()

	assert.Zero(t, failures.Load())
	assert.Equal(t, int64(1), s.getTokens.Load(), "exactly one getToken for %d concurrent calls", callers)
	assert.Equal(t, int64(callers), s.requests.Load())
}

func TestTokenConcurrentTokenCalls(t *testing.T) {
	s := newStub(t, nil)
	c := newStubClient(t, s)
	var wg sync.WaitGroup
	tokens := make([]string, 1000)
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := c.Token(context.Background())
			assert.NoError(t, err)
			tokens[i] = tok
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(1), s.getTokens.Load())
	for _, tok := range tokens {
		assert.Equal(t, "tok_1_secret_value", tok)
	}
}

func TestTokenSkewedClocks(t *testing.T) {
	for _, skew := range []time.Duration{10 * time.Minute, -10 * time.Minute, 3 * time.Hour, -3 * time.Hour} {
		t.Run(skew.String(), func(t *testing.T) {
			s := newStub(t, okPayment)
			s.serverNow = func() time.Time { return time.Now().Add(skew) }
			clock := &fakeClock{t: time.Now()}
			c := newStubClient(t, s)
			c.now = clock.now

			for range 5 {
				_, err := c.GetPayment(context.Background(), "imp_1", false)
				require.NoError(t, err)
			}
			assert.Equal(t, int64(1), s.getTokens.Load(), "the token is reused whatever the skew")

			// 30 min lifetime, 30 s margin: still fresh at 29m29s, stale at 29m31s.
			clock.advance(29*time.Minute + 29*time.Second)
			_, err := c.GetPayment(context.Background(), "imp_1", false)
			require.NoError(t, err)
			assert.Equal(t, int64(1), s.getTokens.Load())
			clock.advance(2 * time.Second)
			_, err = c.GetPayment(context.Background(), "imp_1", false)
			require.NoError(t, err)
			assert.Equal(t, int64(2), s.getTokens.Load(), "refreshed before the server's expiry")
		})
	}
}

func TestTokenShortLifetimeMargin(t *testing.T) {
	s := newStub(t, nil)
	s.ttl = 10 * time.Second
	clock := &fakeClock{t: time.Now()}
	c := newStubClient(t, s)
	c.now = clock.now
	_, err := c.Token(context.Background())
	require.NoError(t, err)
	clock.advance(8900 * time.Millisecond) // margin is a tenth: 1 s
	_, err = c.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(1), s.getTokens.Load())
	clock.advance(200 * time.Millisecond)
	_, err = c.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(2), s.getTokens.Load())

	assert.Equal(t, 30*time.Second, tokenMarginFor(30*time.Minute))
	assert.Equal(t, time.Second, tokenMarginFor(10*time.Second))
	assert.Equal(t, time.Duration(0), tokenMarginFor(0))
}

func TestTokenWithoutLifetimeIsNotCached(t *testing.T) {
	s := newStub(t, nil)
	s.ttl = 0 // expired_at == now: no usable lifetime
	c := newStubClient(t, s)
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "tok_1_secret_value", tok)
	_, err = c.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(2), s.getTokens.Load())
}

// TestTokenHugeLifetimeIsCapped: an absurd expired_at (int64 max, or far enough that
// seconds→Duration would overflow) is capped at maxTokenTTL, not wrapped into a negative
// or arbitrary lifetime.
func TestTokenHugeLifetimeIsCapped(t *testing.T) {
	for _, exp := range []int64{math.MaxInt64, time.Now().Unix() + 18446744073, time.Now().Unix() + 18446744134} {
		s := newStub(t, nil)
		s.expiredAt = exp
		clock := &fakeClock{t: time.Now()}
		c := newStubClient(t, s)
		c.now = clock.now
		for range 3 {
			_, err := c.Token(context.Background())
			require.NoError(t, err)
		}
		assert.Equal(t, int64(1), s.getTokens.Load(), "expired_at %d: the token is cached", exp)
		clock.advance(maxTokenTTL - tokenMargin - time.Second)
		_, err := c.Token(context.Background())
		require.NoError(t, err)
		assert.Equal(t, int64(1), s.getTokens.Load(), "expired_at %d: cached for the capped lifetime", exp)
		clock.advance(2 * time.Second)
		_, err = c.Token(context.Background())
		require.NoError(t, err)
		assert.Equal(t, int64(2), s.getTokens.Load(), "expired_at %d: refreshed after the cap", exp)
	}
}

func TestUnauthorizedMidFlightRefreshesOnce(t *testing.T) {
	s := newStub(t, okPayment)
	c := newStubClient(t, s)
	_, err := c.Token(context.Background())
	require.NoError(t, err)
	require.Equal(t, int64(1), s.getTokens.Load())

	// The server stops accepting the cached token (expired early, revoked, ...).
	fresh := s.rotate()
	const callers = 50
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.GetPayment(context.Background(), "imp_1", false)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, int64(2), s.getTokens.Load(), "one refresh for all the 401s")
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	assert.Equal(t, fresh, tok)
	assert.LessOrEqual(t, s.requests.Load(), int64(2*callers), "each call retried at most once")
}

func TestUnauthorizedOnPostRetriesOnce(t *testing.T) {
	var agains atomic.Int64
	s := newStub(t, againHandler(t, func(r AgainRequest) (int, int, string, any) {
		agains.Add(1)
		return 200, 0, "", paidPayment(r)
	}))
	c := newStubClient(t, s)
	_, err := c.Token(context.Background())
	require.NoError(t, err)
	s.rotate()
	p, err := c.Again(context.Background(), validAgain())
	require.NoError(t, err)
	assert.Equal(t, StatusPaid, p.Status)
	assert.Equal(t, int64(1), agains.Load(), "the 401 was not processed; the retry charged once")
	assert.Equal(t, int64(2), s.requests.Load())
}

func TestPersistentUnauthorized(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, r *http.Request) { writeEnv(w, 401, -1, "Unauthorized", nil) })
	c := newStubClient(t, s)
	_, err := c.GetPayment(context.Background(), "imp_1", false)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrUnauthorized)
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 401, ae.HTTPStatus)
	assert.Equal(t, int64(2), s.requests.Load(), "one retry after one refresh")
	assert.Equal(t, int64(2), s.getTokens.Load())
}

func TestBadCredentials(t *testing.T) {
	s := newStub(t, okPayment)
	c := newStubClient(t, s, func(cfg *Config) { cfg.Secret = "wrong_secret_value" })
	_, err := c.Token(context.Background())
	assert.ErrorIs(t, err, ErrUnauthorized)
	assert.NotContains(t, err.Error(), "wrong_secret_value")

	_, err = c.Again(context.Background(), validAgain())
	assert.ErrorIs(t, err, ErrUnauthorized)
	assert.ErrorIs(t, err, ErrNotSent, "the charge itself never left")
	assert.NotErrorIs(t, err, ErrOutcomeUnknown)
	assert.Zero(t, s.requests.Load())
}

func TestTokenFailureIsShared(t *testing.T) {
	s := newStub(t, okPayment)
	gate := make(chan struct{})
	s.tokenGate = gate
	c := newStubClient(t, s, func(cfg *Config) { cfg.Secret = "wrong_secret_value" })
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Token(context.Background())
			assert.ErrorIs(t, err, ErrUnauthorized)
		}()
	}
	require.Eventually(t, func() bool { return s.getTokens.Load() >= 1 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	close(gate)
	wg.Wait()
	// Callers that queued behind the failed fetch share its answer; only late arrivals
	// (none here, in practice) would ask again.
	assert.Less(t, s.getTokens.Load(), int64(10))
}

func TestTokenLeaderCancelled(t *testing.T) {
	s := newStub(t, nil)
	gate := make(chan struct{})
	s.tokenGate = gate
	c := newStubClient(t, s)

	leaderCtx, cancelLeader := context.WithCancel(context.Background())
	leaderErr := make(chan error, 1)
	go func() {
		_, err := c.Token(leaderCtx)
		leaderErr <- err
	}()
	require.Eventually(t, func() bool { return s.getTokens.Load() == 1 }, 5*time.Second, time.Millisecond)
	follower := make(chan error, 1)
	go func() {
		_, err := c.Token(context.Background())
		follower <- err
	}()
	cancelLeader()
	err := <-leaderErr
	assert.ErrorIs(t, err, context.Canceled)
	close(gate)
	// The follower does not inherit the leader's cancellation: it fetches for itself.
	require.NoError(t, <-follower)
	assert.Equal(t, int64(2), s.getTokens.Load())
}

func TestTokenWaitHonoursContext(t *testing.T) {
	s := newStub(t, nil)
	gate := make(chan struct{})
	s.tokenGate = gate
	c := newStubClient(t, s)
	go func() { _, _ = c.Token(context.Background()) }()
	require.Eventually(t, func() bool { return s.getTokens.Load() == 1 }, 5*time.Second, time.Millisecond)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := c.Again(ctx, validAgain())
	assert.ErrorIs(t, err, ErrNotSent)
	assert.ErrorIs(t, err, context.Canceled)
	close(gate)
	require.Eventually(t, func() bool { return c.tok.cur.Load() != nil }, 5*time.Second, time.Millisecond)
}

func TestCachedTokenDoesNotAllocate(t *testing.T) {
	s := newStub(t, nil)
	c := newStubClient(t, s)
	ctx := context.Background()
	_, err := c.Token(ctx)
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := c.Token(ctx); err != nil {
			panic(err)
		}
	})
	assert.Zero(t, allocs)
}

func TestTokenState(t *testing.T) {
	s := newStub(t, nil)
	c := newStubClient(t, s)
	assert.Equal(t, TokenState{}, c.TokenState(), "nothing before the first token")

	before := time.Now()
	tok, err := c.Token(context.Background())
	require.NoError(t, err)
	st := c.TokenState()
	assert.True(t, st.Valid)
	assert.False(t, st.FetchedAt.Before(before.Round(0)))
	assert.WithinDuration(t, st.FetchedAt.Add(30*time.Minute), st.ExpiresAt, time.Second, "the server's lifetime")
	assert.NoError(t, st.LastError)
	assert.Zero(t, st.LastErrorAt)
	assert.NotContains(t, fmt.Sprintf("%+v", st), tok)
	assert.Equal(t, uint64(1), st.Refreshes)
	assert.Zero(t, st.Failures)

	// The token goes stale on the local clock: no longer valid, no fetch made.
	c.now = func() time.Time { return time.Now().Add(time.Hour) }
	assert.False(t, c.TokenState().Valid)
	assert.Equal(t, int64(1), s.getTokens.Load())

	// A failed fetch is remembered with its time; the secret never shows.
	bad := newStubClient(t, s, func(cfg *Config) { cfg.Secret = "wrong_secret_value" })
	_, err = bad.Token(context.Background())
	require.Error(t, err)
	st = bad.TokenState()
	assert.False(t, st.Valid)
	assert.Zero(t, st.FetchedAt)
	require.Error(t, st.LastError)
	assert.ErrorIs(t, st.LastError, ErrUnauthorized)
	assert.Equal(t, uint64(1), st.Failures)
	assert.NotZero(t, st.LastErrorAt)
	assert.NotContains(t, st.LastError.Error(), "wrong_secret_value")
	assert.NotContains(t, st.LastError.Error(), stubSecret)

	// A caller giving up is not a token failure.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	fresh := newStubClient(t, s)
	_, err = fresh.Token(ctx)
	require.Error(t, err)
	assert.NoError(t, fresh.TokenState().LastError)
}
