package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
)

func testSubscriptions(t *testing.T, open opener) {
	run(t, open, "CreateAndGet", func(f *fixture) {
		sub := f.subscription(f.user())
		sub.Slot, sub.NextActionAt = "basic", f.epoch.Add(-time.Hour)
		sub.EndedAt, sub.EndReason = sub.PeriodEnd.Add(time.Millisecond), "card_declined"
		// What the store keeps itself is not taken from the caller.
		in := cloneSub(sub)
		in.Version, in.ClaimedBy, in.ClaimedUntil = 7, "intruder", f.now.Add(24*time.Hour)
		stored, created, err := f.s.CreateSubscription(f.ctx, in)
		require.NoError(f.t, err)
		require.True(f.t, created)
		want := cloneSub(sub)
		want.Version = 1
		requireSubscription(f.t, want, stored)
		requireSubscription(f.t, want, f.getSub(sub.ID))
		defer f.retireSubs(sub.ID)

		// Zero values come back zero, "" as "".
		bare := &store.Subscription{ID: f.next("sub"), UserID: f.user(), IdempotencyKey: f.idemKey(), Status: store.SubscriptionIncomplete}
		f.createSub(bare)

		_, err = f.s.GetSubscription(f.ctx, f.next("sub"))
		require.ErrorIs(f.t, err, store.ErrNotFound)
		_, err = f.s.GetSubscription(f.ctx, "")
		require.ErrorIs(f.t, err, store.ErrNotFound)
		_, _, err = f.s.CreateSubscription(f.ctx, nil)
		require.Error(f.t, err)
		noID := f.subscription(f.user())
		noID.ID = ""
		_, _, err = f.s.CreateSubscription(f.ctx, noID)
		require.Error(f.t, err)
		list, err := f.s.ListSubscriptions(f.ctx, noID.UserID)
		require.NoError(f.t, err)
		require.Empty(f.t, list, "a subscription without id was stored")
	})

	run(t, open, "IdempotencyKey", func(f *fixture) {
		user := f.user()
		first := f.createSub(f.subscription(user))

		// The same (user, key) returns the first subscription, whatever the second says.
		second := f.subscription(user)
		second.IdempotencyKey = first.IdempotencyKey
		second.PlanID, second.Slot, second.Status = "premium-yearly", "premium", store.SubscriptionTrialing
		stored, created, err := f.s.CreateSubscription(f.ctx, cloneSub(second))
		require.NoError(f.t, err)
		require.False(f.t, created)
		requireSubscription(f.t, first, stored)
		_, err = f.s.GetSubscription(f.ctx, second.ID)
		require.ErrorIs(f.t, err, store.ErrNotFound, "the second subscription was stored")

		// As it is now, not as it was created; even when the second's id or slot is taken
		// by a third subscription, the (user, key) match wins.
		third := f.subscription(user)
		third.Slot = "premium"
		third = f.createSub(third)
		moved := f.update(first, func(s *store.Subscription) { s.Status, s.Retries = store.SubscriptionPastDue, 1 })
		second.ID = third.ID
		stored, created, err = f.s.CreateSubscription(f.ctx, cloneSub(second))
		require.NoError(f.t, err)
		require.False(f.t, created)
		requireSubscription(f.t, moved, stored)
		requireSubscription(f.t, third, f.getSub(third.ID))

		// The same key is another user's own.
		other := f.subscription(f.user())
		other.IdempotencyKey = first.IdempotencyKey
		f.createSub(other)
		requireSubscription(f.t, moved, f.getSub(first.ID))

		list, err := f.s.ListSubscriptions(f.ctx, user)
		require.NoError(f.t, err)
		require.Len(f.t, list, 2)
	})

	run(t, open, "DuplicateID", func(f *fixture) {
		user := f.user()
		first := f.createSub(f.subscription(user))
		for _, u := range []string{user, f.user()} {
			dup := f.subscription(u)
			dup.ID = first.ID
			_, _, err := f.s.CreateSubscription(f.ctx, dup)
			require.ErrorIs(f.t, err, store.ErrDuplicate)
			requireSubscription(f.t, first, f.getSub(first.ID))
			if u != user {
				list, err := f.s.ListSubscriptions(f.ctx, u)
				require.NoError(f.t, err)
				require.Empty(f.t, list, "a rejected subscription was stored")
			}
		}
	})

	// A slot holds one of the user's subscriptions at a time; "" is no slot; other users
	// have slots of their own.
	run(t, open, "Slot", func(f *fixture) {
		user, other := f.user(), f.user()
		inSlot := func(u, slot string) *store.Subscription {
			s := f.subscription(u)
			s.Slot = slot
			return s
		}
		a := f.createSub(inSlot(user, "basic"))

		b := inSlot(user, "basic")
		_, _, err := f.s.CreateSubscription(f.ctx, cloneSub(b))
		require.ErrorIs(f.t, err, store.ErrDuplicate, "a second live subscription in one slot")
		_, err = f.s.GetSubscription(f.ctx, b.ID)
		require.ErrorIs(f.t, err, store.ErrNotFound, "a refused subscription was stored")
		c := f.createSub(inSlot(user, "premium"))
		for range 3 {
			f.createSub(inSlot(user, ""))
		}
		f.createSub(inSlot(other, "basic"))
		f.createSub(inSlot(other, "premium"))

		// An update into a taken slot is refused and changes nothing; keeping one's own
		// slot is no duplicate.
		_, err = f.s.UpdateSubscription(f.ctx, withChange(c, func(s *store.Subscription) { s.Slot, s.Retries = "basic", 5 }), false)
		require.ErrorIs(f.t, err, store.ErrDuplicate)
		requireSubscription(f.t, c, f.getSub(c.ID))
		a = f.update(a, func(s *store.Subscription) { s.Retries = 2 })

		// Once a's slot is cleared (it ended), the slot takes another subscription, and
		// a cannot take it back.
		a = f.update(a, func(s *store.Subscription) { s.Slot, s.Status = "", store.SubscriptionEnded })
		f.createSub(b)
		_, err = f.s.UpdateSubscription(f.ctx, withChange(a, func(s *store.Subscription) { s.Slot = "basic" }), false)
		require.ErrorIs(f.t, err, store.ErrDuplicate)
		requireSubscription(f.t, a, f.getSub(a.ID))

		// A slot freed by an update is free for an update too.
		f.update(c, func(s *store.Subscription) { s.Slot = "" })
		a = f.update(a, func(s *store.Subscription) { s.Slot = "premium" })
		requireSubscription(f.t, a, f.getSub(a.ID))
	})

	// Compare-and-set on Version: the stored version must be the caller's; every update
	// adds one.
	run(t, open, "Version", func(f *fixture) {
		sub := f.createSub(f.subscription(f.user()))
		taken := f.subscription(sub.UserID)
		taken.Slot = "premium"
		f.createSub(taken)
		v2 := f.update(sub, func(s *store.Subscription) { s.Retries = 1 })
		require.Equal(f.t, 2, v2.Version)
		v3 := f.update(v2, func(s *store.Subscription) { s.Retries = 2 })
		require.Equal(f.t, 3, v3.Version)

		for _, tc := range []struct {
			name    string
			version int
			slot    string
		}{
			{"stale", 2, ""},
			{"the first", 1, ""},
			{"not reached", 4, ""},
			{"zero", 0, ""},
			{"stale, into a taken slot", 2, "premium"}, // the version is checked first
		} {
			stale := withChange(v3, func(s *store.Subscription) {
				s.Version, s.Slot, s.Status, s.Retries = tc.version, tc.slot, store.SubscriptionEnded, 9
			})
			_, err := f.s.UpdateSubscription(f.ctx, stale, true)
			require.ErrorIs(f.t, err, store.ErrConflict, tc.name)
			requireSubscription(f.t, v3, f.getSub(sub.ID))
		}
		missing := f.subscription(sub.UserID)
		_, err := f.s.UpdateSubscription(f.ctx, missing, false)
		require.ErrorIs(f.t, err, store.ErrNotFound)
		_, err = f.s.GetSubscription(f.ctx, missing.ID)
		require.ErrorIs(f.t, err, store.ErrNotFound, "an update created a subscription")
		_, err = f.s.UpdateSubscription(f.ctx, nil, false)
		require.Error(f.t, err)
	})

	// UpdateSubscription stores every field as given, zero values too, but the identity,
	// CreatedAt and the lease, which it keeps whatever the caller's copy says.
	run(t, open, "UpdateFields", func(f *fixture) {
		sub := f.createSub(f.subscription(f.user()))
		kst := time.FixedZone("KST", 9*60*60)
		at := f.now.Add(40 * 24 * time.Hour).In(kst)
		next := cloneSub(sub)
		next.PlanID, next.NextPlanID, next.Slot, next.Status = "premium-monthly", "", "premium", store.SubscriptionPastDue
		next.Anchor, next.Period = at.Add(-time.Hour), 7
		next.PeriodStart, next.PeriodEnd, next.TrialEnd = at.Add(time.Millisecond), at.Add(31*24*time.Hour), time.Time{}
		next.CancelAtPeriodEnd, next.CanceledAt, next.EndedAt, next.EndReason = false, time.Time{}, at.Add(2*time.Millisecond), "last retry failed"
		next.Retries, next.ChargeMerchantUID, next.NextActionAt, next.Notices = 3, "", at.Add(3*time.Millisecond), 0
		next.UpdatedAt = at.Add(4 * time.Millisecond)
		in := cloneSub(next)
		in.UserID, in.IdempotencyKey, in.CreatedAt = "mallory", f.idemKey(), at
		in.ClaimedBy, in.ClaimedUntil = "intruder", at.Add(time.Hour)
		got, err := f.s.UpdateSubscription(f.ctx, in, false)
		require.NoError(f.t, err)
		defer f.retireSubs(sub.ID)
		want := cloneSub(next)
		want.Version = 2
		requireSubscription(f.t, want, got)
		requireSubscription(f.t, want, f.getSub(sub.ID))
		list, err := f.s.ListSubscriptions(f.ctx, "mallory")
		require.NoError(f.t, err)
		require.Empty(f.t, list, "the user changed")
		list, err = f.s.ListSubscriptions(f.ctx, sub.UserID)
		require.NoError(f.t, err)
		require.Len(f.t, list, 1)

		// The idempotency key still finds it, and only it.
		stored, created, err := f.s.CreateSubscription(f.ctx, f.withKey(sub.UserID, sub.IdempotencyKey))
		require.NoError(f.t, err)
		require.False(f.t, created)
		requireSubscription(f.t, want, stored)
		_, created, err = f.s.CreateSubscription(f.ctx, f.withKey(sub.UserID, in.IdempotencyKey))
		require.NoError(f.t, err)
		require.True(f.t, created, "the idempotency key changed")
	})

	// The lease survives updates unless release clears it; the caller's copy of the lease
	// is never stored.
	run(t, open, "UpdateLease", func(f *fixture) {
		due := f.epoch.Add(-time.Hour)
		sub := f.subscription(f.user())
		sub.NextActionAt = due
		a := f.lease(5 * time.Minute)
		held := f.heldSub(sub, a)
		defer f.retireSubs(sub.ID)
		require.Equal(f.t, a.Owner, held.ClaimedBy)

		kept := f.update(held, func(s *store.Subscription) { s.Retries, s.ClaimedBy, s.ClaimedUntil = 4, "", time.Time{} })
		require.Equal(f.t, a.Owner, kept.ClaimedBy)
		requireTime(f.t, "ClaimedUntil", held.ClaimedUntil, kept.ClaimedUntil)
		f.clock.advance(time.Minute)
		claim := store.SubscriptionClaim{Due: due, Lease: f.lease(time.Minute), Limit: 100}
		requireNoSub(f, f.claimSubs(claim), []string{sub.ID}, "claimed while its lease held")

		released := f.updateReleasing(kept, func(s *store.Subscription) { s.ClaimedBy, s.ClaimedUntil = "intruder", f.now })
		require.Empty(f.t, released.ClaimedBy)
		require.True(f.t, released.ClaimedUntil.IsZero())
		requireSubscription(f.t, released, f.getSub(sub.ID))
		got := bySubID(f.claimSubs(claim))
		require.Contains(f.t, got, sub.ID, "not claimable once released")
		want := cloneSub(released)
		want.ClaimedBy, want.ClaimedUntil = claim.Lease.Owner, f.until(claim.Lease.For)
		requireSubscription(f.t, want, got[sub.ID])

		// Releasing a subscription that holds no lease is fine.
		free := f.createSub(f.subscription(f.user()))
		f.updateReleasing(free, nil)
	})

	run(t, open, "List", func(f *fixture) {
		user, other := f.user(), f.user()
		base := f.now.Add(-time.Hour)
		ids := make([]string, 6)
		for i := range ids {
			ids[i] = f.next("sub")
		}
		// Created out of id order; CreatedAt ties go to the greater id, and a zero
		// CreatedAt (the earliest instant) comes last.
		var want []*store.Subscription // in creation order
		for _, tc := range []struct {
			id int
			at time.Duration // -1: zero
		}{{2, 0}, {0, 3}, {5, 1}, {1, 2}, {4, 2}, {3, -1}} {
			s := f.subscription(user)
			s.ID = ids[tc.id]
			s.CreatedAt = base.Add(tc.at * time.Minute)
			if tc.at < 0 {
				s.CreatedAt = time.Time{}
			}
			want = append(want, f.createSub(s))
		}
		for range 2 {
			f.createSub(f.subscription(other))
		}
		list, err := f.s.ListSubscriptions(f.ctx, user)
		require.NoError(f.t, err)
		require.Len(f.t, list, len(want))
		for i, j := range []int{1, 4, 3, 2, 0, 5} {
			requireSubscription(f.t, want[j], list[i])
		}
		list, err = f.s.ListSubscriptions(f.ctx, other)
		require.NoError(f.t, err)
		require.Len(f.t, list, 2)
		for _, s := range list {
			require.Equal(f.t, other, s.UserID)
		}
		list, err = f.s.ListSubscriptions(f.ctx, f.user())
		require.NoError(f.t, err)
		require.Empty(f.t, list)
	})

	run(t, open, "ReturnsCopies", func(f *fixture) {
		sub := f.subscription(f.user())
		want := cloneSub(sub)
		want.Version = 1
		stored := f.createSub(sub)
		sub.PlanID, stored.PlanID, stored.UserID = "x", "y", "mallory"
		got := f.getSub(want.ID)
		requireSubscription(f.t, want, got)
		got.PlanID = "z"
		updated, err := f.s.UpdateSubscription(f.ctx, f.getSub(want.ID), false)
		require.NoError(f.t, err)
		want.Version = 2
		updated.PlanID = "w"
		list, err := f.s.ListSubscriptions(f.ctx, want.UserID)
		require.NoError(f.t, err)
		require.Len(f.t, list, 1)
		list[0].PlanID = "v"
		requireSubscription(f.t, want, f.getSub(want.ID))
	})

	run(t, open, "CanceledContext", func(f *fixture) {
		ctx, cancel := context.WithCancel(f.ctx)
		cancel()
		sub := f.subscription(f.user())
		_, _, err := f.s.CreateSubscription(ctx, sub)
		require.Error(f.t, err)
		_, err = f.s.GetSubscription(f.ctx, sub.ID)
		require.ErrorIs(f.t, err, store.ErrNotFound, "a write with a canceled context happened")

		sub.NextActionAt = f.epoch.Add(-time.Hour)
		stored := f.createSub(sub)
		defer f.retireSubs(sub.ID)
		_, err = f.s.UpdateSubscription(ctx, withChange(stored, func(s *store.Subscription) { s.Retries = 9 }), false)
		require.Error(f.t, err)
		_, err = f.s.ClaimSubscriptions(ctx, store.SubscriptionClaim{Due: f.epoch, Lease: f.lease(time.Minute), Limit: 10})
		require.Error(f.t, err)
		requireSubscription(f.t, stored, f.getSub(sub.ID))
	})
}

