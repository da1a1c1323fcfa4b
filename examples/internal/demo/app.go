package demo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store/sqlstore"
	"github.com/billkey/billkey/store/sqlstore/pgdb"
	"github.com/billkey/billkey/store/sqlstore/sqlitedb"
)

// Paths every example uses.
const (
	// BillingPrefix is where billkey's user routes are mounted, behind the demo login.
	BillingPrefix = "/billing"
	// CallbackPrefix is where billkey's callback routes are mounted, outside the login
	// (and outside BillingPrefix, so no login middleware of a route group meets them):
	// iamport's webhook and the mobile return, which comes back without a session.
	CallbackPrefix = "/iamport"
	// WebhookPath is iamport's notification route, under CallbackPrefix.
	WebhookPath = CallbackPrefix + "/webhook"
	// LiveSDKURL is the script live pages load (core's default).
	LiveSDKURL = "https://cdn.iamport.kr/v1/iamport.js"
	// FakePrefix is where the sandbox mounts the fake iamport (API, IMP shim, window).
	FakePrefix = "/__fake_iamport__"
	// ResultPath is the page the mobile redirect lands on (SuccessURL and FailureURL).
	ResultPath = "/result"
	// HealthPath answers whether the example can work: its store, and its iamport.
	HealthPath = "/healthz"
	// AdminPath is the staff's page (behind the demo's staff login); AdminAPIPrefix is
	// where billkey's admin routes are mounted behind the same login.
	AdminPath      = "/admin"
	AdminAPIPrefix = "/admin/api"
)

// Plans is the demo's catalogue of subscription plans; billkey charges these prices
// whatever a request says. Basic and Pro are two tiers of one service (group "shop": a
// customer holds one of them and may switch between them from the next period); the
// cloud backup is an add-on of its own group with a free week first. The name is the
// order name iamport shows in its Korean window; planTexts gives the English beside it on
// the page.
var Plans = []core.Plan{
	{ID: "basic", Name: "베이직 (월간)", Amount: 9900, Every: monthly, Group: "shop"},
	{ID: "pro", Name: "프로 (월간)", Amount: 29000, Every: monthly, Group: "shop"},
	{ID: "backup", Name: "클라우드 백업 (월간)", Amount: 3000, Every: monthly, Trial: core.Period{Days: 7}, Group: "addon"},
}

var monthly = core.Period{Months: 1}

// Company is the shop's name in the payment window.
const Company = "billkey 데모 상점"

// credentialCheckTimeout bounds the token request NewApp makes to an iamport it does not
// run itself.
const credentialCheckTimeout = 15 * time.Second

// App is everything the three examples share: storage, the iamport client (and the fake
// in the sandbox), the billkey service, the demo login and the pages. A framework wiring
// mounts Service's routes behind its own login middleware (using UserFromRequest or
// UserFromCookie), the callback routes under CallbackPrefix outside it, and Handler for
// everything else.
type App struct {
	cfg       Config
	publicURL string       // origin browsers use
	localURL  string       // loopback origin of the listener
	log       *slog.Logger // events, iamport calls
	svcLog    *slog.Logger // billkey's own lines: warnings, errors and one per webhook (logging.go)
	svc       *core.Service
	clock     *demoClock        // the shop's time (clock.go)
	fake      *iamporttest.Fake // the private in-process fake (sandbox without IAMPortURL)
	fakeState string            // the file the private fake keeps its state in; "" = none
	client    *iamport.Client
	upstream  string // base URL of the iamport API the client talks to
	db        *sql.DB
	lock      *upstreamLock               // PostgreSQL only (lock.go)
	sessions  *sessions                   // the customers' login
	staff     *sessions                   // the staff's login (admin.go)
	csrf      *http.CrossOriginProtection // the demo's own login and logout forms
	outcomes  *outcomes                   // recent failures, for the result page
	tel       *telemetry                  // the OpenTelemetry SDK behind /metrics (metrics.go)
	handler   http.Handler
	noticeURL string
}

