package iamport

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// hijack takes the raw connection from the server side.
func hijack(t testing.TB, w http.ResponseWriter) (net.Conn, *bufio.ReadWriter) {
	conn, rw, err := http.NewResponseController(w).Hijack()
	require.NoError(t, err)
	return conn, rw
}

func TestAgainFaultClasses(t *testing.T) {
	cases := []struct {
		name    string
		handler func(t *testing.T, w http.ResponseWriter, r *http.Request)
		want    error
		timeout time.Duration
	}{
		{"close before reading the body", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			conn, _ := hijack(t, w)
			conn.Close()
		}, ErrOutcomeUnknown, 0},
		{"close after reading the body", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body)
			conn, _ := hijack(t, w)
			conn.Close()
		}, ErrOutcomeUnknown, 0},
		{"reset after reading", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body)
			conn, _ := hijack(t, w)
			if tc, ok := conn.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			conn.Close()
		}, ErrOutcomeUnknown, 0},
		{"truncated body", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body)
			conn, rw := hijack(t, w)
			_, _ = rw.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 400\r\n\r\n{\"code\":0,\"message\":null,\"response\":{\"imp_uid\":\"imp_1\",\"sta")
			_ = rw.Flush()
			conn.Close()
		}, ErrOutcomeUnknown, 0},
		{"headers then stall", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body)
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(200)
			_, _ = w.Write([]byte(`{"code":0,`))
			http.NewResponseController(w).Flush()
			<-r.Context().Done()
		}, ErrOutcomeUnknown, 100 * time.Millisecond},
		{"stall past the deadline", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body)
			<-r.Context().Done()
		}, ErrOutcomeUnknown, 100 * time.Millisecond},
		{"503", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			writeEnv(w, 503, 0, "", nil)
		}, ErrOutcomeUnknown, 0},
		{"500 html", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(500)
			_, _ = w.Write([]byte("<html>oops</html>"))
		}, ErrOutcomeUnknown, 0},
		{"200 not json", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("<html>maintenance</html>"))
		}, ErrOutcomeUnknown, 0},
		{"body over 1 MiB", func(t *testing.T, w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(`{"code":0,"message":"` + strings.Repeat("x", 2<<20) + `"}`))
		}, ErrOutcomeUnknown, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var agains atomic.Int64
			s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == epAgain {
					agains.Add(1)
				}
				tc.handler(t, w, r)
			})
			c := newStubClient(t, s)
			_, err := c.Token(context.Background())
			require.NoError(t, err)
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			p, err := c.Again(ctx, validAgain())
			assert.Nil(t, p)
			require.Error(t, err)
			assert.ErrorIs(t, err, tc.want)
			assert.NotErrorIs(t, err, ErrNotSent)
			var te *TransportError
			require.ErrorAs(t, err, &te)
			assert.True(t, te.Sent)
			assert.Equal(t, epAgain, te.Endpoint)
			assert.Equal(t, int64(1), agains.Load(), "never a second again")
		})
	}
}

// refusedURL returns a loopback URL nothing listens on.
func refusedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}

func TestDialRefusedIsNotSent(t *testing.T) {
	var dials atomic.Int64
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}}
	c, err := New(Config{Key: stubKey, Secret: stubSecret, BaseURL: refusedURL(t), HTTPClient: &http.Client{Transport: tr}})
	require.NoError(t, err)
	c.backoffBase, c.backoffCap = time.Millisecond, 2*time.Millisecond
	defer c.CloseIdleConnections()

	// The token fetch (idempotent) is retried MaxRetries times, then the call fails
	// without ever sending the charge.
	_, err = c.Again(context.Background(), validAgain())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrNotSent)
	assert.NotErrorIs(t, err, ErrOutcomeUnknown)
	assert.Equal(t, int64(1+DefaultMaxRetries), dials.Load())
	var opErr *net.OpError
	assert.ErrorAs(t, err, &opErr)
	assert.NotContains(t, err.Error(), "http://", "no URL in the error")
}