// subscription returns a new active subscription of user in no slot and with no next
// action, every other field set (times in Seoul's zone, whole milliseconds), so that a
// store that drops a field fails the comparison.
func (f *fixture) subscription(user string) *store.Subscription {
	start := f.now.Add(-10 * 24 * time.Hour).In(time.FixedZone("KST", 9*60*60))
	return &store.Subscription{
		ID:                f.next("sub"),
		UserID:            user,
		IdempotencyKey:    f.idemKey(),
		PlanID:            "basic-monthly",
		NextPlanID:        "premium-monthly",
		Status:            store.SubscriptionActive,
		Anchor:            start.Add(-61 * 24 * time.Hour),
		Period:            2,
		PeriodStart:       start,
		PeriodEnd:         start.Add(31 * 24 * time.Hour),
		TrialEnd:          start.Add(-54*24*time.Hour + 5*time.Millisecond),
		CancelAtPeriodEnd: true,
		CanceledAt:        start.Add(time.Hour + 7*time.Millisecond),
		Retries:           1,
		ChargeMerchantUID: f.merchantUID(),
		Notices:           1<<40 | 5, // a bit set past 32 bits survives
		CreatedAt:         start.Add(-time.Minute),
		UpdatedAt:         start.Add(123 * time.Millisecond),
		Version:           1,
	}
}