// NewApp builds the App for a server listening on listenAddr: it opens and migrates the
// database, connects to iamport (starting the private fake in the sandbox; checking the
// credentials with one token request when the iamport is another process) and creates
// the billkey service. Log lines go to logOut. Close releases it all.
func NewApp(ctx context.Context, cfg Config, listenAddr net.Addr, logOut io.Writer) (app *App, err error) {
	if cfg.Mode != ModeSandbox && cfg.Mode != ModeLive {
		return nil, errors.New("demo: config has no mode (use ParseConfig)")
	}
	a := &App{
		cfg:      cfg,
		localURL: loopbackURL(listenAddr),
		log:      slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo})),
		svcLog:   slog.New(serviceLogHandler(logOut)),
		outcomes: newOutcomes(time.Now),
	}
	a.publicURL = a.localURL
	if cfg.PublicURL != "" {
		a.publicURL = cfg.PublicURL
	}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	secure := strings.HasPrefix(a.publicURL, "https://")
	if a.sessions, err = newSessions(secure); err != nil {
		return nil, err
	}
	if a.staff, err = newSessionsOf(staffLogin, secure); err != nil {
		return nil, err
	}
	a.csrf = http.NewCrossOriginProtection()
	if err := a.csrf.AddTrustedOrigin(a.publicURL); err != nil {
		return nil, err
	}
	if err := a.startClock(); err != nil {
		return nil, err
	}
	if a.tel, err = newTelemetry(); err != nil {
		return nil, err
	}
	store, err := a.openStore(ctx)
	if err != nil {
		return nil, err
	}
	if a.cfg.PostgresDSN != "" {
		if a.lock, err = lockUpstream(ctx, a.db, a.cfg.PrivateFake()); err != nil {
			return nil, err
		}
	}

	coreCfg := core.Config{
		Store:       store,
		Company:     Company,
		Plans:       Plans,
		PublicURL:   a.publicURL + BillingPrefix,
		CallbackURL: a.publicURL + CallbackPrefix,
		SuccessURL:  ResultPath,
		FailureURL:  ResultPath,
		Logger:      a.svcLog,
		Events:      event.SinkFunc(a.logEvent),

		MeterProvider: a.tel.provider,
	}
	if a.clock.canTravel() {
		coreCfg.Now = a.clock.Now // the store's leases follow it too (openStore)
		if skew := a.cfg.ClockSkew; skew != 0 {
			coreCfg.Now = func() time.Time { return a.clock.Now().Add(skew) }
		}
	}
	if err := a.connectIAMPort(ctx, &coreCfg); err != nil {
		return nil, err
	}
	coreCfg.Client = a.client
	coreCfg.NoticeURL = a.noticeURL
	if a.svc, err = core.New(coreCfg); err != nil {
		return nil, err
	}
	a.handler = a.newHandler()
	return a, nil
}

// connectIAMPort creates the iamport client and sets what depends on which iamport it
// is: the merchant code, test mode, the script the page loads and the webhook URL.
func (a *App) connectIAMPort(ctx context.Context, c *core.Config) error {
	switch {
	case a.cfg.PrivateFake():
		return a.startPrivateFake(c)
	case a.cfg.Mode == ModeSandbox:
		return a.connectSharedFake(ctx, c)
	default:
		return a.connectLive(ctx, c)
	}
}

// startClock sets the shop's clock (clock.go): in the sandbox the fake's, which the time
// machine moves, starting the private fake first when there is one; live, the real time.
func (a *App) startClock() (err error) {
	switch {
	case a.cfg.PrivateFake():
		if err := a.newPrivateFake(); err != nil {
			return err
		}
		a.clock = fakeClock(a.fake)
	case a.cfg.Mode == ModeSandbox:
		if a.clock, err = sharedFakeClock(a.cfg.IAMPortURL); err != nil {
			return fmt.Errorf("%w: is it running? go run ./cmd/fakeiamport prints its base URL", err)
		}
	default:
		a.clock = wallClock()
	}
	return nil
}

// newPrivateFake creates the fake iamport this process runs. It follows the real clock
// plus the time machine's offset (every paid_at is a time the shop's clock showed) and,
// beside a SQLite file, keeps its state, offset included, in a file of its own, so that
// after a restart it still knows the billing keys the database remembers, at the time
// the database last saw.
func (a *App) newPrivateFake() (err error) {
	opts := []iamporttest.Option{iamporttest.WithSandbox(true), iamporttest.WithRealClock()}
	if a.fakeState = fakeStatePath(a.cfg); a.fakeState != "" {
		opts = append(opts, iamporttest.WithStateFile(a.fakeState))
	}
	if a.fake, err = iamporttest.NewWithState(opts...); err != nil {
		return fmt.Errorf("the sandbox fake's state in %s: %w (remove it together with %s to start afresh)", a.fakeState, err, a.cfg.DBPath)
	}
	return nil
}

