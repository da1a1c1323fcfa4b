package demo

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	billkeyhttp "github.com/billkey/billkey/adapters/nethttp"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/internal/pgtest"
)

// newAppErr is NewApp on a loopback listener address for args and env, for tests of
// what NewApp refuses.
func newAppErr(t *testing.T, env map[string]string, args ...string) (*App, error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	cfg, err := ParseConfig("test", args, envOf(env), io.Discard)
	require.NoError(t, err)
	app, err := NewApp(context.Background(), cfg, ln.Addr(), io.Discard)
	if app != nil {
		t.Cleanup(app.Close)
	}
	return app, err
}

// Live mode asks iamport for a token once at start: wrong credentials or an iamport that
// does not answer stop the example with a clear error, which never shows the secret.
func TestLiveChecksCredentialsAtStart(t *testing.T) {
	upstream := liveFake(t)
	db := func() string { return filepath.Join(t.TempDir(), "live.db") }

	app, err := newAppErr(t, liveEnv, "-db", db(), "-iamport-url", upstream.URL)
	require.NoError(t, err)
	assert.NotNil(t, app)

	wrong := map[string]string{EnvIMPCode: liveEnv[EnvIMPCode], EnvIMPKey: liveEnv[EnvIMPKey], EnvIMPSecret: "wrong-secret-never-shown"}
	_, err = newAppErr(t, wrong, "-db", db(), "-iamport-url", upstream.URL)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refused the credentials")
	assert.Contains(t, err.Error(), EnvIMPSecret)
	assert.NotContains(t, err.Error(), "wrong-secret-never-shown")

	// Nothing listens there any more.
	gone := iamporttest.NewServer()
	goneURL := gone.URL
	gone.Close()
	_, err = newAppErr(t, liveEnv, "-db", db(), "-iamport-url", goneURL)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did not issue an access token")
	assert.NotContains(t, err.Error(), liveEnv[EnvIMPSecret])
}

// A sandbox example can use a fake another process serves: the page loads that fake's
// shim, the webhook URL sent is the example's own public URL, and a notification the
// fake sends reaches the example and settles the issuance.
func TestSharedFake(t *testing.T) {
	upstream := iamporttest.NewServer(iamporttest.WithSandbox(true))
	t.Cleanup(upstream.Close)
	out := &syncBuffer{}
	app, base := serveTestAppOut(t, out, "-iamport-url", upstream.URL+"/")

	assert.Nil(t, app.fake, "no private fake")
	assert.Contains(t, Banner(app), "shared fake at "+upstream.URL)
	assert.Contains(t, app.contentSecurityPolicy(), "default-src 'self' "+upstream.URL+";")
	assert.Contains(t, app.contentSecurityPolicy(), "form-action 'self' "+upstream.URL+";", "a phone posts a form to the fake's window")

	ir, err := app.Service().PrepareIssuance(context.Background(), Users[0].Buyer(), "")
	require.NoError(t, err)
	assert.Equal(t, upstream.URL+"/iamport.js", ir.SDKURL)
	assert.Equal(t, iamporttest.MerchantCode, ir.IMPCode)
	assert.Equal(t, base+WebhookPath, ir.Params.NoticeURL)

	// The window's work, done by the shared fake; its notification settles the issuance.
	res, err := upstream.IssueBillingKey(iamporttest.IssueRequest{
		PG: ir.Params.PG, MerchantUID: ir.Params.MerchantUID, CustomerUID: ir.Params.CustomerUID,
		Name: ir.Params.Name, Amount: ir.Params.Amount, NoticeURL: ir.Params.NoticeURL, CardNumber: iamporttest.CardOK,
	})
	require.NoError(t, err)
	require.NotNil(t, res.Payment)
	require.Eventually(t, func() bool {
		_, err := app.Service().BillingKey(context.Background(), Users[0].ID)
		return err == nil
	}, 20*time.Second, 20*time.Millisecond, "the webhook registered the key")
	// The route writes its line once the notification is applied.
	require.Eventually(t, func() bool {
		return strings.Contains(out.String(), webhookReceivedMessage) && strings.Contains(out.String(), res.Payment.ImpUID)
	}, 20*time.Second, 20*time.Millisecond, "one line for the webhook received:\n%s", out)
}

