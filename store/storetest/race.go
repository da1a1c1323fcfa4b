package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
)

// testRaces runs the concurrency cases. stores gives, per subtest, the Store values the
// goroutines use round-robin; all share one backing database.
func testRaces(t *testing.T, stores func(*testing.T) []core.Store) {
	race := func(name string, fn func(f *fixture, stores []core.Store)) {
		t.Run(name, func(t *testing.T) {
			ss := stores(t)
			require.NotEmpty(t, ss)
			fn(newFixture(t, ss[0]), ss)
		})
	}

	// R4: one idempotency key, one charge, however many ask at once.
	race("CreateChargeSameKey", func(f *fixture, stores []core.Store) {
		const n = 200
		user, key := f.user(), f.idemKey()
		type result struct {
			c       *core.Charge
			created bool
			err     error
		}
		results := make([]result, n)
		attempts := make([]*core.Charge, n)
		for i := range n {
			c := f.charge(user)
			c.IdempotencyKey = key
			c.Amount = int64(1000 + i)
			attempts[i] = c
		}
		together(n, func(i int) {
			c, created, err := stores[i%len(stores)].CreateCharge(f.ctx, cloneCharge(attempts[i]))
			results[i] = result{c, created, err}
		})
		var winner *core.Charge
		for i, r := range results {
			require.NoError(f.t, r.err, "goroutine %d", i)
			require.NotNil(f.t, r.c, "goroutine %d", i)
			if r.created {
				require.Nil(f.t, winner, "two charges created for one idempotency key")
				winner = attempts[i]
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

	race("CreateChargeManyUsers", func(f *fixture, stores []core.Store) {
		const users, per = 20, 10
		key := f.idemKey() // the same key for every user
		names := make([]string, users)
		for i := range names {
			names[i] = f.user()
		}
		attempts := make([]*core.Charge, users*per)
		for i := range attempts {
			c := f.charge(names[i%users])
			c.IdempotencyKey = key
			attempts[i] = c
		}
		created := make([]bool, len(attempts))
		errs := make([]error, len(attempts))
		together(len(attempts), func(i int) {
			_, created[i], errs[i] = stores[i%len(stores)].CreateCharge(f.ctx, cloneCharge(attempts[i]))
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
	race("CompareAndSetCharge", func(f *fixture, stores []core.Store) {
		const n = 100
		c := f.createCharge(f.charge(f.user()))
		errs := make([]error, n)
		together(n, func(i int) {
			_, errs[i] = stores[i%len(stores)].UpdateCharge(f.ctx, c.MerchantUID,
				[]core.ChargeStatus{core.ChargePending},
				core.ChargeUpdate{Status: core.ChargeCharging, AddAttempts: 1, At: f.now.Add(time.Second)})
		})
		wins := 0
		for i, err := range errs {
			if err == nil {
				wins++
				continue
			}
			require.ErrorIs(f.t, err, core.ErrConflict, "goroutine %d", i)
		}
		require.Equal(f.t, 1, wins, "compare-and-set winners")
		got := f.getCharge(c.MerchantUID)
		require.Equal(f.t, core.ChargeCharging, got.Status)
		require.Equal(f.t, 1, got.Attempts)
	})

	// Callback, redirect and webhook racing: one settlement, one key.
	race("SettleIssuance", func(f *fixture, stores []core.Store) {
		const n = 50
		is := f.createIssuance(f.user())
		tos := make([]*core.Issuance, n)
		keys := make([]*core.BillingKey, n)
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
			require.ErrorIs(f.t, err, core.ErrConflict, "goroutine %d", i)
		}
		require.NotEqual(f.t, -1, winner, "never settled")
		got := f.getIssuance(is.MerchantUID)
		require.Equal(f.t, core.IssuanceIssued, got.Status)
		require.Equal(f.t, tos[winner].ImpUID, got.ImpUID)
		key, err := f.s.GetBillingKey(f.ctx, is.UserID)
		require.NoError(f.t, err)
		requireKey(f.t, keys[winner], key)
	})

	// R3 under a race: one imp_uid offered to many issuances settles one of them.
	race("SettleSameImpUID", func(f *fixture, stores []core.Store) {
		const n = 20
		imp := f.impUID()
		iss := make([]*core.Issuance, n)
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
				require.Equal(f.t, core.IssuanceIssued, got.Status)
				continue
			}
			require.ErrorIs(f.t, err, core.ErrDuplicate, "goroutine %d", i)
			requireIssuance(f.t, iss[i], got)
		}
		require.Equal(f.t, 1, wins)
	})

	// Many reconciler goroutines (or instances) sweep: each row is worked on once.
	race("ClaimCharges", func(f *fixture, stores []core.Store) {
		const rows, workers = 100, 50
		e := f.epoch
		mine := map[string]bool{}
		var uids []string
		for i := range rows {
			status := core.ChargeCharging
			if i%2 == 1 {
				status = core.ChargeUnknown
			}
			c := f.staleCharge(status, e.Add(-time.Hour+time.Duration(i)*time.Millisecond))
			mine[c.MerchantUID] = true
			uids = append(uids, c.MerchantUID)
		}
		defer f.retire(uids...)

		claimed := make([][]string, workers)
		errs := make([]error, workers)
		together(workers, func(w int) {
			s := stores[w%len(stores)]
			owner := fmt.Sprintf("%sw%d", f.prefix, w)
			for range 1000 {
				batch, err := s.ClaimCharges(f.ctx, core.ClaimRequest{Owner: owner, Statuses: reconcilable,
					UpdatedBefore: e, Now: e, Lease: time.Hour, Limit: 3})
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
		for mu := range mine {
			require.Equal(f.t, 1, count[mu], "a row was never claimed")
		}
		// The claims are recorded: each row names a worker and nobody can claim it now.
		for _, mu := range uids {
			require.NotEmpty(f.t, f.getCharge(mu).ClaimedBy)
		}
		left, err := f.s.ClaimCharges(f.ctx, core.ClaimRequest{Owner: f.next("owner"), Statuses: reconcilable,
			UpdatedBefore: e, Now: e.Add(time.Minute), Lease: time.Minute, Limit: rows})
		require.NoError(f.t, err)
		for _, c := range left {
			require.False(f.t, mine[c.MerchantUID], "a held row was claimed again")
		}
	})
}

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
