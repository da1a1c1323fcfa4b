package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
)

func testCharges(t *testing.T, open opener) {
	run(t, open, "CreateAndGet", func(f *fixture) {
		c := f.charge(f.user())
		c.PlanID = ""
		c.Name = "정기결제 9월분"
		c.SubscriptionID, c.Period = "", 0 // a charge outside any subscription
		stored := f.createCharge(cloneCharge(c))
		requireCharge(f.t, c, stored)
		requireCharge(f.t, c, f.getCharge(c.MerchantUID))

		// A subscription's charges keep their period; the first paid period is 0.
		for _, period := range []int{0, 1, 12} {
			c := f.charge(f.user())
			c.Period = period
			f.createCharge(c)
			requireCharge(f.t, c, f.getCharge(c.MerchantUID))
		}

		_, err := f.s.GetCharge(f.ctx, f.merchantUID())
		require.ErrorIs(f.t, err, store.ErrNotFound)
		_, err = f.s.UpdateCharge(f.ctx, f.merchantUID(), []store.ChargeStatus{store.ChargePending},
			store.ChargeUpdate{Status: store.ChargeCharging})
		require.ErrorIs(f.t, err, store.ErrNotFound)
	})

	run(t, open, "IdempotencyKey", func(f *fixture) {
		user := f.user()
		first := f.charge(user)
		firstLease := f.lease(time.Minute)
		held := f.createHeld(first, firstLease)

		// The same (user, key) returns the first charge, whatever the second one says,
		// and the second caller's lease is not taken on it.
		second := f.charge(user)
		second.IdempotencyKey = first.IdempotencyKey
		second.Amount, second.PlanID, second.Name = 1, "premium", "other"
		second.CreatedAt = f.now.Add(time.Minute)
		f.clock.advance(30 * time.Second)
		stored, created, err := f.s.CreateCharge(f.ctx, second, f.lease(time.Hour))
		require.NoError(f.t, err)
		require.False(f.t, created)
		requireCharge(f.t, held, stored)
		requireCharge(f.t, held, f.getCharge(first.MerchantUID))
		_, err = f.s.GetCharge(f.ctx, second.MerchantUID)
		require.ErrorIs(f.t, err, store.ErrNotFound, "the second charge was stored")

		// The stored charge is returned as it is now, not as it was created.
		moved := f.move(first.MerchantUID, store.ChargePending, store.ChargeCharging)
		stored, created, err = f.s.CreateCharge(f.ctx, second, store.Lease{})
		require.NoError(f.t, err)
		require.False(f.t, created)
		requireCharge(f.t, moved, stored)

		// Even a merchant_uid taken by a third charge: the (user, key) match wins.
		third := f.createCharge(f.charge(user))
		second.MerchantUID = third.MerchantUID
		stored, created, err = f.s.CreateCharge(f.ctx, second, f.lease(time.Hour))
		require.NoError(f.t, err)
		require.False(f.t, created)
		requireCharge(f.t, moved, stored)
		requireCharge(f.t, third, f.getCharge(third.MerchantUID))

		list, err := f.s.ListCharges(f.ctx, user, 10)
		require.NoError(f.t, err)
		require.Len(f.t, list, 2)
	})

	// The new row holds the lease CreateCharge is given, on the store's clock, and only
	// that one: the record's own ClaimedBy and ClaimedUntil are not stored.
	run(t, open, "CreateHoldsLease", func(f *fixture) {
		for _, tc := range []struct {
			name  string
			lease store.Lease
		}{
			{"lease", f.lease(2 * time.Minute)},
			{"no lease", store.Lease{}},
			{"no duration", store.Lease{Owner: f.next("owner")}},
		} {
			c := f.charge(f.user())
			c.CreatedAt = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC) // the caller's clock is off
			c.UpdatedAt = c.CreatedAt
			c.ClaimedBy, c.ClaimedUntil = "intruder", f.now.Add(24*time.Hour)
			stored := f.createHeld(c, tc.lease) // checks the lease
			requireCharge(f.t, stored, f.getCharge(c.MerchantUID))
			f.clock.advance(time.Second)
		}
	})

	run(t, open, "IdempotencyKeyPerUser", func(f *fixture) {
		a, b := f.user(), f.user()
		ca := f.charge(a)
		f.createCharge(ca)
		cb := f.charge(b)
		cb.IdempotencyKey = ca.IdempotencyKey
		stored, created, err := f.s.CreateCharge(f.ctx, cb, store.Lease{})
		require.NoError(f.t, err)
		require.True(f.t, created, "the same key of another user is another charge")
		requireCharge(f.t, cb, stored)
		requireCharge(f.t, ca, f.getCharge(ca.MerchantUID))
	})

	run(t, open, "DuplicateMerchantUID", func(f *fixture) {
		user, other := f.user(), f.user()
		first := f.createCharge(f.charge(user))
		for _, u := range []string{user, other} {
			dup := f.charge(u)
			dup.MerchantUID = first.MerchantUID
			_, _, err := f.s.CreateCharge(f.ctx, dup, f.lease(time.Minute))
			require.ErrorIs(f.t, err, store.ErrDuplicate)
			requireCharge(f.t, first, f.getCharge(first.MerchantUID))
		}
		// The same key as first under another user, with first's merchant_uid.
		dup := f.charge(other)
		dup.MerchantUID, dup.IdempotencyKey = first.MerchantUID, first.IdempotencyKey
		_, _, err := f.s.CreateCharge(f.ctx, dup, store.Lease{})
		require.ErrorIs(f.t, err, store.ErrDuplicate)

		list, err := f.s.ListCharges(f.ctx, other, 10)
		require.NoError(f.t, err)
		require.Empty(f.t, list, "a rejected charge was stored")
		list, err = f.s.ListCharges(f.ctx, user, 10)
		require.NoError(f.t, err)
		require.Len(f.t, list, 1)
	})

	run(t, open, "List", func(f *fixture) {
		user, other := f.user(), f.user()
		base := f.now.Add(-time.Hour)
		var want []*store.Charge // newest first
		for i, at := range []time.Duration{0, 3, 1, 2, 2, 2} {
			c := f.charge(user)
			c.CreatedAt = base.Add(at * time.Minute)
			c.Amount = int64(1000 + i)
			f.createCharge(c)
			want = append(want, c)
		}
		// Newest CreatedAt first; ties by merchant_uid descending (ids sort by creation).
		order := []int{1, 5, 4, 3, 2, 0}
		for range 3 {
			f.createCharge(f.charge(other))
		}

		list, err := f.s.ListCharges(f.ctx, user, 100)
		require.NoError(f.t, err)
		require.Len(f.t, list, len(want))
		for i, j := range order {
			requireCharge(f.t, want[j], list[i])
		}
		list, err = f.s.ListCharges(f.ctx, user, 2)
		require.NoError(f.t, err)
		require.Len(f.t, list, 2)
		requireCharge(f.t, want[order[0]], list[0])
		requireCharge(f.t, want[order[1]], list[1])

		list, err = f.s.ListCharges(f.ctx, other, 100)
		require.NoError(f.t, err)
		require.Len(f.t, list, 3)
		for _, c := range list {
			require.Equal(f.t, other, c.UserID)
		}
		for _, limit := range []int{0, -1} {
			list, err = f.s.ListCharges(f.ctx, user, limit)
			require.NoError(f.t, err)
			require.Empty(f.t, list, "limit %d", limit)
		}
		list, err = f.s.ListCharges(f.ctx, f.user(), 100)
		require.NoError(f.t, err)
		require.Empty(f.t, list)
	})

	t.Run("Transition", func(t *testing.T) {
		legal := []struct {
			from, to store.ChargeStatus
		}{
			{store.ChargePending, store.ChargeCharging},
			{store.ChargeCharging, store.ChargePaid},
			{store.ChargeCharging, store.ChargeFailed},
			{store.ChargeCharging, store.ChargeUnknown},
			{store.ChargeUnknown, store.ChargeCharging},
			{store.ChargeUnknown, store.ChargePaid},
			{store.ChargeUnknown, store.ChargeFailed},
			{store.ChargePaid, store.ChargeCancelled},
		}
		for _, tc := range legal {
			run(t, open, string(tc.from)+"_to_"+string(tc.to), func(f *fixture) {
				c := f.createCharge(f.charge(f.user()))
				before := f.drive(c.MerchantUID, tc.from)
				at := f.now.Add(time.Minute)
				// from may list several statuses; the current one must be among them.
				from := []store.ChargeStatus{store.ChargeCancelled, tc.from, store.ChargeFailed}
				got, err := f.s.UpdateCharge(f.ctx, c.MerchantUID, from, store.ChargeUpdate{Status: tc.to, At: at})
				require.NoError(f.t, err)
				want := cloneCharge(before)
				want.Status, want.UpdatedAt = tc.to, at
				requireCharge(f.t, want, got)
				requireCharge(f.t, want, f.getCharge(c.MerchantUID))
			})
		}
	})

	t.Run("CompareAndSetMiss", func(t *testing.T) {
		misses := []struct {
			name   string
			status store.ChargeStatus
			from   []store.ChargeStatus
			to     store.ChargeStatus
		}{
			{"pending_as_charging", store.ChargePending, []store.ChargeStatus{store.ChargeCharging}, store.ChargePaid},
			{"charging_twice", store.ChargeCharging, []store.ChargeStatus{store.ChargePending}, store.ChargeCharging},
			{"paid_then_failed", store.ChargePaid, []store.ChargeStatus{store.ChargeCharging, store.ChargeUnknown}, store.ChargeFailed},
			{"failed_then_paid", store.ChargeFailed, []store.ChargeStatus{store.ChargeCharging, store.ChargeUnknown}, store.ChargePaid},
			{"unknown_as_pending", store.ChargeUnknown, []store.ChargeStatus{store.ChargePending, store.ChargeCharging}, store.ChargeCharging},
			{"cancelled_twice", store.ChargeCancelled, []store.ChargeStatus{store.ChargePaid}, store.ChargeCancelled},
			{"empty_from", store.ChargeCharging, nil, store.ChargePaid},
		}
		for _, tc := range misses {
			run(t, open, tc.name, func(f *fixture) {
				c := f.createHeld(f.charge(f.user()), f.lease(time.Minute))
				before := f.drive(c.MerchantUID, tc.status)
				other := f.lease(time.Hour)
				for _, u := range []store.ChargeUpdate{{ReleaseClaim: true}, {Hold: &other}} {
					u.Status, u.ImpUID, u.FailReason, u.FailCode = tc.to, f.impUID(), "x", "card_declined"
					u.PaidAt, u.AddAttempts, u.At = f.now, 1, f.now.Add(time.Hour)
					_, err := f.s.UpdateCharge(f.ctx, c.MerchantUID, tc.from, u)
					require.ErrorIs(f.t, err, store.ErrConflict)
					requireCharge(f.t, before, f.getCharge(c.MerchantUID))
				}
			})
		}
	})

	run(t, open, "UpdateFields", func(f *fixture) {
		c := f.createCharge(f.charge(f.user()))
		t1 := f.now.Add(time.Second)
		got, err := f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{store.ChargePending},
			store.ChargeUpdate{Status: store.ChargeCharging, AddAttempts: 1, At: t1})
		require.NoError(f.t, err)
		want := cloneCharge(c)
		want.Status, want.Attempts, want.UpdatedAt = store.ChargeCharging, 1, t1
		requireCharge(f.t, want, got)

		t2 := f.now.Add(2 * time.Second)
		imp := f.impUID()
		got, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{Status: store.ChargeUnknown, ImpUID: imp, FailReason: "timeout", AddAttempts: 2, At: t2})
		require.NoError(f.t, err)
		want.Status, want.ImpUID, want.FailReason, want.Attempts, want.UpdatedAt = store.ChargeUnknown, imp, "timeout", 3, t2
		requireCharge(f.t, want, got)
		requireCharge(f.t, want, f.getCharge(c.MerchantUID))

		// An empty update changes nothing but passes the compare-and-set.
		got, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{store.ChargeUnknown}, store.ChargeUpdate{})
		require.NoError(f.t, err)
		requireCharge(f.t, want, got)
		requireCharge(f.t, want, f.getCharge(c.MerchantUID))

		// Empty fields keep what is stored; the same imp_uid again is no duplicate.
		t3 := f.now.Add(3 * time.Second)
		paidAt := f.now.Add(2500 * time.Millisecond)
		got, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{store.ChargeUnknown},
			store.ChargeUpdate{Status: store.ChargePaid, ImpUID: imp, PaidAt: paidAt, At: t3})
		require.NoError(f.t, err)
		want.Status, want.PaidAt, want.UpdatedAt = store.ChargePaid, paidAt, t3
		requireCharge(f.t, want, got)
		requireCharge(f.t, want, f.getCharge(c.MerchantUID))

		// A status-less update with At only moves UpdatedAt.
		t4 := f.now.Add(4 * time.Second)
		got, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{store.ChargePaid}, store.ChargeUpdate{At: t4})
		require.NoError(f.t, err)
		want.UpdatedAt = t4
		requireCharge(f.t, want, got)
	})

	// FailCode is stored like FailReason: set by an update, kept by one without it.
	run(t, open, "FailCode", func(f *fixture) {
		c := f.charge(f.user())
		c.Status, c.FailCode, c.FailReason = store.ChargeFailed, "billing_key_gone", "등록되지 않은 구매자입니다"
		f.createCharge(c)
		requireCharge(f.t, c, f.getCharge(c.MerchantUID))

		d := f.createCharge(f.charge(f.user()))
		f.drive(d.MerchantUID, store.ChargeCharging)
		got, err := f.s.UpdateCharge(f.ctx, d.MerchantUID, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{Status: store.ChargeFailed, FailCode: "card_declined", FailReason: "한도 초과", At: f.now.Add(time.Second)})
		require.NoError(f.t, err)
		want := cloneCharge(d)
		want.Status, want.FailCode, want.FailReason, want.UpdatedAt = store.ChargeFailed, "card_declined", "한도 초과", f.now.Add(time.Second)
		requireCharge(f.t, want, got)
		requireCharge(f.t, want, f.getCharge(d.MerchantUID))

		// A late payment: the failure's code and reason stay as history.
		imp := f.impUID()
		got, err = f.s.UpdateCharge(f.ctx, d.MerchantUID, []store.ChargeStatus{store.ChargeFailed},
			store.ChargeUpdate{Status: store.ChargePaid, ImpUID: imp, PaidAt: f.now})
		require.NoError(f.t, err)
		want.Status, want.ImpUID, want.PaidAt = store.ChargePaid, imp, f.now
		requireCharge(f.t, want, got)
		requireCharge(f.t, want, f.getCharge(d.MerchantUID))
	})

	// IfAttempts: what an attempt learnt is written only while the charge is still at
	// that attempt; a stale or future attempt changes nothing.
	run(t, open, "IfAttempts", func(f *fixture) {
		c := f.createHeld(f.charge(f.user()), f.lease(time.Minute))
		mu := c.MerchantUID
		_, err := f.s.UpdateCharge(f.ctx, mu, []store.ChargeStatus{store.ChargePending},
			store.ChargeUpdate{Status: store.ChargeCharging, AddAttempts: 1})
		require.NoError(f.t, err)
		f.move(mu, store.ChargeCharging, store.ChargeUnknown)
		second := f.lease(2 * time.Minute)
		before, err := f.s.UpdateCharge(f.ctx, mu, []store.ChargeStatus{store.ChargeUnknown},
			store.ChargeUpdate{Status: store.ChargeCharging, AddAttempts: 1, IfAttempts: 1, Hold: &second})
		require.NoError(f.t, err)
		require.Equal(f.t, 2, before.Attempts)
		taken := f.createCharge(f.charge(f.user()))
		f.drive(taken.MerchantUID, store.ChargeCharging)
		takenImp := f.impUID()
		_, err = f.s.UpdateCharge(f.ctx, taken.MerchantUID, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{Status: store.ChargePaid, ImpUID: takenImp})
		require.NoError(f.t, err)

		stale := store.ChargeUpdate{Status: store.ChargeFailed, FailCode: "card_declined", FailReason: "late",
			ImpUID: f.impUID(), PaidAt: f.now, AddAttempts: 1, At: f.now.Add(time.Hour)}
		other := f.lease(time.Hour)
		for _, tc := range []struct {
			name string
			from []store.ChargeStatus
			at   int
			with func(*store.ChargeUpdate)
		}{
			{"the first attempt", []store.ChargeStatus{store.ChargeCharging}, 1, nil},
			{"the first attempt releasing", []store.ChargeStatus{store.ChargeCharging}, 1, func(u *store.ChargeUpdate) { u.ReleaseClaim = true }},
			{"the first attempt holding", []store.ChargeStatus{store.ChargeCharging}, 1, func(u *store.ChargeUpdate) { u.Hold = &other }},
			{"a taken imp_uid at the first attempt", []store.ChargeStatus{store.ChargeCharging}, 1, func(u *store.ChargeUpdate) { u.ImpUID = takenImp }},
			{"an attempt not made yet", []store.ChargeStatus{store.ChargeCharging}, 3, nil},
			{"the right attempt, another status", []store.ChargeStatus{store.ChargePending, store.ChargeUnknown}, 2, nil},
		} {
			u := stale
			u.IfAttempts = tc.at
			if tc.with != nil {
				tc.with(&u)
			}
			_, err := f.s.UpdateCharge(f.ctx, mu, tc.from, u)
			require.ErrorIs(f.t, err, store.ErrConflict, tc.name)
			requireCharge(f.t, before, f.getCharge(mu))
		}
		_, err = f.s.UpdateCharge(f.ctx, f.merchantUID(), []store.ChargeStatus{store.ChargeCharging}, store.ChargeUpdate{IfAttempts: 2})
		require.ErrorIs(f.t, err, store.ErrNotFound)

		// At the current attempt the update applies; the condition is on the attempts
		// before AddAttempts adds to them.
		got, err := f.s.UpdateCharge(f.ctx, mu, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{Status: store.ChargeUnknown, AddAttempts: 1, IfAttempts: 2, At: f.now.Add(time.Minute)})
		require.NoError(f.t, err)
		want := cloneCharge(before)
		want.Status, want.Attempts, want.UpdatedAt = store.ChargeUnknown, 3, f.now.Add(time.Minute)
		requireCharge(f.t, want, got)
		_, err = f.s.UpdateCharge(f.ctx, mu, []store.ChargeStatus{store.ChargeUnknown}, store.ChargeUpdate{FailReason: "x", IfAttempts: 2})
		require.ErrorIs(f.t, err, store.ErrConflict, "the attempt it was at a moment ago")
		requireCharge(f.t, want, f.getCharge(mu))

		// Without IfAttempts any attempt matches.
		got, err = f.s.UpdateCharge(f.ctx, mu, []store.ChargeStatus{store.ChargeUnknown}, store.ChargeUpdate{FailReason: "lookup: nothing"})
		require.NoError(f.t, err)
		want.FailReason = "lookup: nothing"
		requireCharge(f.t, want, got)
	})

	run(t, open, "ImpUIDUnique", func(f *fixture) {
		a := f.createCharge(f.charge(f.user()))
		b := f.createCharge(f.charge(f.user()))
		f.drive(a.MerchantUID, store.ChargeCharging)
		before := f.drive(b.MerchantUID, store.ChargeCharging)
		imp := f.impUID()
		_, err := f.s.UpdateCharge(f.ctx, a.MerchantUID, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{Status: store.ChargePaid, ImpUID: imp, PaidAt: f.now, At: f.now})
		require.NoError(f.t, err)
		_, err = f.s.UpdateCharge(f.ctx, b.MerchantUID, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{Status: store.ChargePaid, ImpUID: imp, PaidAt: f.now, At: f.now})
		require.ErrorIs(f.t, err, store.ErrDuplicate)
		requireCharge(f.t, before, f.getCharge(b.MerchantUID))

		// A status miss is reported as a conflict before any imp_uid check.
		_, err = f.s.UpdateCharge(f.ctx, b.MerchantUID, []store.ChargeStatus{store.ChargePending},
			store.ChargeUpdate{Status: store.ChargePaid, ImpUID: imp})
		require.ErrorIs(f.t, err, store.ErrConflict)

		// Many charges without imp_uid are fine, and b takes a payment of its own.
		for range 3 {
			f.drive(f.createCharge(f.charge(f.user())).MerchantUID, store.ChargeFailed)
		}
		_, err = f.s.UpdateCharge(f.ctx, b.MerchantUID, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{Status: store.ChargePaid, ImpUID: f.impUID()})
		require.NoError(f.t, err)
	})

	run(t, open, "ByImpUID", func(f *fixture) {
		c := f.createCharge(f.charge(f.user()))
		f.drive(c.MerchantUID, store.ChargeCharging)
		for _, imp := range []string{"", f.impUID()} {
			_, err := f.s.GetChargeByImpUID(f.ctx, imp)
			require.ErrorIs(f.t, err, store.ErrNotFound, "imp_uid %q before any update", imp)
		}
		imp := f.impUID()
		want, err := f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{Status: store.ChargePaid, ImpUID: imp, PaidAt: f.now, At: f.now})
		require.NoError(f.t, err)

		got, err := f.s.GetChargeByImpUID(f.ctx, imp)
		require.NoError(f.t, err)
		requireCharge(f.t, want, got)
		got.UserID, got.Amount, got.Status, got.ImpUID = "mallory", 1, store.ChargeFailed, "imp_other"
		again, err := f.s.GetChargeByImpUID(f.ctx, imp)
		require.NoError(f.t, err)
		requireCharge(f.t, want, again)

		// A later update (here: the cancellation) is what the lookup returns.
		want, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{store.ChargePaid},
			store.ChargeUpdate{Status: store.ChargeCancelled, At: f.now.Add(time.Second)})
		require.NoError(f.t, err)
		got, err = f.s.GetChargeByImpUID(f.ctx, imp)
		require.NoError(f.t, err)
		requireCharge(f.t, want, got)

		// A charge created with its imp_uid is found too; charges without one are not
		// found by "", and an unknown imp_uid finds nothing.
		withImp := f.charge(f.user())
		withImp.ImpUID = f.impUID()
		f.createCharge(withImp)
		got, err = f.s.GetChargeByImpUID(f.ctx, withImp.ImpUID)
		require.NoError(f.t, err)
		requireCharge(f.t, withImp, got)
		f.createCharge(f.charge(f.user()))
		for _, imp := range []string{"", f.impUID()} {
			_, err := f.s.GetChargeByImpUID(f.ctx, imp)
			require.ErrorIs(f.t, err, store.ErrNotFound, "imp_uid %q", imp)
		}
		// An issuance's imp_uid is no charge's.
		is := f.createIssuance(f.user())
		to, key := f.issued(is, "BC")
		_, err = f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
		require.NoError(f.t, err)
		_, err = f.s.GetChargeByImpUID(f.ctx, to.ImpUID)
		require.ErrorIs(f.t, err, store.ErrNotFound)
	})

	run(t, open, "ByIdempotencyKey", func(f *fixture) {
		user, other := f.user(), f.user()
		_, err := f.s.GetChargeByIdempotencyKey(f.ctx, user, f.idemKey())
		require.ErrorIs(f.t, err, store.ErrNotFound, "unknown key")

		c := f.charge(user)
		want := f.createCharge(cloneCharge(c))
		got, err := f.s.GetChargeByIdempotencyKey(f.ctx, user, c.IdempotencyKey)
		require.NoError(f.t, err)
		requireCharge(f.t, want, got)

		// Per user: the same key of another user finds nothing until that user has a
		// charge of its own under it, and then each finds their own.
		_, err = f.s.GetChargeByIdempotencyKey(f.ctx, other, c.IdempotencyKey)
		require.ErrorIs(f.t, err, store.ErrNotFound, "another user's key")
		oc := f.charge(other)
		oc.IdempotencyKey = c.IdempotencyKey
		oc.Amount = 29000
		f.createCharge(oc)
		got, err = f.s.GetChargeByIdempotencyKey(f.ctx, other, c.IdempotencyKey)
		require.NoError(f.t, err)
		requireCharge(f.t, oc, got)
		got, err = f.s.GetChargeByIdempotencyKey(f.ctx, user, c.IdempotencyKey)
		require.NoError(f.t, err)
		requireCharge(f.t, want, got)
		for _, miss := range [][2]string{{user, ""}, {"", c.IdempotencyKey}, {user, c.MerchantUID}, {user, c.IdempotencyKey + "x"}} {
			_, err = f.s.GetChargeByIdempotencyKey(f.ctx, miss[0], miss[1])
			require.ErrorIs(f.t, err, store.ErrNotFound, "user %q key %q", miss[0], miss[1])
		}

		// The current row is returned, and it is a copy.
		f.move(c.MerchantUID, store.ChargePending, store.ChargeCharging)
		want, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{Status: store.ChargePaid, ImpUID: f.impUID(), PaidAt: f.now, At: f.now.Add(time.Second)})
		require.NoError(f.t, err)
		got, err = f.s.GetChargeByIdempotencyKey(f.ctx, user, c.IdempotencyKey)
		require.NoError(f.t, err)
		requireCharge(f.t, want, got)
		got.UserID, got.Amount, got.Status, got.ImpUID, got.IdempotencyKey = "mallory", 1, store.ChargeFailed, "imp_other", "other"
		again, err := f.s.GetChargeByIdempotencyKey(f.ctx, user, c.IdempotencyKey)
		require.NoError(f.t, err)
		requireCharge(f.t, want, again)
		requireCharge(f.t, want, f.getCharge(c.MerchantUID))
	})

	run(t, open, "Times", func(f *fixture) {
		seoul := time.FixedZone("KST", 9*60*60)
		at := func(d time.Duration) time.Time { return f.now.Add(d).In(seoul) }

		c := f.charge(f.user())
		c.CreatedAt, c.UpdatedAt = at(123*time.Millisecond), at(456*time.Millisecond)
		f.createCharge(c)
		requireCharge(f.t, c, f.getCharge(c.MerchantUID))
		f.drive(c.MerchantUID, store.ChargeCharging)
		got, err := f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{Status: store.ChargePaid, PaidAt: at(789 * time.Millisecond), At: at(999 * time.Millisecond)})
		require.NoError(f.t, err)
		requireTime(f.t, "PaidAt", at(789*time.Millisecond), got.PaidAt)
		got = f.getCharge(c.MerchantUID)
		requireTime(f.t, "PaidAt", at(789*time.Millisecond), got.PaidAt)
		requireTime(f.t, "UpdatedAt", at(999*time.Millisecond), got.UpdatedAt)

		is := f.issuance(f.user())
		is.CreatedAt, is.ExpiresAt, is.UpdatedAt = at(1*time.Millisecond), at(30*time.Minute+2*time.Millisecond), at(3*time.Millisecond)
		require.NoError(f.t, f.s.CreateIssuance(f.ctx, is))
		requireIssuance(f.t, is, f.getIssuance(is.MerchantUID))
		to, key := f.issued(is, "BC")
		to.UpdatedAt, key.IssuedAt = at(4*time.Millisecond), at(5*time.Millisecond)
		_, err = f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
		require.NoError(f.t, err)
		requireTime(f.t, "UpdatedAt", at(4*time.Millisecond), f.getIssuance(is.MerchantUID).UpdatedAt)
		k, err := f.s.GetBillingKey(f.ctx, is.UserID)
		require.NoError(f.t, err)
		requireKey(f.t, key, k)

		// Times far from now survive too.
		old := f.charge(f.user())
		old.CreatedAt = time.Date(2001, 2, 3, 4, 5, 6, 7_000_000, seoul)
		old.UpdatedAt = time.Date(2099, 12, 31, 23, 59, 59, 999_000_000, time.UTC)
		f.createCharge(old)
		requireCharge(f.t, old, f.getCharge(old.MerchantUID))
	})

	run(t, open, "ReturnsCopies", func(f *fixture) {
		c := f.charge(f.user())
		want := cloneCharge(c)
		stored := f.createCharge(c)
		c.Amount, c.Status = 1, store.ChargePaid
		stored.Amount, stored.UserID = 2, "mallory"
		got := f.getCharge(want.MerchantUID)
		requireCharge(f.t, want, got)
		got.Amount = 3
		updated, err := f.s.UpdateCharge(f.ctx, want.MerchantUID, []store.ChargeStatus{store.ChargePending}, store.ChargeUpdate{})
		require.NoError(f.t, err)
		updated.Amount = 4
		list, err := f.s.ListCharges(f.ctx, want.UserID, 10)
		require.NoError(f.t, err)
		require.Len(f.t, list, 1)
		list[0].Amount = 5
		requireCharge(f.t, want, f.getCharge(want.MerchantUID))
	})

	run(t, open, "CanceledContext", func(f *fixture) {
		ctx, cancel := context.WithCancel(f.ctx)
		cancel()
		c := f.charge(f.user())
		_, _, err := f.s.CreateCharge(ctx, c, f.lease(time.Minute))
		require.Error(f.t, err)
		_, err = f.s.GetCharge(f.ctx, c.MerchantUID)
		require.ErrorIs(f.t, err, store.ErrNotFound, "a write with a canceled context happened")
		is := f.issuance(f.user())
		require.Error(f.t, f.s.CreateIssuance(ctx, is))
		_, err = f.s.GetIssuance(f.ctx, is.MerchantUID)
		require.ErrorIs(f.t, err, store.ErrNotFound, "a write with a canceled context happened")

		// The sweeps and marks change nothing either.
		free := f.heldCharge(store.ChargeUnknown, store.Lease{}, f.now)
		defer f.retire(free.MerchantUID)
		_, err = f.s.ClaimCharges(ctx, store.ClaimRequest{Statuses: active, Lease: f.lease(time.Minute), Limit: 10})
		require.Error(f.t, err)
		requireCharge(f.t, free, f.getCharge(free.MerchantUID))
		orphan := f.ended(store.IssuanceFailed, f.epoch.Add(-time.Hour))
		require.Error(f.t, f.s.MarkKeyRemoved(ctx, orphan.MerchantUID))
		requireIssuance(f.t, orphan, f.getIssuance(orphan.MerchantUID))
		require.NoError(f.t, f.s.MarkKeyRemoved(f.ctx, orphan.MerchantUID))
		orphan.KeyRemoved = true
		_, err = f.s.PurgeIssuances(ctx, f.epoch, 10)
		require.Error(f.t, err)
		requireIssuance(f.t, orphan, f.getIssuance(orphan.MerchantUID))
	})
}