// withKey returns a new subscription of user under idempotency key key.
func (f *fixture) withKey(user, key string) *store.Subscription {
	s := f.subscription(user)
	s.IdempotencyKey = key
	return s
}

// createSub stores sub, which must be new, and checks the stored row: sub as given, at
// Version 1 and holding no lease.
func (f *fixture) createSub(sub *store.Subscription) *store.Subscription {
	f.t.Helper()
	stored, created, err := f.s.CreateSubscription(f.ctx, cloneSub(sub))
	require.NoError(f.t, err)
	require.True(f.t, created, "CreateSubscription: created")
	want := cloneSub(sub)
	want.Version, want.ClaimedBy, want.ClaimedUntil = 1, "", time.Time{}
	requireSubscription(f.t, want, stored)
	return stored
}

// getSub loads a subscription that must exist.
func (f *fixture) getSub(id string) *store.Subscription {
	f.t.Helper()
	sub, err := f.s.GetSubscription(f.ctx, id)
	require.NoError(f.t, err)
	require.NotNil(f.t, sub)
	return sub
}

// update applies change to a copy of cur, stores it keeping the lease and checks the
// result: the change, at the next version, with cur's lease.
func (f *fixture) update(cur *store.Subscription, change func(*store.Subscription)) *store.Subscription {
	f.t.Helper()
	return f.updateAs(cur, change, false)
}

