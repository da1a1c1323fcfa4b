package demo

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/internal/httpapi"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var liveEnv = map[string]string{
	EnvIMPCode:   "imp12345678",
	EnvIMPKey:    "live_key_1234",
	EnvIMPSecret: "live-secret-do-not-print-9f3a",
}

func TestParseConfig(t *testing.T) {
	t.Run("sandbox by default", func(t *testing.T) {
		cfg, err := ParseConfig("net/http", nil, envOf(nil), io.Discard)
		require.NoError(t, err)
		assert.Equal(t, ModeSandbox, cfg.Mode)
		assert.Equal(t, DefaultAddr, cfg.Addr)
		assert.Equal(t, "billkey-demo-nethttp.db", cfg.DBPath)
		assert.Empty(t, cfg.PostgresDSN)
		assert.Empty(t, cfg.IMPSecret)
		assert.Empty(t, cfg.IAMPortURL)
		assert.True(t, cfg.PrivateFake())
		assert.Equal(t, DefaultTimeouts, cfg.Timeouts)
	})
	t.Run("each example its own database file", func(t *testing.T) {
		seen := map[string]string{}
		for _, fw := range []string{"net/http", "gin", "fiber"} {
			for _, env := range []map[string]string{nil, liveEnv} {
				cfg, err := ParseConfig(fw, nil, envOf(env), io.Discard)
				require.NoError(t, err)
				other, dup := seen[cfg.DBPath]
				assert.False(t, dup, "%s %s shares %s with %s", fw, cfg.Mode, cfg.DBPath, other)
				seen[cfg.DBPath] = fw + " " + cfg.Mode.String()
			}
		}
		assert.Contains(t, seen, "billkey-demo-gin.db")
		assert.Contains(t, seen, "billkey-demo-fiber-live.db")
	})
	t.Run("iamport base URL", func(t *testing.T) {
		for _, src := range []struct {
			args []string
			env  map[string]string
		}{
			{args: []string{"-iamport-url", "http://127.0.0.1:8099/"}},
			{env: map[string]string{EnvIAMPortURL: "http://127.0.0.1:8099"}},
		} {
			cfg, err := ParseConfig("gin", src.args, envOf(src.env), io.Discard)
			require.NoError(t, err)
			assert.Equal(t, ModeSandbox, cfg.Mode)
			assert.Equal(t, "http://127.0.0.1:8099", cfg.IAMPortURL)
			assert.False(t, cfg.PrivateFake(), "a shared fake")
		}
		for _, ok := range []string{"https://api.iamport.kr", "http://localhost:8099", "http://[::1]:8099/fake/", "https://proxy.example/iamport"} {
			cfg, err := ParseConfig("gin", []string{"-iamport-url", ok}, envOf(nil), io.Discard)
			require.NoError(t, err, ok)
			assert.NotContains(t, cfg.IAMPortURL[len("https://"):], "//")
			assert.False(t, strings.HasSuffix(cfg.IAMPortURL, "/"), ok)
		}
		for _, bad := range []string{"127.0.0.1:8099", "ftp://127.0.0.1", "http://fake.example:8099", "http://10.0.0.5:8099",
			"https://u:p@api.iamport.kr", "https://api.iamport.kr?x=1", "https://api.iamport.kr#f", "https://"} {
			_, err := ParseConfig("gin", []string{"-iamport-url", bad}, envOf(nil), io.Discard)
			assert.Error(t, err, bad)
		}
		cfg, err := ParseConfig("fiber", []string{"-iamport-url", "https://api.iamport.kr"}, envOf(liveEnv), io.Discard)
		require.NoError(t, err)
		assert.Equal(t, ModeLive, cfg.Mode)
		assert.False(t, cfg.PrivateFake())
	})
	t.Run("flags win over the environment", func(t *testing.T) {
		cfg, err := ParseConfig("gin", []string{"-addr", "127.0.0.1:0", "-db", "/tmp/x.db"},
			envOf(map[string]string{EnvAddr: "0.0.0.0:9", EnvDB: "env.db", EnvPostgresDSN: "postgres://u:p@h/db"}), io.Discard)
		require.NoError(t, err)
		assert.Equal(t, "127.0.0.1:0", cfg.Addr)
		assert.Equal(t, "/tmp/x.db", cfg.DBPath)
		assert.Equal(t, "postgres://u:p@h/db", cfg.PostgresDSN)
		assert.Equal(t, "PostgreSQL ("+EnvPostgresDSN+" / -postgres)", cfg.Storage(), "the DSN (with its password) is never shown")
	})
	t.Run("live with all three credentials", func(t *testing.T) {
		cfg, err := ParseConfig("fiber", nil, envOf(liveEnv), io.Discard)
		require.NoError(t, err)
		assert.Equal(t, ModeLive, cfg.Mode)
		assert.Equal(t, "imp12345678", cfg.IMPCode)
		assert.Equal(t, "billkey-demo-fiber-live.db", cfg.DBPath, "live records never share the sandbox's file")
		assert.False(t, cfg.TestChannel)
	})
	t.Run("live test channel", func(t *testing.T) {
		env := map[string]string{EnvTestChannel: "1"}
		for k, v := range liveEnv {
			env[k] = v
		}
		cfg, err := ParseConfig("fiber", nil, envOf(env), io.Discard)
		require.NoError(t, err)
		assert.True(t, cfg.TestChannel)
	})
	t.Run("partial credentials are refused", func(t *testing.T) {
		for _, missing := range []string{EnvIMPCode, EnvIMPKey, EnvIMPSecret} {
			env := map[string]string{}
			for k, v := range liveEnv {
				if k != missing {
					env[k] = v
				}
			}
			_, err := ParseConfig("net/http", nil, envOf(env), io.Discard)
			require.Error(t, err, "without %s", missing)
			assert.Contains(t, err.Error(), missing+" missing")
			assert.NotContains(t, err.Error(), liveEnv[EnvIMPSecret])
		}
		_, err := ParseConfig("net/http", nil, envOf(map[string]string{EnvIMPSecret: "s"}), io.Discard)
		require.Error(t, err)
	})
	t.Run("the sandbox never runs with credentials", func(t *testing.T) {
		_, err := ParseConfig("net/http", []string{"-sandbox"}, envOf(liveEnv), io.Discard)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "-sandbox cannot run with real iamport credentials")
		_, err = ParseConfig("net/http", []string{"-sandbox"}, envOf(map[string]string{EnvIMPKey: "k"}), io.Discard)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "-sandbox cannot run")

		cfg, err := ParseConfig("net/http", []string{"-sandbox"}, envOf(nil), io.Discard)
		require.NoError(t, err)
		assert.Equal(t, ModeSandbox, cfg.Mode)
	})
	t.Run("live without credentials is refused", func(t *testing.T) {
		_, err := ParseConfig("net/http", []string{"-sandbox=false"}, envOf(nil), io.Discard)
		require.Error(t, err)
	})
	t.Run("test channel is live only", func(t *testing.T) {
		_, err := ParseConfig("net/http", []string{"-test-channel"}, envOf(nil), io.Discard)
		require.Error(t, err)
		_, err = ParseConfig("net/http", nil, envOf(map[string]string{EnvTestChannel: "maybe"}), io.Discard)
		require.Error(t, err)
	})
	t.Run("clock skew is sandbox only and bounded", func(t *testing.T) {
		cfg, err := ParseConfig("net/http", []string{"-clock-skew", "-7s"}, envOf(nil), io.Discard)
		require.NoError(t, err)
		assert.Equal(t, -7*time.Second, cfg.ClockSkew)
		_, err = ParseConfig("net/http", []string{"-clock-skew", "2h"}, envOf(nil), io.Discard)
		require.Error(t, err)
		live := map[string]string{EnvIMPCode: "imp_1", EnvIMPKey: "k", EnvIMPSecret: "s"}
		_, err = ParseConfig("net/http", []string{"-clock-skew", "5s"}, envOf(live), io.Discard)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "sandbox only")
	})
	t.Run("public url is an origin", func(t *testing.T) {
		cfg, err := ParseConfig("net/http", []string{"-public-url", "https://shop.example.com/"}, envOf(nil), io.Discard)
		require.NoError(t, err)
		assert.Equal(t, "https://shop.example.com", cfg.PublicURL)
		for _, bad := range []string{"shop.example.com", "ftp://x", "https://u:p@x", "https://x/path", "https://x?q", "https://"} {
			_, err := ParseConfig("net/http", []string{"-public-url", bad}, envOf(nil), io.Discard)
			assert.Error(t, err, bad)
		}
	})
	t.Run("help and stray arguments", func(t *testing.T) {
		_, err := ParseConfig("net/http", []string{"-h"}, envOf(nil), io.Discard)
		assert.ErrorIs(t, err, flag.ErrHelp)
		_, err = ParseConfig("net/http", []string{"extra"}, envOf(nil), io.Discard)
		assert.Error(t, err)
		_, err = ParseConfig("net/http", []string{"-addr", " "}, envOf(nil), io.Discard)
		assert.Error(t, err)
	})
}

