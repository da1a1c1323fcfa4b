package storetest

import (
	"errors"
	"fmt"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
)

// testSubscriptionRaces runs the subscription cases of the concurrency suite.
func testSubscriptionRaces(race racer) {
	// One idempotency key, one subscription, however many ask at once; every attempt also
	// wants the same slot, so a store that checks the slot before the key fails.
	race("CreateSubscriptionSameKey", func(f *fixture, stores []store.Store) {
		const n = 200
		user, key := f.user(), f.idemKey()
		attempts := make([]*store.Subscription, n)
		for i := range attempts {
			s := f.withKey(user, key)
			s.Slot, s.PlanID = "basic", fmt.Sprintf("plan%d", i)
			attempts[i] = s
		}
		type result struct {
			sub     *store.Subscription
			created bool
			err     error
		}
		results := make([]result, n)
		together(n, func(i int) {
			sub, created, err := stores[i%len(stores)].CreateSubscription(f.ctx, cloneSub(attempts[i]))
			results[i] = result{sub, created, err}
		})
		var winner *store.Subscription
		for i, r := range results {
			require.NoError(f.t, r.err, "goroutine %d", i)
			if r.created {
				require.Nil(f.t, winner, "two subscriptions created for one idempotency key")
				winner = cloneSub(attempts[i])
				winner.Version = 1
			}
		}
		require.NotNil(f.t, winner, "no subscription created")
		for _, r := range results {
			requireSubscription(f.t, winner, r.sub)
		}
		list, err := f.s.ListSubscriptions(f.ctx, user)
		require.NoError(f.t, err)
		require.Len(f.t, list, 1)
		requireSubscription(f.t, winner, list[0])
	})

	// Many starts of one plan group by one user (another key each): one holds the slot.
	race("CreateSubscriptionSameSlot", func(f *fixture, stores []store.Store) {
		const n = 50
		user := f.user()
		errs := make([]error, n)
		created := make([]bool, n)
		together(n, func(i int) {
			s := f.subscription(user)
			s.Slot = "basic"
			_, created[i], errs[i] = stores[i%len(stores)].CreateSubscription(f.ctx, s)
		})
		wins := 0
		for i, err := range errs {
			if err == nil {
				require.True(f.t, created[i])
				wins++
				continue
			}
			require.ErrorIs(f.t, err, store.ErrDuplicate, "goroutine %d", i)
		}
		require.Equal(f.t, 1, wins, "subscriptions in one slot")
		list, err := f.s.ListSubscriptions(f.ctx, user)
		require.NoError(f.t, err)
		require.Len(f.t, list, 1)
	})

	// A hundred writers of one version: exactly one gets through, and its write is stored.
	race("UpdateSubscriptionSameVersion", func(f *fixture, stores []store.Store) {
		const n = 100
		sub := f.createSub(f.subscription(f.user()))
		errs := make([]error, n)
		together(n, func(i int) {
			next := withChange(sub, func(s *store.Subscription) { s.Retries, s.PlanID = i+1, fmt.Sprintf("plan%d", i) })
			_, errs[i] = stores[i%len(stores)].UpdateSubscription(f.ctx, next, i%2 == 0)
		})
		winner := -1
		for i, err := range errs {
			if err == nil {
				require.Equal(f.t, -1, winner, "two writers of one version got through")
				winner = i
				continue
			}
			require.ErrorIs(f.t, err, store.ErrConflict, "goroutine %d", i)
		}
		require.NotEqual(f.t, -1, winner, "no writer got through")
		got := f.getSub(sub.ID)
		require.Equal(f.t, 2, got.Version)
		require.Equal(f.t, winner+1, got.Retries)
		require.Equal(f.t, fmt.Sprintf("plan%d", winner), got.PlanID)
	})

	// Many renewal workers (or instances) sweep: each due subscription is claimed once,
	// and those not due, with nothing to do or whose lease holds never.
	race("ClaimSubscriptions", func(f *fixture, stores []store.Store) {
		const rows, workers, limit = 100, 50, 3
		due := f.epoch.Add(-time.Hour)
		claimable := map[string]bool{}
		var ids []string
		add := func(next time.Time, lease store.Lease, claim bool) {
			sub := f.subscription(f.user())
			sub.NextActionAt = next
			id := f.heldSub(sub, lease).ID
			claimable[id] = claim
			ids = append(ids, id)
		}
		for i := range rows {
			add(due.Add(-time.Duration(i)*time.Second), store.Lease{}, true)
		}
		for range rows / 10 {
			add(due.Add(-time.Minute), f.lease(time.Hour), false)
			add(time.Time{}, store.Lease{}, false)
			add(due.Add(time.Millisecond), store.Lease{}, false)
		}
		if f.clock != nil {
			// Leases that ran out by the store's clock.
			for range rows / 5 {
				add(due.Add(-2*time.Minute), f.lease(time.Minute), true)
			}
			f.clock.advance(time.Minute)
		}
		defer f.retireSubs(ids...)

		claimed := make([][]string, workers)
		errs := make([]error, workers)
		together(workers, func(w int) {
			s := stores[w%len(stores)]
			owner := fmt.Sprintf("%sw%d", f.prefix, w)
			for range 1000 {
				batch, err := s.ClaimSubscriptions(f.ctx, store.SubscriptionClaim{Due: due,
					Lease: store.Lease{Owner: owner, For: time.Hour}, Limit: limit})
				if err != nil {
					errs[w] = err
					return
				}
				if len(batch) > limit {
					errs[w] = fmt.Errorf("batch of %d, limit %d", len(batch), limit)
					return
				}
				if len(batch) == 0 {
					return
				}
				for _, sub := range batch {
					if sub == nil || sub.ClaimedBy != owner {
						errs[w] = errors.New("a claimed subscription does not name its owner")
						return
					}
					claimed[w] = append(claimed[w], sub.ID)
				}
			}
			errs[w] = errors.New("ClaimSubscriptions never ran out of subscriptions")
		})
		count := map[string]int{}
		for w := range workers {
			require.NoError(f.t, errs[w], "worker %d", w)
			for _, id := range claimed[w] {
				count[id]++
				require.Equal(f.t, 1, count[id], "subscription claimed twice")
			}
		}
		for id, claim := range claimable {
			if claim {
				require.Equal(f.t, 1, count[id], "a due subscription was never claimed")
				require.Contains(f.t, f.getSub(id).ClaimedBy, f.prefix+"w")
			} else {
				require.Zero(f.t, count[id], "claimed while not due or while its lease held")
			}
		}
		left, err := f.s.ClaimSubscriptions(f.ctx, store.SubscriptionClaim{Due: due, Lease: f.lease(time.Minute), Limit: 2 * rows})
		require.NoError(f.t, err)
		requireNoSub(f, left, ids, "a held subscription was claimed again")
	})
}