func TestDialRefusedOnChargeIsRetriedThenNotSent(t *testing.T) {
	// A token is cached, then the server goes away: the charge itself fails to dial.
	s := newStub(t, nil)
	c := newStubClient(t, s)
	_, err := c.Token(context.Background())
	require.NoError(t, err)
	var dials atomic.Int64
	c.hc = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
	}}}
	_, err = c.Again(context.Background(), validAgain())
	assert.ErrorIs(t, err, ErrNotSent)
	assert.Equal(t, int64(1+maxNotSentRetries), dials.Load(), "a provably unsent POST is retried a bounded number of times")
	assert.Zero(t, s.requests.Load())
}

func TestCancelledBeforeSendingIsNotSent(t *testing.T) {
	s := newStub(t, nil)
	c := newStubClient(t, s)
	_, err := c.Token(context.Background())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = c.Again(ctx, validAgain())
	assert.ErrorIs(t, err, ErrNotSent)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, s.requests.Load())
}

// faultRT fails chosen round trips. "before" fails without forwarding, like a dial error;
// "after" forwards the request to the real transport, throws the answer away and fails.
type faultRT struct {
	next  http.RoundTripper
	mu    sync.Mutex
	plan  []string // per round trip: "", "before", "after"
	count int
}

func (f *faultRT) RoundTrip(r *http.Request) (*http.Response, error) {
	f.mu.Lock()
	step := ""
	if f.count < len(f.plan) {
		step = f.plan[f.count]
	}
	f.count++
	f.mu.Unlock()
	switch step {
	case "before":
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("injected dial failure")}
	case "after":
		resp, err := f.next.RoundTrip(r)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return nil, errors.New("injected failure after sending")
	}
	return f.next.RoundTrip(r)
}

// TestNoBlindRetryOfAgain (R6): whatever point the transport fails at, the server never
// sees a second again for a merchant_uid without a lookup of it in between.
func TestNoBlindRetryOfAgain(t *testing.T) {
	plans := [][]string{
		{"", "before"},
		{"", "before", "before"},
		{"", "before", "before", "before"},
		{"", "after"},
		{"", "before", "after"},
		{"", "after", "after"},
		{"after", "", "after"},
	}
	for _, plan := range plans {
		t.Run(strings.Join(plan, ","), func(t *testing.T) {
			s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == epAgain {
					_, _ = io.Copy(io.Discard, r.Body)
					writeEnv(w, 200, 0, "", paidPayment(validAgain()))
					return
				}
				writeEnv(w, 200, 0, "", paidPayment(validAgain())) // lookups find the payment
			})
			rt := &faultRT{next: &http.Transport{}, plan: plan}
			c := newStubClient(t, s, func(cfg *Config) { cfg.HTTPClient = &http.Client{Transport: rt} })
			defer rt.next.(*http.Transport).CloseIdleConnections()

			// A caller that follows the package's rules: retry only what was not sent;
			// after an unknown outcome, look up before anything else.
			for range 3 {
				p, err := c.Again(context.Background(), validAgain())
				if err == nil {
					assert.Equal(t, StatusPaid, p.Status)
					break
				}
				if errors.Is(err, ErrOutcomeUnknown) {
					if _, err := c.FindPayment(context.Background(), validAgain().MerchantUID, StatusPaid); err == nil {
						break
					}
					continue
				}
				require.ErrorIs(t, err, ErrNotSent)
			}
			agains := 0
			for _, call := range s.calls() {
				switch {
				case call == "POST "+epAgain:
					agains++
					require.LessOrEqual(t, agains, 1, "second again without a lookup: %v", s.calls())
				case strings.HasPrefix(call, "GET /payments/"):
					agains = 0
				}
			}
		})
	}
}