func TestSessionCookie(t *testing.T) {
	s, err := newSessions(false)
	require.NoError(t, err)
	c := s.cookie(Users[0])
	assert.True(t, c.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, c.SameSite)
	assert.Equal(t, "/", c.Path)

	u, ok := s.user(c.Value)
	require.True(t, ok)
	assert.Equal(t, "alice", u.ID)

	id, rest, _ := strings.Cut(c.Value, ".")
	require.Equal(t, "alice", id)
	exp, mac, _ := strings.Cut(rest, ".")
	tampered := map[string]string{
		"other user, same mac":  "bob." + rest,
		"longer expiry":         id + ".9" + exp + "." + mac,
		"flipped mac":           id + "." + exp + "." + flip(mac),
		"no mac":                id + "." + exp,
		"empty mac":             id + "." + exp + ".",
		"empty":                 "",
		"garbage":               "....",
		"unknown user, own mac": "mallory." + exp + "." + s.sign("mallory."+exp),
		"huge":                  strings.Repeat("a", 10000),
	}
	for name, v := range tampered {
		_, ok := s.user(v)
		assert.False(t, ok, name)
	}

	// Another process (another key) does not accept it.
	other, err := newSessions(false)
	require.NoError(t, err)
	_, ok = other.user(c.Value)
	assert.False(t, ok, "a cookie signed with another key")

	// Expired.
	s.now = func() time.Time { return time.Now().Add(sessionLifetime + time.Minute) }
	_, ok = s.user(c.Value)
	assert.False(t, ok, "expired")
}