// updateReleasing is update that releases the lease.
func (f *fixture) updateReleasing(cur *store.Subscription, change func(*store.Subscription)) *store.Subscription {
	f.t.Helper()
	return f.updateAs(cur, change, true)
}

func (f *fixture) updateAs(cur *store.Subscription, change func(*store.Subscription), release bool) *store.Subscription {
	f.t.Helper()
	next := withChange(cur, change)
	got, err := f.s.UpdateSubscription(f.ctx, cloneSub(next), release)
	require.NoError(f.t, err)
	want := cloneSub(next)
	want.Version = cur.Version + 1
	want.ClaimedBy, want.ClaimedUntil = cur.ClaimedBy, cur.ClaimedUntil
	if release {
		want.ClaimedBy, want.ClaimedUntil = "", time.Time{}
	}
	requireSubscription(f.t, want, got)
	return got
}

// withChange returns a copy of sub with change applied (none when change is nil).
func withChange(sub *store.Subscription, change func(*store.Subscription)) *store.Subscription {
	c := cloneSub(sub)
	if change != nil {
		change(c)
	}
	return c
}

// retireSubs gives the subscriptions of a test nothing more to do and releases their
// leases, so that a database kept between runs does not collect claimable rows.
func (f *fixture) retireSubs(ids ...string) {
	ctx := context.WithoutCancel(f.ctx)
	for _, id := range ids {
		cur, err := f.s.GetSubscription(ctx, id)
		if err != nil {
			continue
		}
		cur.NextActionAt = time.Time{}
		_, _ = f.s.UpdateSubscription(ctx, cur, true)
	}
}

