package demo

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/billkey/billkey/iamport/iamporttest"
)

// ListeningPrefix starts the line Run prints once the server accepts connections,
// followed by the URL to open: "billkey example listening on http://127.0.0.1:8080".
const ListeningPrefix = "billkey example listening on "

// ShutdownTimeout bounds the graceful shutdown.
const ShutdownTimeout = 10 * time.Second

// Server is what a framework wiring hands back: how to serve on the listener Run opened,
// and how to stop gracefully (http.Server.Shutdown, fiber's ShutdownWithContext).
type Server struct {
	// Serve serves until Shutdown is called. It may return http.ErrServerClosed then.
	Serve func(net.Listener) error
	// Shutdown stops accepting connections and waits for the requests in flight, until
	// ctx ends.
	Shutdown func(ctx context.Context) error
}

// HTTPServer is the net/http server of the examples on net/http and Gin, with the
// timeouts of Config.Timeouts: without them a client that announces a body and sends it
// slowly, or a keep-alive connection that never sends another request, holds its
// connection (and a goroutine) forever. In the sandbox it also holds the clock for each
// billing request (HoldClock), so the time machine never jumps in the middle of one.
func (a *App) HTTPServer(h http.Handler) *http.Server {
	t := a.cfg.Timeouts
	return &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			release := a.HoldClock(r.URL.Path)
			defer release()
			h.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: t.Read,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		ErrorLog:          log.New(io.Discard, "", 0), // a client's broken connection is not the shop's error
	}
}

// Wiring mounts the App on a framework and returns the server.
type Wiring func(app *App) (Server, error)

// Main is a whole example's main: it parses the flags and the environment, runs until
// SIGINT or SIGTERM and exits non-zero on failure.
func Main(framework string, wire Wiring) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := 0
	cfg, err := ParseConfig(framework, os.Args[1:], os.Getenv, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
	case err != nil:
		fmt.Fprintln(os.Stderr, "billkey example:", err)
		code = 2
	default:
		if err := Run(ctx, cfg, os.Stdout, wire); err != nil {
			fmt.Fprintln(os.Stderr, "billkey example:", err)
			code = 1
		}
	}
	stop()
	os.Exit(code)
}

// Run listens on cfg.Addr, builds the App, wires it, prints the banner and the URL to
// open, runs the reconciler in the background and serves until ctx ends; then it stops
// the reconciler, shuts the server down gracefully and closes the App.
func Run(ctx context.Context, cfg Config, out io.Writer, wire Wiring) (err error) {
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	app, err := NewApp(ctx, cfg, ln.Addr(), out)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer app.Close()
	srv, err := wire(app)
	if err == nil && (srv.Serve == nil || srv.Shutdown == nil) {
		err = errors.New("demo: the wiring returned no Serve or Shutdown")
	}
	if err != nil {
		_ = ln.Close()
		return err
	}

	// The listener is open, so a browser that follows the printed URL at once waits in
	// the accept queue rather than failing.
	if _, err := io.WriteString(out, Banner(app)+ListeningPrefix+app.URL()+"\n"); err != nil {
		_ = ln.Close()
		return err
	}

	reconcileCtx, stopReconciler := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(func() { app.RunReconciler(reconcileCtx) })

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	var serveErr error
	select {
	case serveErr = <-served:
		served = nil
	case <-ctx.Done():
		fmt.Fprintln(out, "billkey example: shutting down")
	}
	stopReconciler()
	wg.Wait()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && serveErr == nil {
		serveErr = fmt.Errorf("shutdown: %w", err)
	}
	if served != nil {
		if err := <-served; err != nil && serveErr == nil {
			serveErr = err
		}
	}
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return serveErr
}

// Banner is what the example prints before the URL: which iamport it uses (SANDBOX or
// LIVE; in the sandbox a private or a shared fake), where records go, the webhook, the
// health endpoint, and in the sandbox the test cards. It never shows a secret or the
// PostgreSQL DSN.
func Banner(a *App) string {
	var b strings.Builder
	rule := strings.Repeat("=", 78)
	cfg := a.Config()
	fmt.Fprintln(&b, rule)
	switch cfg.Mode {
	case ModeSandbox:
		fmt.Fprintf(&b, " billkey example (%s): SANDBOX — nothing here is real, no money moves\n", cfg.Framework)
		fmt.Fprintln(&b, " 테스트 모드: 실제 카드 등록이나 결제는 일어나지 않습니다.")
		fmt.Fprintln(&b, rule)
		if a.fake != nil {
			fmt.Fprintf(&b, " iamport   in-process fake (API, IMP shim, KCP window) at %s\n", a.upstream)
			if a.fakeState != "" {
				fmt.Fprintf(&b, " storage   %s  (the fake's own state: %s)\n", cfg.Storage(), a.fakeState)
			} else {
				fmt.Fprintf(&b, " storage   %s  (the fake forgets its cards when the process stops)\n", cfg.Storage())
			}
			fmt.Fprintf(&b, " webhook   %s (the fake posts here over loopback)\n", a.noticeURL)
		} else {
			fmt.Fprintf(&b, " iamport   shared fake at %s (IMP shim %s/iamport.js)\n", a.upstream, a.upstream)
			fmt.Fprintf(&b, " storage   %s\n", cfg.Storage())
			fmt.Fprintf(&b, " webhook   %s (sent as notice_url; the fake must reach it)\n", a.noticeURL)
		}
		fmt.Fprintln(&b, " test cards: any future expiry (MM/YY), any 6-digit birth date, any 2 PIN digits")
		for _, c := range iamporttest.TestCards() {
			fmt.Fprintf(&b, "   %-22s %s\n", c.Number, c.Outcome)
		}
		fmt.Fprintf(&b, " Set %s, %s and %s to use the real iamport instead.\n", EnvIMPCode, EnvIMPKey, EnvIMPSecret)
	case ModeLive:
		fmt.Fprintf(&b, " billkey example (%s): LIVE — the real iamport: real cards, REAL MONEY\n", cfg.Framework)
		fmt.Fprintln(&b, " 실제 결제 모드: 카드가 실제로 등록되고 결제됩니다.")
		fmt.Fprintln(&b, rule)
		fmt.Fprintf(&b, " iamport   %s  merchant code %s\n", a.upstream, cfg.IMPCode)
		fmt.Fprintf(&b, " SDK       %s\n", LiveSDKURL)
		if cfg.TestChannel {
			fmt.Fprintln(&b, " channel   test channel: payments iamport marks as sandbox are accepted")
		}
		fmt.Fprintf(&b, " storage   %s\n", cfg.Storage())
		if a.noticeURL != "" {
			fmt.Fprintf(&b, " webhook   %s (sent as notice_url; set it in the iamport console too)\n", a.noticeURL)
		} else {
			fmt.Fprintf(&b, " webhook   %s on this server; no notice_url is sent, so iamport uses the console's URL\n", WebhookPath)
			fmt.Fprintln(&b, "           (set -public-url to an https origin iamport can reach)")
		}
	}
	fmt.Fprintf(&b, " health    %s%s\n", a.publicURL, HealthPath)
	fmt.Fprintln(&b, rule)
	return b.String()
}
