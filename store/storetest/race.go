package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
)

// testRaces runs the concurrency cases. stores gives, per subtest, the Store values the
// goroutines use round-robin; all share one backing database. With moved, they measure
// leases on the clock they are given, which the cases may move; without, they keep
// their own.
func testRaces(t *testing.T, stores func(*testing.T, *clock) []store.Store, moved bool) {
	var race racer = func(name string, fn func(f *fixture, stores []store.Store)) {
		t.Run(name, func(t *testing.T) {
			epoch := newEpoch()
			var c *clock
			if moved {
				c = newClock(epoch)
			}
			ss := stores(t, c)
			require.NotEmpty(t, ss)
			fn(newFixture(t, ss[0], epoch, c), ss)
		})
	}

	// R4: one idempotency key, one charge, however many ask at once.
	race("CreateChargeSameKey", func(f *fixture, stores []store.Store) {
		const n = 200
		user, key := f.user(), f.idemKey()
		type result struct {
			c       *store.Charge
			created bool
			err     error
		}
		results := make([]result, n)
		attempts := make([]*store.Charge, n)
		leases := make([]store.Lease, n)
		for i := range n {
			c := f.charge(user)
			c.IdempotencyKey = key
			c.Amount = int64(1000 + i)
			attempts[i] = c
			leases[i] = f.lease(time.Hour)
		}
		together(n, func(i int) {
			c, created, err := stores[i%len(stores)].CreateCharge(f.ctx, cloneCharge(attempts[i]), leases[i])
			results[i] = result{c, created, err}
		})
		var winner *store.Charge
		for i, r := range results {
			require.NoError(f.t, r.err, "goroutine %d", i)
			require.NotNil(f.t, r.c, "goroutine %d", i)
			if r.created {
				require.Nil(f.t, winner, "two charges created for one idempotency key")
				winner = cloneCharge(attempts[i])
				// The winner's lease, and only the winner's, is on the row.
				require.Equal(f.t, leases[i].Owner, r.c.ClaimedBy)
				winner.ClaimedBy, winner.ClaimedUntil = r.c.ClaimedBy, r.c.ClaimedUntil
			}
		}
		require.NotNil(f.t, winner, "no charge created")
		for _, r := range results {
			requireCharge(f.t, winner, r.c)
		}
		list, err := f.s.ListCharges(f.ctx, user, n+1)
		require.NoError(f.t, err)
		require.Len(f.t, list, 1)
		requireCharge(f.t, winner, list[0])
	})

	race("CreateChargeManyUsers", func(f *fixture, stores []store.Store) {
		const users, per = 20, 10
		key := f.idemKey() // the same key for every user
		names := make([]string, users)
		for i := range names {
			names[i] = f.user()
		}
		attempts := make([]*store.Charge, users*per)
		for i := range attempts {
			c := f.charge(names[i%users])
			c.IdempotencyKey = key
			attempts[i] = c
		}
		created := make([]bool, len(attempts))
		errs := make([]error, len(attempts))
		together(len(attempts), func(i int) {
			_, created[i], errs[i] = stores[i%len(stores)].CreateCharge(f.ctx, cloneCharge(attempts[i]), store.Lease{})
		})
		perUser := map[string]int{}
		for i := range attempts {
			require.NoError(f.t, errs[i])
			if created[i] {
				perUser[attempts[i].UserID]++
			}
		}
		for _, u := range names {
			require.Equal(f.t, 1, perUser[u], "charges created for one user and key")
		}
	})

	// Exactly one caller moves a charge pending -> charging (then sends `again`).
	race("CompareAndSetCharge", func(f *fixture, stores []store.Store) {
		const n = 100
		c := f.createCharge(f.charge(f.user()))
		errs := make([]error, n)
		together(n, func(i int) {
			_, errs[i] = stores[i%len(stores)].UpdateCharge(f.ctx, c.MerchantUID,
				[]store.ChargeStatus{store.ChargePending},
				store.ChargeUpdate{Status: store.ChargeCharging, AddAttempts: 1, At: f.now.Add(time.Second)})
		})
		wins := 0
		for i, err := range errs {
			if err == nil {
				wins++
				continue
			}
			require.ErrorIs(f.t, err, store.ErrConflict, "goroutine %d", i)
		}
		require.Equal(f.t, 1, wins, "compare-and-set winners")
		got := f.getCharge(c.MerchantUID)
		require.Equal(f.t, store.ChargeCharging, got.Status)
		require.Equal(f.t, 1, got.Attempts)
	})

	// Many late writers of one attempt whose status stays the same: only IfAttempts tells
	// them apart, and exactly one gets through.
	race("CompareAndSetAttempt", func(f *fixture, stores []store.Store) {
		const n = 100
		c := f.createCharge(f.charge(f.user()))
		_, err := f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{store.ChargePending},
			store.ChargeUpdate{Status: store.ChargeCharging, AddAttempts: 1})
		require.NoError(f.t, err)
		leases := make([]store.Lease, n)
		for i := range leases {
			leases[i] = f.lease(time.Hour)
		}
		errs := make([]error, n)
		together(n, func(i int) {
			_, errs[i] = stores[i%len(stores)].UpdateCharge(f.ctx, c.MerchantUID,
				[]store.ChargeStatus{store.ChargeCharging},
				store.ChargeUpdate{AddAttempts: 1, IfAttempts: 1, Hold: &leases[i]})
		})
		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(f.t, -1, winner, "two writers of one attempt got through")
				winner = i
				continue
			}
			require.ErrorIs(f.t, err, store.ErrConflict, "goroutine %d", i)
		}
		require.NotEqual(f.t, -1, winner, "no writer got through")
		got := f.getCharge(c.MerchantUID)
		require.Equal(f.t, store.ChargeCharging, got.Status)
		require.Equal(f.t, 2, got.Attempts)
		require.Equal(f.t, leases[winner].Owner, got.ClaimedBy)
	})

	// Callback, redirect and webhook racing: one settlement, one key.
	race("SettleIssuance", func(f *fixture, stores []store.Store) {
		const n = 50
		is := f.createIssuance(f.user())
		tos := make([]*store.Issuance, n)
		keys := make([]*store.BillingKey, n)
		for i := range n {
			tos[i], keys[i] = f.issued(is, fmt.Sprintf("card%d", i))
		}
		errs := make([]error, n)
		together(n, func(i int) {
			_, errs[i] = stores[i%len(stores)].SettleIssuance(f.ctx, is.MerchantUID, tos[i], keys[i])
		})
		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(f.t, -1, winner, "settled twice")
				winner = i
				continue
			}
			require.ErrorIs(f.t, err, store.ErrConflict, "goroutine %d", i)
		}
		require.NotEqual(f.t, -1, winner, "never settled")
		got := f.getIssuance(is.MerchantUID)
		require.Equal(f.t, store.IssuanceIssued, got.Status)
		require.Equal(f.t, tos[winner].ImpUID, got.ImpUID)
		key, err := f.s.GetBillingKey(f.ctx, is.UserID)
		require.NoError(f.t, err)
		requireKey(f.t, keys[winner], key)
	})

	// R3 under a race: one imp_uid offered to many issuances settles one of them.
	race("SettleSameImpUID", func(f *fixture, stores []store.Store) {
		const n = 20
		imp := f.impUID()
		iss := make([]*store.Issuance, n)
		for i := range n {
			iss[i] = f.createIssuance(f.user())
		}
		errs := make([]error, n)
		together(n, func(i int) {
			to, key := f.issued(iss[i], "BC")
			to.ImpUID = imp
			_, errs[i] = stores[i%len(stores)].SettleIssuance(f.ctx, iss[i].MerchantUID, to, key)
		})
		wins := 0
		for i, err := range errs {
			got := f.getIssuance(iss[i].MerchantUID)
			if err == nil {
				wins++
				require.Equal(f.t, store.IssuanceIssued, got.Status)
				continue
			}
			require.ErrorIs(f.t, err, store.ErrDuplicate, "goroutine %d", i)
			requireIssuance(f.t, iss[i], got)
		}
		require.Equal(f.t, 1, wins)
	})

	// Many reconciler goroutines (or instances) sweep: each claimable row is worked on
	// once, and rows whose lease holds (or that hold none but are claimed only with one)
	// are never handed out.
	race("ClaimCharges", func(f *fixture, stores []store.Store) {
		const rows, workers = 100, 50
		claimable := map[string]bool{}
		var uids []string
		add := func(status store.ChargeStatus, lease store.Lease, claim bool) {
			c := f.heldCharge(status, lease, f.now.Add(time.Duration(len(uids))*time.Millisecond))
			claimable[c.MerchantUID] = claim
			uids = append(uids, c.MerchantUID)
		}
		for i := range rows {
			status := store.ChargeCharging
			if i%2 == 1 {
				status = store.ChargeUnknown
			}
			add(status, store.Lease{}, true)
		}
		for range rows / 10 {
			add(store.ChargeCharging, f.lease(time.Hour), false)
			add(store.ChargeFailed, store.Lease{}, false)
			add(store.ChargeFailed, f.lease(time.Hour), false)
		}
		if f.clock != nil {
			// Leases that ran out by the store's clock, of rows claimed with or without one.
			for range rows / 5 {
				add(store.ChargeUnknown, f.lease(time.Minute), true)
				add(store.ChargeFailed, f.lease(time.Minute), true)
			}
			f.clock.advance(time.Minute)
		}
		defer f.retire(uids...)

		claimed := make([][]string, workers)
		errs := make([]error, workers)
		together(workers, func(w int) {
			s := stores[w%len(stores)]
			owner := fmt.Sprintf("%sw%d", f.prefix, w)
			for range 1000 {
				batch, err := s.ClaimCharges(f.ctx, store.ClaimRequest{Statuses: active, Held: heldOnly,
					Lease: store.Lease{Owner: owner, For: time.Hour}, Limit: 3})
				if err != nil {
					errs[w] = err
					return
				}
				if len(batch) > 3 {
					errs[w] = fmt.Errorf("batch of %d rows, limit 3", len(batch))
					return
				}
				if len(batch) == 0 {
					return
				}
				for _, c := range batch {
					if c == nil || c.ClaimedBy != owner {
						errs[w] = errors.New("a claimed row does not name its owner")
						return
					}
					claimed[w] = append(claimed[w], c.MerchantUID)
				}
			}
			errs[w] = errors.New("ClaimCharges never ran out of rows")
		})
		count := map[string]int{}
		for w := range workers {
			require.NoError(f.t, errs[w], "worker %d", w)
			for _, mu := range claimed[w] {
				count[mu]++
				require.Equal(f.t, 1, count[mu], "row claimed twice")
			}
		}
		for mu, claim := range claimable {
			if claim {
				require.Equal(f.t, 1, count[mu], "a claimable row was never claimed")
			} else {
				require.Zero(f.t, count[mu], "a row was claimed while its lease held, or without one")
			}
		}
		// The claims are recorded: each row names a worker and nobody can claim it now.
		for mu, claim := range claimable {
			if claim {
				require.Contains(f.t, f.getCharge(mu).ClaimedBy, f.prefix+"w")
			}
		}
		left, err := f.s.ClaimCharges(f.ctx, store.ClaimRequest{Statuses: active, Held: heldOnly,
			Lease: f.lease(time.Minute), Limit: 2 * rows})
		require.NoError(f.t, err)
		requireNone(f, left, uids, "a held row was claimed again")
	})

	testSubscriptionRaces(race)
}

// racer runs fn as one concurrency case: a fixture on the first store and all the stores
// the goroutines spread over.
type racer func(name string, fn func(f *fixture, stores []store.Store))

// together runs fn(0..n-1) on n goroutines released at the same moment and waits for all.
func together(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}