func flip(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}

func TestMessages(t *testing.T) {
	known := []string{codes.Unauthenticated, codes.CrossSiteRequest, codes.NotFound,
		codes.BodyTooLarge, codes.UnsupportedMediaType, codes.InvalidRequest, codes.PlanUnknown,
		codes.IdempotencyKeyRequired, codes.IdempotencyKeyReused, codes.IssuanceExpired,
		codes.IssuanceSettled, codes.IssuanceFailed, codes.IssuancePending, codes.BillingKeyMissing,
		codes.CardDeclined, codes.PaymentMismatch, codes.ChargeInProgress, codes.UpstreamUnavailable,
		codes.Internal, codes.Conflict, MsgIssued, MsgPaid, MsgRemoved}
	for _, c := range known {
		m, ok := messages[c]
		require.True(t, ok, "no words for %q", c)
		assert.NotEmpty(t, m.KO, c)
		assert.NotEmpty(t, m.EN, c)
		assert.Contains(t, []string{"ok", "info", "error"}, m.Kind, c)
	}
	assert.Equal(t, messages[codes.Internal], MessageFor("no_such_code"))
	assert.Equal(t, "9,900원", formatWon(9900))
	assert.Equal(t, "1,234,567원", formatWon(1234567))
	assert.Equal(t, "0원", formatWon(0))
}