// serveTestAppOut is serveTestApp with the example's routes mounted as the net/http
// example does, and its log in out.
func serveTestAppOut(t *testing.T, out io.Writer, args ...string) (*App, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg, err := ParseConfig("test", append([]string{"-db", filepath.Join(t.TempDir(), "demo.db")}, args...), envOf(nil), io.Discard)
	require.NoError(t, err)
	app, err := NewApp(context.Background(), cfg, ln.Addr(), out)
	if err != nil {
		_ = ln.Close()
	}
	require.NoError(t, err)
	srv := app.HTTPServer(exampleMux(app))
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		<-served
		app.Close()
	})
	return app, app.URL()
}

// exampleMux mounts app as examples/nethttp does: billing routes behind the demo login,
// callbacks outside it, pages for the rest.
func exampleMux(app *App) http.Handler {
	billing := http.NewServeMux()
	billkeyhttp.Mount(billing, BillingPrefix, app.Service(), billkeyhttp.WithBuyer(func(r *http.Request) (core.Buyer, error) {
		b, _ := app.UserFromRequest(r)
		return b, nil
	}))
	root := http.NewServeMux()
	root.Handle(BillingPrefix+"/", billing)
	billkeyhttp.MountCallbacks(root, CallbackPrefix, app.Service())
	root.Handle("/", app.Handler())
	return root
}

// On one PostgreSQL database (and schema), a sandbox example with a private fake must be
// alone: a second one, or one using a shared fake, is refused with advice, while any
// number of examples on one shared fake share it. Another schema is another database.
func TestPrivateFakeIsAloneOnPostgres(t *testing.T) {
	dsn := pgtest.SchemaDSN(t, "billkey_demo_", "the PostgreSQL lock test")
	upstream := iamporttest.NewServer(iamporttest.WithSandbox(true))
	t.Cleanup(upstream.Close)
	shared := []string{"-postgres", dsn, "-iamport-url", upstream.URL}

	first, err := newAppErr(t, nil, "-postgres", dsn)
	require.NoError(t, err)

	_, err = newAppErr(t, nil, "-postgres", dsn)
	require.Error(t, err, "a second private fake")
	assert.Contains(t, err.Error(), "cannot share it")
	assert.Contains(t, err.Error(), "-iamport-url")
	assert.Contains(t, err.Error(), "cmd/fakeiamport")
	assert.NotContains(t, err.Error(), dsn)

	_, err = newAppErr(t, nil, shared...)
	require.Error(t, err, "a shared fake beside a private one")
	assert.Contains(t, err.Error(), "restart it with -iamport-url")

	other := pgtest.SchemaDSN(t, "billkey_demo_", "the PostgreSQL lock test")
	_, err = newAppErr(t, nil, "-postgres", other)
	require.NoError(t, err, "another schema is another database")

	first.Close()
	a, err := newAppErr(t, nil, shared...)
	require.NoError(t, err, "the lock is released on Close")
	_, err = newAppErr(t, nil, shared...)
	require.NoError(t, err, "any number share one shared fake")
	_, err = newAppErr(t, nil, "-postgres", dsn)
	require.Error(t, err, "a private fake beside shared ones")
	assert.Contains(t, err.Error(), "cannot share it")

	rec := getHealth(t, a)
	assert.Equal(t, http.StatusOK, rec.status)
	assert.Contains(t, rec.body, `"upstream_lock":"held"`)
	require.NoError(t, a.lock.conn.Close(), "the lock's connection goes away")
	rec = getHealth(t, a)
	assert.Equal(t, http.StatusServiceUnavailable, rec.status)
	assert.Contains(t, rec.body, `"upstream_lock":"lost"`)
}

type healthAnswer struct {
	status int
	body   string
}

func getHealth(t *testing.T, app *App) healthAnswer {
	t.Helper()
	rec := httptest.NewRecorder()
	app.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, HealthPath, nil))
	return healthAnswer{status: rec.Code, body: strings.TrimSpace(rec.Body.String())}
}
