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
	// WebhookPath is iamport's notification route, outside the login (and outside
	// BillingPrefix, so no login middleware of a route group meets it).
	WebhookPath = "/webhooks/iamport"
	// FakePrefix is where the sandbox mounts the fake iamport (API, IMP shim, window).
	FakePrefix = "/__fake_iamport__"
	// ResultPath is the page the mobile redirect lands on (SuccessURL and FailureURL).
	ResultPath = "/result"
)

// Plans is the demo's catalogue; billkey charges these prices whatever a request says.
var Plans = []core.Plan{
	{ID: "basic", Name: "billkey demo Basic (monthly)", Amount: 9900},
	{ID: "pro", Name: "billkey demo Pro (monthly)", Amount: 29000},
}

// App is everything the three examples share: storage, the iamport client (and the fake
// in the sandbox), the billkey service, the demo login and the pages. A framework wiring
// mounts Service's routes behind its own login middleware (using UserFromRequest or
// UserFromCookie), the webhook at WebhookPath, and Handler for everything else.
type App struct {
	cfg       Config
	publicURL string       // origin browsers use
	localURL  string       // loopback origin of the listener
	log       *slog.Logger // events, iamport calls
	svcLog    *slog.Logger // billkey's own lines: warnings and errors only (events come through logEvent)
	svc       *core.Service
	fake      *iamporttest.Fake // sandbox only
	client    *iamport.Client
	db        *sql.DB
	sessions  *sessions
	csrf      *http.CrossOriginProtection // the demo's own login and logout forms
	handler   http.Handler
	noticeURL string
}

// NewApp builds the App for a server listening on listenAddr: it opens and migrates the
// database, creates the iamport client (and, in the sandbox, the fake it talks to over
// loopback) and the billkey service. Log lines go to logOut. Close releases it all.
func NewApp(ctx context.Context, cfg Config, listenAddr net.Addr, logOut io.Writer) (app *App, err error) {
	if cfg.Mode != ModeSandbox && cfg.Mode != ModeLive {
		return nil, errors.New("demo: config has no mode (use ParseConfig)")
	}
	a := &App{
		cfg:      cfg,
		localURL: loopbackURL(listenAddr),
		log:      slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo})),
		svcLog:   slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn})),
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
	if a.sessions, err = newSessions(strings.HasPrefix(a.publicURL, "https://")); err != nil {
		return nil, err
	}
	a.csrf = http.NewCrossOriginProtection()
	if err := a.csrf.AddTrustedOrigin(a.publicURL); err != nil {
		return nil, err
	}
	store, err := a.openStore(ctx)
	if err != nil {
		return nil, err
	}

	coreCfg := core.Config{
		Store:      store,
		Company:    "billkey demo",
		Plans:      Plans,
		PublicURL:  a.publicURL + BillingPrefix,
		SuccessURL: ResultPath,
		FailureURL: ResultPath,
		Logger:     a.svcLog,
		Events:     core.EventSinkFunc(a.logEvent),
	}
	switch cfg.Mode {
	case ModeSandbox:
		a.fake = iamporttest.New(iamporttest.WithSandbox(true))
		// The client reaches the fake through this very server, over loopback, so any
		// connection it kept would be one the server waits for when it shuts down: an
		// idle keep-alive one, or a spare one the transport dialled for a request that
		// another connection, freed meanwhile, then served. Fiber (fasthttp) counts a
		// connection that has not sent its first request as active until its
		// ReadTimeout, longer than ShutdownTimeout. Without keep-alive, no connection
		// outlives its request: one that carried none is closed at once.
		a.client, err = iamport.New(iamport.Config{
			Key:        iamporttest.Key,
			Secret:     iamporttest.Secret,
			BaseURL:    a.localURL + FakePrefix,
			HTTPClient: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, CheckRedirect: noRedirects},
			Logger:     a.log,
		})
		if err != nil {
			return nil, err
		}
		coreCfg.MerchantCode = iamporttest.MerchantCode
		coreCfg.TestMode = true // the fake marks its payments as sandbox ones
		// The fake delivers notifications over loopback too.
		a.noticeURL = a.localURL + WebhookPath
		// The page loads the fake's IMP shim from this server: sdk_url names it.
		coreCfg.SDKURL = FakePrefix + "/iamport.js"
	case ModeLive:
		a.client, err = iamport.New(iamport.Config{Key: cfg.IMPKey, Secret: cfg.IMPSecret, Logger: a.log})
		if err != nil {
			return nil, err
		}
		coreCfg.MerchantCode = cfg.IMPCode
		coreCfg.TestMode = cfg.TestChannel
		if cfg.PublicURL != "" {
			// iamport must be able to reach it; without a public URL the console's
			// notification URL is used.
			a.noticeURL = a.publicURL + WebhookPath
		}
	}
	coreCfg.Client = a.client
	coreCfg.NoticeURL = a.noticeURL
	if a.svc, err = core.New(coreCfg); err != nil {
		return nil, err
	}
	a.handler = a.newHandler()
	return a, nil
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
	store, err := sqlstore.New(a.db, dialect)
	if err != nil {
		return nil, err
	}
	if err := store.Migrate(pingCtx); err != nil {
		return nil, fmt.Errorf("migrate %s: %w", a.cfg.Storage(), err)
	}
	return store, nil
}

// logEvent prints billkey's events: what a merchant would feed to its own systems.
func (a *App) logEvent(ctx context.Context, e core.Event) {
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

// RunReconciler settles charges whose outcome is unknown until ctx ends.
func (a *App) RunReconciler(ctx context.Context) {
	a.svc.RunReconciler(ctx, 0)
}

// Close stops the fake's webhook deliveries and closes the iamport client's idle
// connections and the database. Call it after the server has shut down.
func (a *App) Close() {
	if a.fake != nil {
		a.fake.Close()
	}
	if a.client != nil {
		a.client.CloseIdleConnections()
	}
	if a.db != nil {
		_ = a.db.Close()
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