// newTestApp builds a sandbox App on a real loopback listener (the client reaches the
// fake through it) and serves its pages.
func newTestApp(t *testing.T, args ...string) (*App, string) {
	t.Helper()
	return serveTestApp(t, nil, func(app *App) http.Handler { return app.Handler() }, args...)
}

// serveTestApp builds an App from args (sandbox unless env says otherwise; a fresh SQLite
// file unless args name storage) on a loopback listener, and serves what handler makes of
// it until the test ends.
func serveTestApp(t *testing.T, env map[string]string, handler func(*App) http.Handler, args ...string) (*App, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	args = append([]string{"-db", filepath.Join(t.TempDir(), "demo.db")}, args...)
	cfg, err := ParseConfig("test", args, envOf(env), io.Discard)
	require.NoError(t, err)
	app, err := NewApp(context.Background(), cfg, ln.Addr(), io.Discard)
	if err != nil {
		_ = ln.Close()
	}
	require.NoError(t, err)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: handler(app)}}
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		app.Close()
	})
	return app, srv.URL
}

// liveFake is a fake iamport that accepts the credentials of liveEnv, standing in for the
// real one (tests never leave loopback).
func liveFake(t *testing.T) *iamporttest.Server {
	t.Helper()
	srv := iamporttest.NewServer(iamporttest.WithCredentials(liveEnv[EnvIMPKey], liveEnv[EnvIMPSecret]))
	t.Cleanup(srv.Close)
	return srv
}

func TestAppPages(t *testing.T) {
	app, base := newTestApp(t)
	jar := &cookieJar{}
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := client.Get(base + path)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res, string(b)
	}

	res, _ := get("/")
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Equal(t, "/login", res.Header.Get("Location"))

	res, body := get("/login")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, `id="login-alice"`)
	assert.Contains(t, body, `id="sandbox-banner"`)
	assert.Contains(t, res.Header.Get("Content-Security-Policy"), "default-src 'self'")

	// A cross-site login form is refused.
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader("user=alice"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Empty(t, jar.cookies)
	// So is one from a browser that sends only Origin (no Sec-Fetch-Site).
	req, _ = http.NewRequest(http.MethodPost, base+"/login", strings.NewReader("user=alice"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	res, err = client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Empty(t, jar.cookies)

	res, err = client.PostForm(base+"/login", url.Values{"user": {"alice"}})
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	require.Len(t, jar.cookies, 1)

	req = httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(jar.cookies[0])
	buyer, ok := app.UserFromRequest(req)
	require.True(t, ok)
	assert.Equal(t, core.Buyer{UserID: "alice", Name: "Alice Kim", Email: "alice@example.com", Tel: "010-1234-5678"}, buyer)
	buyer2, ok := app.UserFromCookie(jar.cookies[0].Value)
	require.True(t, ok)
	assert.Equal(t, buyer, buyer2)
	_, ok = app.UserFromCookie(jar.cookies[0].Value + "x")
	assert.False(t, ok)

	res, body = get("/")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	for _, id := range []string{`id="register-card"`, `id="plan-basic-subscribe"`, `id="plan-pro-subscribe"`,
		`id="charges"`, `id="message"`, `data-prefix="/billing"`, "9,900원", "29,000원"} {
		assert.Contains(t, body, id)
	}

	res, body = get("/static/app.js")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, "billing-key/request")
	res, _ = get("/static/nope.js")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)

	res, body = get(FakePrefix + "/iamport.js")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, "request_pay")

	// The result page shows words for known codes only; anything else is the generic text.
	res, body = get("/result?result=issued")
	assert.Equal(t, http.StatusOK, res.StatusCode)
	assert.Contains(t, body, `data-code="issued"`)
	assert.Contains(t, body, messages[MsgIssued].EN)
	_, body = get("/result?result=" + url.QueryEscape(`<script>alert(1)</script>`))
	assert.Contains(t, body, `data-code="internal"`)
	assert.NotContains(t, body, "<script>alert")

	// A cross-site logout (Origin only) is refused and keeps the session.
	req, _ = http.NewRequest(http.MethodPost, base+"/logout", nil)
	req.Header.Set("Origin", "https://evil.example")
	res, err = client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Len(t, jar.cookies, 1)

	// The page's own form (Origin of this server) signs out.
	req, _ = http.NewRequest(http.MethodPost, base+"/logout", nil)
	req.Header.Set("Origin", base)
	res, err = client.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusSeeOther, res.StatusCode)
	assert.Empty(t, jar.cookies, "logout clears the cookie")
}