func TestGetRetries(t *testing.T) {
	t.Run("5xx then success", func(t *testing.T) {
		var n atomic.Int64
		s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) <= 2 {
				writeEnv(w, 502, -1, "bad gateway", nil)
				return
			}
			okPayment(w, r)
		})
		c := newStubClient(t, s)
		_, err := c.GetPayment(context.Background(), "imp_1", false)
		require.NoError(t, err)
		assert.Equal(t, int64(3), s.requests.Load())
	})
	t.Run("bounded", func(t *testing.T) {
		s := newStub(t, func(w http.ResponseWriter, r *http.Request) { writeEnv(w, 503, -1, "busy", nil) })
		c := newStubClient(t, s, func(cfg *Config) { cfg.MaxRetries = 2 })
		_, err := c.GetPayment(context.Background(), "imp_1", false)
		var ae *APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, 503, ae.HTTPStatus)
		assert.Equal(t, int64(3), s.requests.Load())
	})
	t.Run("disabled", func(t *testing.T) {
		s := newStub(t, func(w http.ResponseWriter, r *http.Request) { writeEnv(w, 503, -1, "busy", nil) })
		c := newStubClient(t, s, func(cfg *Config) { cfg.MaxRetries = -1 })
		_, err := c.GetPayment(context.Background(), "imp_1", false)
		require.Error(t, err)
		assert.Equal(t, int64(1), s.requests.Load())
	})
	t.Run("transport failures", func(t *testing.T) {
		var n atomic.Int64
		s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) <= 2 {
				conn, _ := hijack(t, w)
				conn.Close()
				return
			}
			okPayment(w, r)
		})
		c := newStubClient(t, s)
		_, err := c.FindPayment(context.Background(), "m_1", "")
		require.NoError(t, err)
		assert.Equal(t, int64(3), s.requests.Load())
	})
	t.Run("429", func(t *testing.T) {
		var n atomic.Int64
		s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1) == 1 {
				writeEnv(w, 429, -1, "slow down", nil)
				return
			}
			okPayment(w, r)
		})
		c := newStubClient(t, s)
		_, err := c.GetPayment(context.Background(), "imp_1", false)
		require.NoError(t, err)
		assert.Equal(t, int64(2), s.requests.Load())
	})
	t.Run("4xx is not retried", func(t *testing.T) {
		s := newStub(t, func(w http.ResponseWriter, r *http.Request) { writeEnv(w, 400, -1, "bad", nil) })
		c := newStubClient(t, s)
		_, err := c.FindAllPayments(context.Background(), FindAllRequest{MerchantUID: "m"})
		require.Error(t, err)
		assert.Equal(t, int64(1), s.requests.Load())
	})
	t.Run("5xx worded like not-found is not ErrNotFound", func(t *testing.T) {
		// A reconciliation lookup that failed must not read as "nothing there": that
		// would license a second again.
		s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
			writeEnv(w, 503, -1, "존재하지 않는 결제정보입니다.", nil)
		})
		c := newStubClient(t, s, func(cfg *Config) { cfg.MaxRetries = 1 })
		_, err := c.FindPayment(context.Background(), "m_1", StatusPaid)
		assert.ErrorIs(t, err, ErrOutcomeUnknown)
		assert.NotErrorIs(t, err, ErrNotFound)
		_, err = c.GetCustomer(context.Background(), "c_1")
		assert.NotErrorIs(t, err, ErrNotFound)
	})
	t.Run("POST 5xx is not retried", func(t *testing.T) {
		s := newStub(t, func(w http.ResponseWriter, r *http.Request) { writeEnv(w, 500, -1, "oops", nil) })
		c := newStubClient(t, s)
		_, err := c.CancelPayment(context.Background(), CancelRequest{ImpUID: "imp_1"})
		assert.ErrorIs(t, err, ErrOutcomeUnknown)
		_, err = c.Schedule(context.Background(), ScheduleRequest{CustomerUID: "c", Schedules: []ScheduleEntry{{MerchantUID: "s", ScheduleAt: 1, Amount: 1, Name: "n"}}})
		assert.ErrorIs(t, err, ErrOutcomeUnknown)
		_, err = c.DeleteCustomer(context.Background(), "c", "")
		assert.ErrorIs(t, err, ErrOutcomeUnknown)
		assert.Equal(t, int64(3), s.requests.Load())
	})
}