// startPrivateFake serves the private fake (newPrivateFake) by this very server under
// FakePrefix.
func (a *App) startPrivateFake(c *core.Config) (err error) {
	a.upstream = a.localURL + FakePrefix
	// The client reaches the fake through this very server, over loopback, so any
	// connection it kept would be one the server waits for when it shuts down: an idle
	// keep-alive one, or a spare one the transport dialled for a request that another
	// connection, freed meanwhile, then served. Fiber (fasthttp) counts a connection that
	// has not sent its first request as active until its ReadTimeout, longer than
	// ShutdownTimeout. Without keep-alive, no connection outlives its request: one that
	// carried none is closed at once.
	a.client, err = iamport.New(iamport.Config{
		Key:        iamporttest.Key,
		Secret:     iamporttest.Secret,
		BaseURL:    a.upstream,
		HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, CheckRedirect: noRedirects},
		Logger:     a.log,
	})
	if err != nil {
		return err
	}
	c.MerchantCode = iamporttest.MerchantCode
	c.TestMode = true // the fake marks its payments as sandbox ones
	// The fake delivers notifications over loopback too. (No token check here: this
	// server does not serve yet.)
	a.noticeURL = a.localURL + WebhookPath
	// The page loads the fake's IMP shim from this server.
	c.SDKURL = FakePrefix + "/iamport.js"
	return nil
}

// fakeStatePath is where the private fake keeps its state: next to the SQLite file. On
// PostgreSQL, or with an in-memory SQLite database, it keeps none.
func fakeStatePath(cfg Config) string {
	if cfg.PostgresDSN != "" || cfg.DBPath == sqlitedb.Memory {
		return ""
	}
	return cfg.DBPath + ".fake.json"
}

// connectSharedFake talks to a fake another process serves (cmd/fakeiamport), with the
// fake's well-known credentials; its IMP shim and window come from there too, and its
// webhooks reach this example at its public URL.
func (a *App) connectSharedFake(ctx context.Context, c *core.Config) (err error) {
	a.upstream = a.cfg.IAMPortURL
	a.client, err = iamport.New(iamport.Config{
		Key:     iamporttest.Key,
		Secret:  iamporttest.Secret,
		BaseURL: a.upstream,
		Logger:  a.log,
	})
	if err != nil {
		return err
	}
	c.MerchantCode = iamporttest.MerchantCode
	c.TestMode = true
	c.SDKURL = a.upstream + "/iamport.js"
	a.noticeURL = a.publicURL + WebhookPath
	return a.checkCredentials(ctx, "is it running? go run ./cmd/fakeiamport prints its base URL")
}

// connectLive talks to the real iamport (or the endpoint IAMPortURL names) with the
// merchant's credentials, and checks them once.
func (a *App) connectLive(ctx context.Context, c *core.Config) (err error) {
	a.upstream = a.cfg.IAMPortURL
	if a.upstream == "" {
		a.upstream = iamport.DefaultBaseURL
	}
	a.client, err = iamport.New(iamport.Config{Key: a.cfg.IMPKey, Secret: a.cfg.IMPSecret, BaseURL: a.upstream, Logger: a.log})
	if err != nil {
		return err
	}
	c.MerchantCode = a.cfg.IMPCode
	c.TestMode = a.cfg.TestChannel
	if a.cfg.PublicURL != "" {
		// iamport must be able to reach it; without a public URL the console's
		// notification URL is used.
		a.noticeURL = a.publicURL + WebhookPath
	}
	return a.checkCredentials(ctx, "check "+EnvIMPKey+" and "+EnvIMPSecret+" (the REST API key and secret of the iamport console)")
}