func TestUnauthenticated(t *testing.T) {
	rec := httptest.NewRecorder()
	WriteUnauthenticated(rec)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Equal(t, httpapi.ProblemContentType, rec.Header().Get("Content-Type"))
	// The very body billkey's own routes answer without a user.
	want := httptest.NewRecorder()
	httpapi.WriteError(want, &core.Error{Code: codes.Unauthenticated, Detail: "Sign in to use billing."})
	assert.Equal(t, want.Body.String(), rec.Body.String())
}

// Every code the messages table names is a code billkey answers with, or one of the
// page's own outcomes; and every code billkey can answer the page with has words.
func TestMessagesNameRealCodes(t *testing.T) {
	page := map[string]bool{}
	for _, c := range pageOutcomes {
		page[c] = true
		assert.Contains(t, messages, c)
	}
	for code := range messages {
		if page[code] {
			continue
		}
		_, known := codes.Lookup(code)
		assert.True(t, known, "%q is not a billkey code", code)
	}
	// Answered to iamport's webhook only, never to the page.
	notForPages := map[string]bool{codes.WebhookSourceForbidden: true}
	for _, code := range codes.All() {
		if !notForPages[code] {
			assert.Contains(t, messages, code, "no words for billkey's %q", code)
		}
	}
}

func TestBannerNeverShowsSecrets(t *testing.T) {
	upstream := liveFake(t)
	cfg, err := ParseConfig("net/http", []string{"-db", filepath.Join(t.TempDir(), "live.db"), "-iamport-url", upstream.URL}, envOf(liveEnv), io.Discard)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	app, err := NewApp(context.Background(), cfg, ln.Addr(), io.Discard)
	require.NoError(t, err)
	defer app.Close()
	b := Banner(app)
	assert.Contains(t, b, "LIVE")
	assert.NotContains(t, b, "SANDBOX")
	assert.Contains(t, b, "imp12345678")
	assert.Contains(t, b, upstream.URL)
	assert.NotContains(t, b, liveEnv[EnvIMPSecret])
	assert.NotContains(t, b, liveEnv[EnvIMPKey])
	assert.Nil(t, app.fake, "no fake in live mode")
	ir, err := app.Service().PrepareIssuance(context.Background(), core.Buyer{UserID: "alice"}, "")
	require.NoError(t, err)
	assert.Equal(t, LiveSDKURL, ir.SDKURL, "live pages load the real SDK")

	sbApp, _ := newTestApp(t)
	ir, err = sbApp.Service().PrepareIssuance(context.Background(), core.Buyer{UserID: "alice"}, "")
	require.NoError(t, err)
	assert.Equal(t, FakePrefix+"/iamport.js", ir.SDKURL, "sandbox pages load the fake's shim from this server")

	sb, _ := newTestApp(t)
	b = Banner(sb)
	assert.Contains(t, b, "SANDBOX — nothing here is real, no money moves")
	assert.Contains(t, b, "in-process fake")
	assert.Contains(t, b, iamporttest.CardOK)
	assert.Contains(t, b, iamporttest.CardDeclined)
	assert.Contains(t, b, HealthPath)
}

