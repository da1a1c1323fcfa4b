package chaos

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/internal/pgtest"
	"github.com/billkey/billkey/internal/testkit"
	"github.com/billkey/billkey/store"
	"github.com/billkey/billkey/store/sqlstore"
	"github.com/billkey/billkey/store/sqlstore/pgdb"
	"github.com/billkey/billkey/store/sqlstore/sqlitedb"
)

// sweepSize is how many subscriptions fall due at once in BenchmarkRenewSweep: more than
// one Renew call takes (it stops at 5,000), so a sweep is several calls. With -short (CI
// runs every benchmark once that way, to keep them from rotting) a few hundred.
func sweepSize() int {
	if testing.Short() {
		return 300
	}
	return 10_000
}

// BenchmarkRenewSweep renews 10,000 due weekly subscriptions per iteration, on SQLite (a
// file) and on PostgreSQL, with the fake of iamport in-process and answering at once.
// Each iteration moves the clock a week on, so all of them are due again, and calls
// Renew until a call renews nothing. Metrics, per renewal: ns/renewal (all of it),
// fake-ns/renewal (time inside the fake's handler), rtt-floor-ns/renewal (the loopback
// HTTP round trip of an empty call, times the calls made), and ns/renewal-excl-iamport
// (the first minus the other two: what billkey and its store cost); renew-calls/sweep is
// how many Renew calls renewed something.
func BenchmarkRenewSweep(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		db, err := sqlitedb.Open(filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = db.Close() })
		benchSweep(b, db, sqlstore.SQLite, 1)
	})
	b.Run("postgres", func(b *testing.B) {
		dsn := pgtest.SchemaDSN(b, "bench_", "the PostgreSQL renewal sweep benchmark")
		db, err := pgdb.Open(dsn)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = db.Close() })
		benchSweep(b, db, sqlstore.Postgres, 8)
	})
}

// timedHandler adds up the time spent in next and counts its calls.
type timedHandler struct {
	next  http.Handler
	ns    atomic.Int64
	calls atomic.Int64
}

func (h *timedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	t := time.Now()
	defer func() {
		h.ns.Add(int64(time.Since(t)))
		h.calls.Add(1)
	}()
	h.next.ServeHTTP(w, r)
}

func benchSweep(b *testing.B, db *sql.DB, dialect sqlstore.Dialect, seeders int) {
	ctx := context.Background()
	start := time.Date(2027, time.January, 4, 10, 0, 0, 0, kst)
	clock := testkit.NewClock(start)
	// Tokens outlive the run: the clock jumps a week per iteration.
	fake := iamporttest.New(iamporttest.WithClock(start), iamporttest.WithTokenLifetime(100*365*24*time.Hour))
	b.Cleanup(fake.Close)
	timed := &timedHandler{next: fake.Handler()}
	srv := httptest.NewServer(timed)
	b.Cleanup(srv.Close)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.Cleanup(hc.CloseIdleConnections)

	st, err := sqlstore.New(db, dialect, sqlstore.WithClock(clock.Now))
	if err != nil {
		b.Fatal(err)
	}
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	client, err := iamport.New(iamport.Config{Key: iamporttest.Key, Secret: iamporttest.Secret, BaseURL: srv.URL, HTTPClient: hc})
	if err != nil {
		b.Fatal(err)
	}
	cfg := serviceConfig(client, st, clock.Now, "bench")
	cfg.Subscriptions.Notice = -1 // one step per renewal: the charge
	svc, err := core.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	if err := seedDue(ctx, st, fake, start, seeders); err != nil {
		b.Fatal(err)
	}
	floor := roundTripFloor(b, hc, srv.URL)

	var renewed, calls, renewCalls int
	var elapsed, inFake time.Duration
	for b.Loop() {
		clock.Advance(7 * 24 * time.Hour)
		fake.Advance(7 * 24 * time.Hour)
		fakeBefore, callsBefore := timed.ns.Load(), timed.calls.Load()
		began := time.Now()
		n, used := sweepAll(b, svc)
		elapsed += time.Since(began)
		inFake += time.Duration(timed.ns.Load() - fakeBefore)
		calls += int(timed.calls.Load() - callsBefore)
		if n != sweepSize() {
			b.Fatalf("renewed %d of %d due subscriptions", n, sweepSize())
		}
		renewed += n
		renewCalls += used
	}
	per := func(d time.Duration) float64 { return float64(d) / float64(renewed) }
	b.ReportMetric(per(elapsed), "ns/renewal")
	b.ReportMetric(per(inFake), "fake-ns/renewal")
	b.ReportMetric(per(floor*time.Duration(calls)), "rtt-floor-ns/renewal")
	b.ReportMetric(per(elapsed-inFake-floor*time.Duration(calls)), "ns/renewal-excl-iamport")
	b.ReportMetric(float64(renewCalls)/float64(b.N), "renew-calls/sweep")
	b.ReportMetric(float64(calls)/float64(renewed), "iamport-calls/renewal")
}