// checkCredentials asks the iamport the client talks to for a token, once, so that wrong
// credentials or an unreachable iamport stop the example at start rather than at the
// first customer's click.
func (a *App) checkCredentials(ctx context.Context, hint string) error {
	ctx, cancel := context.WithTimeout(ctx, credentialCheckTimeout)
	defer cancel()
	_, err := a.client.Token(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, iamport.ErrUnauthorized):
		return fmt.Errorf("iamport at %s refused the credentials: %s", a.upstream, hint)
	default:
		return fmt.Errorf("iamport at %s did not issue an access token (%v): %s", a.upstream, err, hint)
	}
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// openStore opens SQLite or PostgreSQL and applies billkey's migrations.
func (a *App) openStore(ctx context.Context) (*sqlstore.Store, error) {
	var (
		err     error
		dialect sqlstore.Dialect
	)
	if a.cfg.PostgresDSN != "" {
		dialect = sqlstore.Postgres
		a.db, err = pgdb.Open(a.cfg.PostgresDSN)
	} else {
		dialect = sqlstore.SQLite
		a.db, err = sqlitedb.Open(a.cfg.DBPath)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", a.cfg.Storage(), err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := a.db.PingContext(pingCtx); err != nil {
		return nil, fmt.Errorf("connect to %s: %w", a.cfg.Storage(), err)
	}
	var opts []sqlstore.Option
	if a.clock.canTravel() {
		// Leases on the shop's clock, which jumps with the time machine; every example
		// on one database follows the same fake's clock.
		opts = append(opts, sqlstore.WithClock(a.clock.Now))
	}
	store, err := sqlstore.New(a.db, dialect, opts...)
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(pingCtx); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", a.cfg.Storage(), err)
	}
	return store, nil
}

// logEvent prints billkey's events (what a merchant would feed to its own systems) and
// keeps the failures the result page explains.
func (a *App) logEvent(ctx context.Context, e event.Event) {
	a.outcomes.note(e)
	attrs := []slog.Attr{slog.String("kind", string(e.Kind)), slog.String("user", e.UserID)}
	if e.MerchantUID != "" {
		attrs = append(attrs, slog.String("merchant_uid", e.MerchantUID))
	}
	if e.PlanID != "" {
		attrs = append(attrs, slog.String("plan", e.PlanID))
	}
	if e.Amount != 0 {
		attrs = append(attrs, slog.Int64("amount", e.Amount))
	}
	if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	a.log.LogAttrs(ctx, slog.LevelInfo, "billkey event", attrs...)
}

// Service is the billkey service to mount.
func (a *App) Service() *core.Service { return a.svc }

// SandboxFake is the private in-process fake iamport, nil when there is none; a test
// drives its billing window directly, as a browser would.
func (a *App) SandboxFake() *iamporttest.Fake { return a.fake }

// Logger is the example's logger.
func (a *App) Logger() *slog.Logger { return a.log }

// URL is the origin to open in a browser.
func (a *App) URL() string { return a.publicURL }

// Config is the configuration the App was built with.
func (a *App) Config() Config { return a.cfg }

// Handler serves the demo pages (/, /login, /logout, /result, /static/...) and, in the
// sandbox, the fake iamport under FakePrefix. Mount it for every path the billing routes
// and the webhook do not take.
func (a *App) Handler() http.Handler { return a.handler }

// UserFromRequest returns the signed-in demo user of r as a billkey buyer: the check a
// wiring's login middleware makes before it stores the buyer the framework's way.
func (a *App) UserFromRequest(r *http.Request) (core.Buyer, bool) {
	u, ok := a.sessions.userFromRequest(r)
	if !ok {
		return core.Buyer{}, false
	}
	return u.Buyer(), true
}

// UserFromCookie is UserFromRequest for frameworks that hand out the value of the
// SessionCookie cookie rather than an *http.Request.
func (a *App) UserFromCookie(value string) (core.Buyer, bool) {
	u, ok := a.sessions.user(value)
	if !ok {
		return core.Buyer{}, false
	}
	return u.Buyer(), true
}

// Close stops the fake's webhook deliveries and the following of a shared fake's clock,
// closes the iamport client's idle connections, releases the database lock and closes
// the database. Call it after the
// server has shut down.
func (a *App) Close() {
	if a.fake != nil {
		a.fake.Close()
	}
	if a.clock != nil {
		a.clock.close()
	}
	if a.client != nil {
		a.client.CloseIdleConnections()
	}
	if a.lock != nil {
		a.lock.release()
	}
	if a.db != nil {
		_ = a.db.Close()
	}
	if a.tel != nil {
		a.tel.close()
	}
}

// loopbackURL is the http origin of a listener as this machine reaches it: an
// unspecified address (0.0.0.0, ::) becomes the loopback address.
func loopbackURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		if ip != nil && ip.To4() == nil {
			host = "::1"
		} else {
			host = "127.0.0.1"
		}
	}
	return "http://" + net.JoinHostPort(host, port)
}