func TestBackoffStopsWithContext(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, r *http.Request) { writeEnv(w, 503, -1, "busy", nil) })
	c := newStubClient(t, s)
	c.backoffBase, c.backoffCap = time.Hour, time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.GetPayment(ctx, "imp_1", false)
	require.Error(t, err)
	assert.Equal(t, int64(1), s.requests.Load(), "no sleep past the deadline: give up at once")

	// A sleeping backoff ends when the context is cancelled.
	c.backoffBase, c.backoffCap = time.Hour, time.Hour
	ctx2, cancel2 := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- c.backoff(ctx2, 0) }()
	cancel2()
	assert.False(t, <-done)
}

func TestBackoffIsBoundedAndJittered(t *testing.T) {
	c := &Client{backoffBase: 0, backoffCap: 0}
	assert.True(t, c.backoff(context.Background(), 3))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.False(t, c.backoff(ctx, 0))
}

// closeTracker counts response bodies opened and closed.
type closeTracker struct {
	next           http.RoundTripper
	opened, closed atomic.Int64
}

type trackedBody struct {
	io.ReadCloser
	once sync.Once
	t    *closeTracker
}

func (b *trackedBody) Close() error {
	b.once.Do(func() { b.t.closed.Add(1) })
	return b.ReadCloser.Close()
}

func (c *closeTracker) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	c.opened.Add(1)
	resp.Body = &trackedBody{ReadCloser: resp.Body, t: c}
	return resp, nil
}

func TestBodiesAlwaysClosed(t *testing.T) {
	var n atomic.Int64
	s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
		switch n.Add(1) % 6 {
		case 0:
			okPayment(w, r)
		case 1:
			writeEnv(w, 503, -1, "busy", nil)
		case 2:
			_, _ = w.Write([]byte(strings.Repeat("x", 2<<20)))
		case 3:
			writeEnv(w, 404, -1, "존재하지 않는 결제정보입니다.", nil)
		case 4:
			_, _ = w.Write([]byte(`{"code":0,"response":{"amount":"x"}}`))
		case 5:
			writeEnv(w, 200, 1, "error", nil)
		}
	})
	tr := &closeTracker{next: &http.Transport{}}
	defer tr.next.(*http.Transport).CloseIdleConnections()
	c := newStubClient(t, s, func(cfg *Config) { cfg.HTTPClient = &http.Client{Transport: tr}; cfg.MaxRetries = -1 })
	for range 12 {
		_, _ = c.GetPayment(context.Background(), "imp_1", false)
		_, _ = c.Again(context.Background(), validAgain())
	}
	assert.Greater(t, tr.opened.Load(), int64(24))
	assert.Equal(t, tr.opened.Load(), tr.closed.Load())
}

func TestConnectionsAreReused(t *testing.T) {
	var conns atomic.Int64
	s := newStubWith(t, okPayment, func(srv *httptest.Server) {
		srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				conns.Add(1)
			}
		}
	})
	c := newStubClient(t, s)
	for range 20 {
		_, err := c.GetPayment(context.Background(), "imp_1", false)
		require.NoError(t, err)
	}
	assert.Equal(t, int64(1), conns.Load(), "one keep-alive connection for serial calls")
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	s := newStub(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/payments/other", http.StatusFound)
	})
	c := newStubClient(t, s)
	_, err := c.Again(context.Background(), validAgain())
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 302, ae.HTTPStatus)
	assert.Equal(t, int64(1), s.requests.Load())
}