// requireSubscription checks that got equals want field by field, times as instants.
func requireSubscription(t *testing.T, want, got *store.Subscription) {
	t.Helper()
	require.NotNil(t, got)
	w, g := *want, *got
	for _, tf := range []struct {
		name string
		w, g *time.Time
	}{
		{"Anchor", &w.Anchor, &g.Anchor},
		{"PeriodStart", &w.PeriodStart, &g.PeriodStart},
		{"PeriodEnd", &w.PeriodEnd, &g.PeriodEnd},
		{"TrialEnd", &w.TrialEnd, &g.TrialEnd},
		{"CanceledAt", &w.CanceledAt, &g.CanceledAt},
		{"EndedAt", &w.EndedAt, &g.EndedAt},
		{"NextActionAt", &w.NextActionAt, &g.NextActionAt},
		{"CreatedAt", &w.CreatedAt, &g.CreatedAt},
		{"UpdatedAt", &w.UpdatedAt, &g.UpdatedAt},
		{"ClaimedUntil", &w.ClaimedUntil, &g.ClaimedUntil},
	} {
		requireTime(t, "Subscription."+tf.name, *tf.w, *tf.g)
		*tf.w, *tf.g = time.Time{}, time.Time{}
	}
	require.Equal(t, w, g)
}

func cloneSub(s *store.Subscription) *store.Subscription { c := *s; return &c }
