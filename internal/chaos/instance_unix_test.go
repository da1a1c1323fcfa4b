//go:build unix

package chaos

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store/sqlstore"
	"github.com/billkey/billkey/store/sqlstore/pgdb"
)

// What the parent test tells an instance it starts, in its environment.
const (
	envRole      = "BILLKEY_CHAOS_ROLE"
	roleInstance = "instance"
	envDSN       = "BILLKEY_CHAOS_DSN"
	envFakeURL   = "BILLKEY_CHAOS_FAKE_URL"
	envInstance  = "BILLKEY_CHAOS_INSTANCE"
	envGateDir   = "BILLKEY_CHAOS_GATE_DIR"
)

// Sweeps of an instance are this far apart (real time), plus up to as much again.
const sweepEvery = 100 * time.Millisecond

// runInstance is one service process: a core.Service on the shared schema whose clock
// (and whose store's clock, for leases) follows the fake's, sweeping Reconcile and Renew
// until its stdin closes. It reports on stdout, one line each: "ready", every event, every
// sweep that did something, and errors; the service's log goes to stderr.
func runInstance() int {
	out := &lines{w: os.Stdout}
	if err := serveInstance(out); err != nil {
		out.printf("error %s", oneLine(err.Error()))
		return 1
	}
	return 0
}

func serveInstance(out *lines) error {
	instance := os.Getenv(envInstance)
	fakeURL := os.Getenv(envFakeURL)
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("instance", instance)

	clock, err := iamporttest.NewRemoteClock(fakeURL, 50*time.Millisecond)
	if err != nil {
		return err
	}
	defer clock.Close()
	db, err := pgdb.Open(os.Getenv(envDSN), pgdb.WithMaxConns(4))
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := sqlstore.New(db, sqlstore.Postgres, sqlstore.WithClock(clock.Now))
	if err != nil {
		return err
	}
	client, err := iamport.New(iamport.Config{Key: iamporttest.Key, Secret: iamporttest.Secret, BaseURL: fakeURL, Logger: logger})
	if err != nil {
		return err
	}
	cfg := serviceConfig(client, st, clock.Now, instance)
	cfg.Logger = logger
	cfg.Events = event.SinkFunc(func(_ context.Context, e event.Event) {
		out.printf("event %s %s %s", e.Kind, e.SubscriptionID, e.MerchantUID)
	})
	svc, err := core.New(cfg)
	if err != nil {
		return err
	}
	g, err := openGate(os.Getenv(envGateDir))
	if err != nil {
		return err
	}
	defer g.close()

	stop := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stop)
	}()
	out.printf("ready %s", instance)
	for {
		if err := sweep(svc, clock, g, out); err != nil {
			return err
		}
		select {
		case <-stop:
			out.printf("stopped %s", instance)
			return nil
		case <-time.After(sweepEvery + rand.N(sweepEvery)):
		}
	}
}

// sweep runs one Reconcile and one Renew with the clock held still, after catching up
// with it.
func sweep(svc *core.Service, clock *iamporttest.RemoteClock, g *gate, out *lines) error {
	if err := g.enter(); err != nil {
		return err
	}
	defer func() { _ = g.leave() }()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := clock.Sync(ctx); err != nil {
		out.printf("error clock %s", oneLine(err.Error()))
	}
	rec, err := svc.Reconcile(ctx)
	if err != nil {
		out.printf("error reconcile %s", oneLine(err.Error()))
	}
	if rec != (core.ReconcileReport{}) {
		out.printf("reconcile claimed=%d paid=%d failed=%d retried=%d still_unknown=%d confirmed=%d",
			rec.Claimed, rec.Paid, rec.Failed, rec.Retried, rec.StillUnknown, rec.Confirmed)
	}
	ren, err := svc.Renew(ctx)
	if err != nil {
		out.printf("error renew %s", oneLine(err.Error()))
	}
	if ren != (core.RenewReport{}) {
		out.printf("renew claimed=%d charged=%d renewed=%d failed=%d ended=%d notices=%d waiting=%d",
			ren.Claimed, ren.Charged, ren.Renewed, ren.Failed, ren.Ended, ren.Notices, ren.Waiting)
	}
	return nil
}

// lines writes whole lines, one writer at a time.
type lines struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lines) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = fmt.Fprintf(l.w, format+"\n", args...)
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