// sweepAll calls Renew until a call renews nothing, returning the renewals and the calls
// that renewed something.
func sweepAll(b *testing.B, svc *core.Service) (renewed, calls int) {
	for {
		rep, err := svc.Renew(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if rep.Renewed == 0 {
			return renewed, calls
		}
		renewed += rep.Renewed
		calls++
	}
}

// roundTripFloor is the median loopback round trip of the cheapest call the fake answers
// (its clock), on the client the service uses.
func roundTripFloor(b *testing.B, hc *http.Client, base string) time.Duration {
	const n = 201
	ds := make([]time.Duration, n)
	for i := range ds {
		t := time.Now()
		resp, err := hc.Get(base + iamporttest.ClockPath)
		if err != nil {
			b.Fatal(err)
		}
		_ = resp.Body.Close()
		ds[i] = time.Since(t)
	}
	slices.Sort(ds)
	return ds[n/2]
}

// seedDue stores sweepSize users, each with a billing key (at the fake too) and an active
// weekly subscription whose first period ends at start, as core leaves one after its
// first charge, so that all of them are due a week after start and every week after.
func seedDue(ctx context.Context, st store.Store, fake *iamporttest.Fake, start time.Time, workers int) error {
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	next := atomic.Int64{}
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= sweepSize() {
					return
				}
				if err := seedOne(ctx, st, fake, start, i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func seedOne(ctx context.Context, st store.Store, fake *iamporttest.Fake, start time.Time, i int) error {
	user := fmt.Sprintf("u%05d", i)
	cu := fmt.Sprintf("benchcustomer%05dx7k2m9q4w8e1r6t3y5u0i", i)
	mu := fmt.Sprintf("benchissue%05d", i)
	began := start.AddDate(0, 0, -7)
	if err := fake.PutCustomer(iamport.Customer{CustomerUID: cu, PGProvider: "kcp_billing"}, iamporttest.CardOK); err != nil {
		return err
	}
	if err := st.CreateIssuance(ctx, &store.Issuance{MerchantUID: mu, CustomerUID: cu, UserID: user,
		Status: store.IssuancePending, CreatedAt: began, ExpiresAt: began.Add(time.Hour), UpdatedAt: began}); err != nil {
		return err
	}
	if _, err := st.SettleIssuance(ctx, mu, &store.Issuance{Status: store.IssuanceIssued, UpdatedAt: began},
		&store.BillingKey{UserID: user, CustomerUID: cu, IssuanceMerchantUID: mu, PGProvider: "kcp_billing", IssuedAt: began}); err != nil {
		return err
	}
	_, _, err := st.CreateSubscription(ctx, &store.Subscription{
		ID: fmt.Sprintf("benchsub%05d", i), UserID: user, IdempotencyKey: "bench", PlanID: "weekly",
		Status: store.SubscriptionActive, Anchor: began,
		PeriodStart: began, PeriodEnd: start, NextActionAt: start, CreatedAt: began, UpdatedAt: began,
	})
	return err
}