// TestRun starts the whole life cycle with a net/http wiring, serves a page, and stops
// gracefully when the context ends.
func TestRun(t *testing.T) {
	cfg, err := ParseConfig("test", []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(t.TempDir(), "demo.db")}, envOf(nil), io.Discard)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, cfg, out, func(app *App) (Server, error) {
			srv := &http.Server{Handler: app.Handler()}
			return Server{Serve: srv.Serve, Shutdown: srv.Shutdown}, nil
		})
	}()
	var base string
	require.Eventually(t, func() bool {
		for _, line := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(line, ListeningPrefix) {
				base = strings.TrimPrefix(line, ListeningPrefix)
				return true
			}
		}
		return false
	}, 30*time.Second, 10*time.Millisecond)
	assert.Contains(t, out.String(), "SANDBOX")
	res, err := http.Get(base + "/login")
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusOK, res.StatusCode)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(ShutdownTimeout + 5*time.Second):
		t.Fatal("Run did not return after the context ended")
	}
	assert.Contains(t, out.String(), "shutting down")

	// A wiring that fails is reported, and nothing keeps listening.
	err = Run(context.Background(), cfg, io.Discard, func(*App) (Server, error) { return Server{}, errors.New("boom") })
	assert.EqualError(t, err, "boom")
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// cookieJar is a minimal jar for one host: it keeps the latest value of each cookie
// and drops deleted ones.
type cookieJar struct {
	mu      sync.Mutex
	cookies []*http.Cookie
}

func (j *cookieJar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, c := range cs {
		kept := j.cookies[:0]
		for _, old := range j.cookies {
			if old.Name != c.Name {
				kept = append(kept, old)
			}
		}
		j.cookies = kept
		if c.MaxAge >= 0 && c.Value != "" {
			j.cookies = append(j.cookies, c)
		}
	}
}

func (j *cookieJar) Cookies(*url.URL) []*http.Cookie {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]*http.Cookie(nil), j.cookies...)
}

// TestSandboxClientKeepsNoConnection: the sandbox's iamport client reaches the fake
// through the example's own server, so a connection it kept open (an idle keep-alive one,
// or a spare one dialled for a request that another connection then served) would be one
// the server waits for at shutdown. Fiber counts a connection that has not sent a request
// as active, and its shutdown then ran into ShutdownTimeout. Once its calls are answered,
// the client holds no connection to the server.
func TestSandboxClientKeepsNoConnection(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg, err := ParseConfig("test", []string{"-db", filepath.Join(t.TempDir(), "demo.db")}, envOf(nil), io.Discard)
	require.NoError(t, err)
	app, err := NewApp(context.Background(), cfg, ln.Addr(), io.Discard)
	require.NoError(t, err)

	var (
		mu      sync.Mutex
		open    = map[net.Conn]bool{}
		dialled int
		closed  = make(chan struct{}, 1)
	)
	srv := &http.Server{Handler: app.Handler(), ConnState: func(c net.Conn, s http.ConnState) {
		mu.Lock()
		defer mu.Unlock()
		switch s {
		case http.StateNew:
			open[c] = true
			dialled++
		case http.StateClosed, http.StateHijacked:
			delete(open, c)
			select {
			case closed <- struct{}{}:
			default:
			}
		}
	}}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		<-served
		app.Close()
	})

	// Concurrent lookups: the transport dials while other connections come free.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 5 {
				_, err := app.client.GetPayment(ctx, "imp_000000000000", true)
				assert.ErrorIs(t, err, iamport.ErrNotFound)
			}
		})
	}
	wg.Wait()

	mu.Lock()
	assert.Positive(t, dialled, "the calls went through the server")
	mu.Unlock()
	wait := time.NewTimer(10 * time.Second)
	defer wait.Stop()
	for {
		mu.Lock()
		n := len(open)
		mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-closed:
		case <-wait.C:
			t.Fatalf("the sandbox client still holds %d connection(s) to the server", n)
		}
	}
}
