package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
)

// parkedAt is the NextActionAt a subscription is created with by heldSub to be claimed
// alone: earlier than any instant the suite claims at otherwise.
var parkedAt = time.Date(1975, 1, 1, 0, 0, 0, 0, time.UTC)

func testSubscriptionClaims(t *testing.T, open opener) {
	// Due by NextActionAt (at or before Due, never when zero) and by the lease (none, or
	// one that ran out by the store's clock); the status plays no part.
	run(t, open, "Select", func(f *fixture) {
		short, long := time.Minute, 10*time.Minute
		due := f.epoch.Add(-time.Hour)
		type row struct {
			status store.SubscriptionStatus
			next   time.Time
			lease  time.Duration // 0: none
			claim  bool
		}
		rows := map[string]row{
			"due":                    {store.SubscriptionActive, due.Add(-time.Hour), 0, true},
			"due at Due":             {store.SubscriptionActive, due, 0, true},
			"due in a millisecond":   {store.SubscriptionActive, due.Add(time.Millisecond), 0, false},
			"due in a year":          {store.SubscriptionActive, due.Add(365 * 24 * time.Hour), 0, false},
			"nothing to do":          {store.SubscriptionActive, time.Time{}, 0, false},
			"ended, nothing to do":   {store.SubscriptionEnded, time.Time{}, 0, false},
			"trialing":               {store.SubscriptionTrialing, due.Add(-2 * time.Hour), 0, true},
			"past due":               {store.SubscriptionPastDue, due.Add(-3 * time.Hour), 0, true},
			"canceled":               {store.SubscriptionCanceled, due.Add(-4 * time.Hour), 0, true},
			"lease ran out":          {store.SubscriptionActive, due.Add(-5 * time.Hour), short, true},
			"lease holds":            {store.SubscriptionActive, due.Add(-6 * time.Hour), long, false},
			"not due, lease ran out": {store.SubscriptionActive, due.Add(time.Hour), short, false},
		}
		mine := map[string]*store.Subscription{}
		var ids []string
		for name, r := range rows {
			sub := f.subscription(f.user())
			sub.Status, sub.NextActionAt = r.status, r.next
			mine[name] = f.heldSub(sub, f.lease(r.lease))
			ids = append(ids, sub.ID)
		}
		// A subscription whose next action was taken away by an update is not due.
		done := f.subscription(f.user())
		done.NextActionAt = due.Add(-7 * time.Hour)
		done = f.update(f.createSub(done), func(s *store.Subscription) { s.NextActionAt = time.Time{} })
		rows["nothing to do any more"] = row{done.Status, time.Time{}, 0, false}
		mine["nothing to do any more"] = done
		ids = append(ids, done.ID)
		defer f.retireSubs(ids...)
		f.clock.advance(2 * short)

		req := store.SubscriptionClaim{Due: due, Lease: f.lease(5 * time.Minute), Limit: 100}
		got := bySubID(f.claimSubs(req))
		for name, sub := range mine {
			if !rows[name].claim {
				require.NotContains(f.t, got, sub.ID, "%s was claimed", name)
				requireSubscription(f.t, sub, f.getSub(sub.ID))
				continue
			}
			require.Contains(f.t, got, sub.ID, "%s was not claimed", name)
			want := cloneSub(sub)
			want.ClaimedBy, want.ClaimedUntil = req.Lease.Owner, f.until(req.Lease.For)
			requireSubscription(f.t, want, got[sub.ID]) // nothing else changed: not UpdatedAt, not Version
			requireSubscription(f.t, want, f.getSub(sub.ID))
		}

		// Once every lease ran out, a later Due takes the rows due by then; a zero
		// NextActionAt is never due.
		f.clock.advance(long)
		got = bySubID(f.claimSubs(store.SubscriptionClaim{Due: due.Add(2 * time.Hour), Lease: f.lease(time.Minute), Limit: 100}))
		for name, sub := range mine {
			r := rows[name]
			want := !r.next.IsZero() && !r.next.After(due.Add(2*time.Hour))
			require.Equal(f.t, want, got[sub.ID] != nil, "%s claimed at a later Due", name)
		}
	})

	// The lease holds until the store's clock passes its end, and not a millisecond less,
	// whatever Due the callers give (docs/guarantees.md, R4).
	run(t, open, "LeaseHoldsUntilStoreClock", func(f *fixture) {
		const lease = 5 * time.Minute
		first := f.lease(lease)
		due := f.epoch.Add(-20 * 365 * 24 * time.Hour) // the callers' time, far from the store's clock
		var ids []string
		for i := range 3 {
			sub := f.subscription(f.user())
			sub.NextActionAt = due.Add(time.Duration(i) * time.Millisecond)
			ids = append(ids, f.heldSub(sub, first).ID)
		}
		defer f.retireSubs(ids...)
		end := f.until(lease)
		latest := due.Add(time.Hour)

		for _, step := range []struct {
			advance time.Duration
			owner   string
		}{
			{0, f.next("owner")},
			{0, first.Owner}, // the holder itself does not get them twice
			{time.Minute, f.next("owner")},
			{lease - time.Minute - time.Millisecond, f.next("owner")},
		} {
			f.clock.advance(step.advance)
			got := f.claimSubs(store.SubscriptionClaim{Due: latest, Lease: store.Lease{Owner: step.owner, For: time.Hour}, Limit: 100})
			requireNoSub(f, got, ids, "claimed %v before the lease ended", end.Sub(f.clock.Now()))
		}

		// At the lease's end they are free (ClaimedUntil <= the store's clock).
		f.clock.advance(time.Millisecond)
		require.True(f.t, f.clock.Now().Equal(end))
		second := f.lease(3 * time.Minute)
		got := bySubID(f.claimSubs(store.SubscriptionClaim{Due: latest, Lease: second, Limit: 100}))
		for _, id := range ids {
			require.Contains(f.t, got, id, "not claimed when the lease ended")
			require.Equal(f.t, second.Owner, got[id].ClaimedBy)
			requireTime(f.t, "ClaimedUntil", end.Add(second.For), got[id].ClaimedUntil)
		}

		// A claim's lease holds the same way.
		f.clock.advance(second.For - time.Millisecond)
		requireNoSub(f, f.claimSubs(store.SubscriptionClaim{Due: latest, Lease: f.lease(time.Minute), Limit: 100}),
			ids, "claimed while a claim held")
		f.clock.advance(time.Millisecond)
		third := f.lease(time.Minute)
		got = bySubID(f.claimSubs(store.SubscriptionClaim{Due: latest, Lease: third, Limit: 100}))
		for _, id := range ids {
			require.Contains(f.t, got, id)
			require.Equal(f.t, third.Owner, f.getSub(id).ClaimedBy)
		}
	})

	// A limited claim takes the earliest NextActionAt first (ties: the smaller id), and a
	// batch comes back in that order.
	run(t, open, "EarliestDueFirst", func(f *fixture) {
		base := f.epoch.Add(-time.Hour)
		ids := make([]string, 7)
		for i := range ids {
			ids[i] = f.next("sub")
		}
		// Created neither in id nor in due order; ids[4] and ids[5] are due at once.
		for _, tc := range []struct {
			id      int
			minutes int
		}{{3, 4}, {5, 2}, {0, 0}, {6, 5}, {4, 2}, {2, 3}, {1, 1}} {
			sub := f.subscription(f.user())
			sub.ID, sub.NextActionAt = ids[tc.id], base.Add(time.Duration(tc.minutes)*time.Minute)
			f.createSub(sub)
		}
		defer f.retireSubs(ids...)
		want := []string{ids[0], ids[1], ids[4], ids[5], ids[2], ids[3], ids[6]}
		due := base.Add(10 * time.Minute)

		var order []string
		for _, sub := range f.claimSubs(store.SubscriptionClaim{Due: due, Lease: f.lease(time.Minute), Limit: 1}) {
			if slices.Contains(ids, sub.ID) {
				order = append(order, sub.ID)
			}
		}
		require.Equal(f.t, want, order, "claimed out of due order")

		// One batch, once the leases ran out: the same order within it.
		f.clock.advance(time.Minute)
		order = nil
		batch, err := f.s.ClaimSubscriptions(f.ctx, store.SubscriptionClaim{Due: due, Lease: f.lease(time.Minute), Limit: 100})
		require.NoError(f.t, err)
		requireDueOrder(f.t, batch)
		for _, sub := range batch {
			if slices.Contains(ids, sub.ID) {
				order = append(order, sub.ID)
			}
		}
		require.Equal(f.t, want, order, "a batch out of due order")
	})

	// A claim returns at most its limit and no fewer while enough are due.
	run(t, open, "Limit", func(f *fixture) {
		due := f.epoch.Add(-time.Hour)
		var ids []string
		for i := range 5 {
			sub := f.subscription(f.user())
			sub.NextActionAt = due.Add(-time.Duration(i) * time.Second)
			ids = append(ids, f.createSub(sub).ID)
		}
		defer f.retireSubs(ids...)
		req := store.SubscriptionClaim{Due: due, Lease: f.lease(time.Minute), Limit: 2}
		batch, err := f.s.ClaimSubscriptions(f.ctx, req)
		require.NoError(f.t, err)
		require.Len(f.t, batch, 2, "fewer than the limit while more are due")
		claimed := bySubID(append(batch, f.claimSubs(req)...))
		for _, id := range ids {
			require.Contains(f.t, claimed, id)
		}
	})

	run(t, open, "NothingToClaim", func(f *fixture) {
		sub := f.subscription(f.user())
		sub.NextActionAt = f.epoch.Add(-time.Hour)
		stored := f.createSub(sub)
		defer f.retireSubs(sub.ID)
		base := store.SubscriptionClaim{Due: f.epoch, Lease: f.lease(time.Minute), Limit: 10}
		for _, tc := range []struct {
			name   string
			change func(*store.SubscriptionClaim)
			err    bool
		}{
			{"limit 0", func(r *store.SubscriptionClaim) { r.Limit = 0 }, false},
			{"limit -1", func(r *store.SubscriptionClaim) { r.Limit = -1 }, false},
			{"zero Due", func(r *store.SubscriptionClaim) { r.Due = time.Time{} }, false},
			{"no owner", func(r *store.SubscriptionClaim) { r.Lease.Owner = "" }, true},
			{"no lease", func(r *store.SubscriptionClaim) { r.Lease.For = 0 }, true},
			{"negative lease", func(r *store.SubscriptionClaim) { r.Lease.For = -time.Minute }, true},
		} {
			req := base
			tc.change(&req)
			got, err := f.s.ClaimSubscriptions(f.ctx, req)
			if tc.err {
				require.Error(f.t, err, tc.name)
			} else {
				require.NoError(f.t, err, tc.name)
			}
			require.Empty(f.t, got, tc.name)
			requireSubscription(f.t, stored, f.getSub(sub.ID))
		}
	})
}

