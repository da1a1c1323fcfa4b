package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/billkey/billkey/store"
	"github.com/billkey/billkey/store/sqlstore"
	"github.com/billkey/billkey/store/sqlstore/sqlitedb"
)

// BenchmarkCreateAndUpdateCharge measures the two writes of a charge's happy path up to
// `again`: the insert holding the attempt's lease (on the database's clock) and the
// pending -> charging compare-and-set.
func BenchmarkCreateAndUpdateCharge(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := newStore(b, be.open(b), be.dialect)
			benchCharges(b, s)
		})
	}
}

// BenchmarkSQLiteStatementCache sets the two writes of a charge on sqlitedb.Open (each
// connection keeps its prepared statements) beside the same database opened without it
// (every statement prepared and finalized each time), in memory so that fsync does not
// drown the difference. Rounds of 200 charges alternate between the two; the metrics are
// the medians over rounds, and their ratio.
func BenchmarkSQLiteStatementCache(b *testing.B) {
	kept := newStore(b, openSQLiteMemory(b), sqlstore.SQLite)
	plain, err := sql.Open("sqlite", sqlitedb.DSN(sqlitedb.Memory))
	if err != nil {
		b.Fatal(err)
	}
	plain.SetMaxOpenConns(1)
	plain.SetConnMaxIdleTime(0)
	b.Cleanup(func() { _ = plain.Close() })
	each := newStore(b, plain, sqlstore.SQLite)
	const perRound = 200
	var keptNs, eachNs []float64
	n := 0
	round := func(s *sqlstore.Store) float64 {
		start := time.Now()
		for range perRound {
			n++
			chargeOnce(b, s, n)
		}
		return float64(time.Since(start).Nanoseconds()) / perRound
	}
	for b.Loop() {
		keptNs = append(keptNs, round(kept))
		eachNs = append(eachNs, round(each))
	}
	k, e := median(keptNs), median(eachNs)
	b.ReportMetric(k, "kept-ns/charge")
	b.ReportMetric(e, "prepared-each-time-ns/charge")
	b.ReportMetric(k/e, "kept/each")
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	slices.Sort(s)
	return s[len(s)/2]
}

// chargeOnce does the two writes of charge number i.
func chargeOnce(b *testing.B, s *sqlstore.Store, i int) {
	ctx := context.Background()
	now := time.Now()
	mu := fmt.Sprintf("mbench%09d", i)
	_, created, err := s.CreateCharge(ctx, &store.Charge{
		MerchantUID: mu, UserID: fmt.Sprintf("u%d", i%100), IdempotencyKey: mu, CustomerUID: "c",
		Name: "basic", Amount: 9900, Status: store.ChargePending, CreatedAt: now, UpdatedAt: now,
	}, store.Lease{Owner: "bench", For: 2 * time.Minute})
	if err != nil || !created {
		b.Fatalf("create: %v %v", created, err)
	}
	if _, err := s.UpdateCharge(ctx, mu, []store.ChargeStatus{store.ChargePending},
		store.ChargeUpdate{Status: store.ChargeCharging, AddAttempts: 1, At: now}); err != nil {
		b.Fatalf("update: %v", err)
	}
}

func benchCharges(b *testing.B, s *sqlstore.Store) {
	i := 0
	for b.Loop() {
		i++
		chargeOnce(b, s, i)
	}
}

// BenchmarkClaimSubscriptions measures the store's side of renewal sweeps over 10,000 due
// subscriptions, as the renewal engine works minus iamport: claims in batches of 100 (a
// lease on the database's clock), and each claimed subscription updated to its next
// period with the lease released. One op is one sweep of all 10,000; ns/renewal is the
// time per subscription, claim-ns/renewal the part of it spent claiming.
func BenchmarkClaimSubscriptions(b *testing.B) {
	const subs, batch = 10000, 100
	const period = 30 * 24 * time.Hour
	for _, be := range backends {
		if be.name == "SQLiteMemory" {
			continue // a file is what a merchant runs
		}
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b)
			s := newStore(b, db, be.dialect)
			due := time.Date(2030, 1, 31, 0, 0, 0, 0, time.UTC)
			seedSubscriptions(b, db, be.dialect, "sbench", subs, func(i int) seedSub {
				return seedSub{next: due.Add(-time.Duration(i) * time.Millisecond)}
			})
			if be.dialect == sqlstore.Postgres {
				if _, err := db.Exec("ANALYZE billkey_subscriptions"); err != nil {
					b.Fatal(err)
				}
			}
			lease := store.Lease{Owner: "bench", For: 5 * time.Minute}
			renewed := 0
			var claiming time.Duration
			for b.Loop() {
				n, c := sweep(b, s, store.SubscriptionClaim{Due: due, Lease: lease, Limit: batch}, period)
				renewed, claiming = renewed+n, claiming+c
				due = due.Add(period)
			}
			if renewed == 0 || renewed%subs != 0 {
				b.Fatalf("renewed %d subscriptions, want a multiple of %d", renewed, subs)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(renewed), "ns/renewal")
			b.ReportMetric(float64(claiming.Nanoseconds())/float64(renewed), "claim-ns/renewal")
		})
	}
}

// sweep claims the subscriptions due by req.Due until none is left, moving each to its
// next period, and returns how many it renewed and the time its claims took.
func sweep(b *testing.B, s *sqlstore.Store, req store.SubscriptionClaim, period time.Duration) (n int, claiming time.Duration) {
	ctx := context.Background()
	for {
		start := time.Now()
		got, err := s.ClaimSubscriptions(ctx, req)
		claiming += time.Since(start)
		if err != nil {
			b.Fatalf("claim: %v", err)
		}
		if len(got) == 0 {
			return n, claiming
		}
		for _, sub := range got {
			sub.Period++
			sub.PeriodStart, sub.PeriodEnd = sub.NextActionAt, sub.NextActionAt.Add(period)
			sub.NextActionAt = sub.PeriodEnd
			sub.Notices, sub.UpdatedAt = 0, req.Due
			if _, err := s.UpdateSubscription(ctx, sub, true); err != nil {
				b.Fatalf("update: %v", err)
			}
			n++
		}
	}
}