// heldSub stores sub holding lease (none when lease.For is 0) and returns it as stored.
// A lease is taken the way the renewal engine takes one: sub is created due at parkedAt,
// claimed alone, and moved to its own NextActionAt by an update that keeps the lease.
func (f *fixture) heldSub(sub *store.Subscription, lease store.Lease) *store.Subscription {
	f.t.Helper()
	if lease.For <= 0 {
		return f.createSub(sub)
	}
	parked := cloneSub(sub)
	parked.NextActionAt = parkedAt
	f.createSub(parked)
	got := bySubID(f.claimSubs(store.SubscriptionClaim{Due: parkedAt, Lease: lease, Limit: 100}))
	claimed, ok := got[sub.ID]
	require.True(f.t, ok, "a parked subscription was not claimed")
	return f.update(claimed, func(s *store.Subscription) { s.NextActionAt = sub.NextActionAt })
}

// claimSubs calls ClaimSubscriptions with req until it returns nothing, checking every
// batch, and returns the claimed subscriptions in the order received. Subscriptions of
// other tests sharing the database may be among them.
func (f *fixture) claimSubs(req store.SubscriptionClaim) []*store.Subscription {
	f.t.Helper()
	var out []*store.Subscription
	seen := map[string]bool{}
	for range 10000 {
		batch, err := f.s.ClaimSubscriptions(f.ctx, req)
		require.NoError(f.t, err)
		require.LessOrEqual(f.t, len(batch), req.Limit)
		if len(batch) == 0 {
			return out
		}
		requireDueOrder(f.t, batch)
		for _, sub := range batch {
			require.False(f.t, seen[sub.ID], "subscription claimed twice while its lease held")
			seen[sub.ID] = true
			require.False(f.t, sub.NextActionAt.IsZero(), "claimed a subscription with nothing to do")
			require.False(f.t, sub.NextActionAt.After(req.Due), "claimed a subscription due after Due")
			require.Equal(f.t, req.Lease.Owner, sub.ClaimedBy)
			if f.clock != nil {
				requireTime(f.t, "ClaimedUntil", f.until(req.Lease.For), sub.ClaimedUntil)
			}
			out = append(out, sub)
		}
	}
	f.t.Fatal("ClaimSubscriptions never ran out of subscriptions")
	return nil
}

// requireDueOrder checks that a batch is in claim order: earliest NextActionAt first,
// ties by id.
func requireDueOrder(t *testing.T, batch []*store.Subscription) {
	t.Helper()
	for i := 1; i < len(batch); i++ {
		a, b := batch[i-1], batch[i]
		require.NotNil(t, b)
		require.True(t, a.NextActionAt.Before(b.NextActionAt) || a.NextActionAt.Equal(b.NextActionAt) && a.ID < b.ID,
			"batch out of order at %d", i)
	}
}

// requireNoSub checks that none of ids is among the claimed subscriptions.
func requireNoSub(f *fixture, claimed []*store.Subscription, ids []string, msg string, args ...any) {
	f.t.Helper()
	for _, sub := range claimed {
		require.NotContainsf(f.t, ids, sub.ID, msg, args...)
	}
}

func bySubID(subs []*store.Subscription) map[string]*store.Subscription {
	m := make(map[string]*store.Subscription, len(subs))
	for _, s := range subs {
		m[s.ID] = s
	}
	return m
}
