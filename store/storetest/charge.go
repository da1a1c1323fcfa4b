package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
)

func testCharges(t *testing.T, newStore func(*testing.T) core.Store) {
	run(t, newStore, "CreateAndGet", func(f *fixture) {
		c := f.charge(f.user())
		c.PlanID = ""
		c.Name = "정기결제 9월분"
		stored := f.createCharge(cloneCharge(c))
		requireCharge(f.t, c, stored)
		requireCharge(f.t, c, f.getCharge(c.MerchantUID))

		_, err := f.s.GetCharge(f.ctx, f.merchantUID())
		require.ErrorIs(f.t, err, core.ErrNotFound)
		_, err = f.s.UpdateCharge(f.ctx, f.merchantUID(), []core.ChargeStatus{core.ChargePending},
			core.ChargeUpdate{Status: core.ChargeCharging})
		require.ErrorIs(f.t, err, core.ErrNotFound)
	})

	run(t, newStore, "IdempotencyKey", func(f *fixture) {
		user := f.user()
		first := f.charge(user)
		f.createCharge(first)

		// The same (user, key) returns the first charge, whatever the second one says.
		second := f.charge(user)
		second.IdempotencyKey = first.IdempotencyKey
		second.Amount, second.PlanID, second.Name = 1, "premium", "other"
		second.CreatedAt = f.now.Add(time.Minute)
		stored, created, err := f.s.CreateCharge(f.ctx, second)
		require.NoError(f.t, err)
		require.False(f.t, created)
		requireCharge(f.t, first, stored)
		_, err = f.s.GetCharge(f.ctx, second.MerchantUID)
		require.ErrorIs(f.t, err, core.ErrNotFound, "the second charge was stored")

		// The stored charge is returned as it is now, not as it was created.
		moved := f.move(first.MerchantUID, core.ChargePending, core.ChargeCharging)
		stored, created, err = f.s.CreateCharge(f.ctx, second)
		require.NoError(f.t, err)
		require.False(f.t, created)
		requireCharge(f.t, moved, stored)

		// Even a merchant_uid taken by a third charge: the (user, key) match wins.
		third := f.createCharge(f.charge(user))
		second.MerchantUID = third.MerchantUID
		stored, created, err = f.s.CreateCharge(f.ctx, second)
		require.NoError(f.t, err)
		require.False(f.t, created)
		requireCharge(f.t, moved, stored)

		list, err := f.s.ListCharges(f.ctx, user, 10)
		require.NoError(f.t, err)
		require.Len(f.t, list, 2)
	})

	run(t, newStore, "IdempotencyKeyPerUser", func(f *fixture) {
		a, b := f.user(), f.user()
		ca := f.charge(a)
		f.createCharge(ca)
		cb := f.charge(b)
		cb.IdempotencyKey = ca.IdempotencyKey
		stored, created, err := f.s.CreateCharge(f.ctx, cb)
		require.NoError(f.t, err)
		require.True(f.t, created, "the same key of another user is another charge")
		requireCharge(f.t, cb, stored)
		requireCharge(f.t, ca, f.getCharge(ca.MerchantUID))
	})

	run(t, newStore, "DuplicateMerchantUID", func(f *fixture) {
		user, other := f.user(), f.user()
		first := f.createCharge(f.charge(user))
		for _, u := range []string{user, other} {
			dup := f.charge(u)
			dup.MerchantUID = first.MerchantUID
			_, _, err := f.s.CreateCharge(f.ctx, dup)
			require.ErrorIs(f.t, err, core.ErrDuplicate)
			requireCharge(f.t, first, f.getCharge(first.MerchantUID))
		}
		// The same key as first under another user, with first's merchant_uid.
		dup := f.charge(other)
		dup.MerchantUID, dup.IdempotencyKey = first.MerchantUID, first.IdempotencyKey
		_, _, err := f.s.CreateCharge(f.ctx, dup)
		require.ErrorIs(f.t, err, core.ErrDuplicate)

		list, err := f.s.ListCharges(f.ctx, other, 10)
		require.NoError(f.t, err)
		require.Empty(f.t, list, "a rejected charge was stored")
		list, err = f.s.ListCharges(f.ctx, user, 10)
		require.NoError(f.t, err)
		require.Len(f.t, list, 1)
	})

	run(t, newStore, "List", func(f *fixture) {
		user, other := f.user(), f.user()
		base := f.now.Add(-time.Hour)
		var want []*core.Charge // newest first
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
			from, to core.ChargeStatus
		}{
			{core.ChargePending, core.ChargeCharging},
			{core.ChargeCharging, core.ChargePaid},
			{core.ChargeCharging, core.ChargeFailed},
			{core.ChargeCharging, core.ChargeUnknown},
			{core.ChargeUnknown, core.ChargeCharging},
			{core.ChargeUnknown, core.ChargePaid},
			{core.ChargeUnknown, core.ChargeFailed},
			{core.ChargePaid, core.ChargeCancelled},
		}
		for _, tc := range legal {
			run(t, newStore, string(tc.from)+"_to_"+string(tc.to), func(f *fixture) {
				c := f.createCharge(f.charge(f.user()))
				before := f.drive(c.MerchantUID, tc.from)
				at := f.now.Add(time.Minute)
				// from may list several statuses; the current one must be among them.
				from := []core.ChargeStatus{core.ChargeCancelled, tc.from, core.ChargeFailed}
				got, err := f.s.UpdateCharge(f.ctx, c.MerchantUID, from, core.ChargeUpdate{Status: tc.to, At: at})
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
			status core.ChargeStatus
			from   []core.ChargeStatus
			to     core.ChargeStatus
		}{
			{"pending_as_charging", core.ChargePending, []core.ChargeStatus{core.ChargeCharging}, core.ChargePaid},
			{"charging_twice", core.ChargeCharging, []core.ChargeStatus{core.ChargePending}, core.ChargeCharging},
			{"paid_then_failed", core.ChargePaid, []core.ChargeStatus{core.ChargeCharging, core.ChargeUnknown}, core.ChargeFailed},
			{"failed_then_paid", core.ChargeFailed, []core.ChargeStatus{core.ChargeCharging, core.ChargeUnknown}, core.ChargePaid},
			{"unknown_as_pending", core.ChargeUnknown, []core.ChargeStatus{core.ChargePending, core.ChargeCharging}, core.ChargeCharging},
			{"cancelled_twice", core.ChargeCancelled, []core.ChargeStatus{core.ChargePaid}, core.ChargeCancelled},
			{"empty_from", core.ChargeCharging, nil, core.ChargePaid},
		}
		for _, tc := range misses {
			run(t, newStore, tc.name, func(f *fixture) {
				c := f.createCharge(f.charge(f.user()))
				before := f.drive(c.MerchantUID, tc.status)
				_, err := f.s.UpdateCharge(f.ctx, c.MerchantUID, tc.from, core.ChargeUpdate{
					Status: tc.to, ImpUID: f.impUID(), FailReason: "x", PaidAt: f.now,
					AddAttempts: 1, At: f.now.Add(time.Hour), ReleaseClaim: true,
				})
				require.ErrorIs(f.t, err, core.ErrConflict)
				requireCharge(f.t, before, f.getCharge(c.MerchantUID))
			})
		}
	})

	run(t, newStore, "UpdateFields", func(f *fixture) {
		c := f.createCharge(f.charge(f.user()))
		t1 := f.now.Add(time.Second)
		got, err := f.s.UpdateCharge(f.ctx, c.MerchantUID, []core.ChargeStatus{core.ChargePending},
			core.ChargeUpdate{Status: core.ChargeCharging, AddAttempts: 1, At: t1})
		require.NoError(f.t, err)
		want := cloneCharge(c)
		want.Status, want.Attempts, want.UpdatedAt = core.ChargeCharging, 1, t1
		requireCharge(f.t, want, got)

		t2 := f.now.Add(2 * time.Second)
		imp := f.impUID()
		got, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []core.ChargeStatus{core.ChargeCharging},
			core.ChargeUpdate{Status: core.ChargeUnknown, ImpUID: imp, FailReason: "timeout", AddAttempts: 2, At: t2})
		require.NoError(f.t, err)
		want.Status, want.ImpUID, want.FailReason, want.Attempts, want.UpdatedAt = core.ChargeUnknown, imp, "timeout", 3, t2
		requireCharge(f.t, want, got)
		requireCharge(f.t, want, f.getCharge(c.MerchantUID))

		// An empty update changes nothing but passes the compare-and-set.
		got, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []core.ChargeStatus{core.ChargeUnknown}, core.ChargeUpdate{})
		require.NoError(f.t, err)
		requireCharge(f.t, want, got)
		requireCharge(f.t, want, f.getCharge(c.MerchantUID))

		// Empty fields keep what is stored; the same imp_uid again is no duplicate.
		t3 := f.now.Add(3 * time.Second)
		paidAt := f.now.Add(2500 * time.Millisecond)
		got, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []core.ChargeStatus{core.ChargeUnknown},
			core.ChargeUpdate{Status: core.ChargePaid, ImpUID: imp, PaidAt: paidAt, At: t3})
		require.NoError(f.t, err)
		want.Status, want.PaidAt, want.UpdatedAt = core.ChargePaid, paidAt, t3
		requireCharge(f.t, want, got)
		requireCharge(f.t, want, f.getCharge(c.MerchantUID))

		// A status-less update with At only moves UpdatedAt.
		t4 := f.now.Add(4 * time.Second)
		got, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []core.ChargeStatus{core.ChargePaid}, core.ChargeUpdate{At: t4})
		require.NoError(f.t, err)
		want.UpdatedAt = t4
		requireCharge(f.t, want, got)
	})

	run(t, newStore, "ImpUIDUnique", func(f *fixture) {
		a := f.createCharge(f.charge(f.user()))
		b := f.createCharge(f.charge(f.user()))
		f.drive(a.MerchantUID, core.ChargeCharging)
		before := f.drive(b.MerchantUID, core.ChargeCharging)
		imp := f.impUID()
		_, err := f.s.UpdateCharge(f.ctx, a.MerchantUID, []core.ChargeStatus{core.ChargeCharging},
			core.ChargeUpdate{Status: core.ChargePaid, ImpUID: imp, PaidAt: f.now, At: f.now})
		require.NoError(f.t, err)
		_, err = f.s.UpdateCharge(f.ctx, b.MerchantUID, []core.ChargeStatus{core.ChargeCharging},
			core.ChargeUpdate{Status: core.ChargePaid, ImpUID: imp, PaidAt: f.now, At: f.now})
		require.ErrorIs(f.t, err, core.ErrDuplicate)
		requireCharge(f.t, before, f.getCharge(b.MerchantUID))

		// A status miss is reported as a conflict before any imp_uid check.
		_, err = f.s.UpdateCharge(f.ctx, b.MerchantUID, []core.ChargeStatus{core.ChargePending},
			core.ChargeUpdate{Status: core.ChargePaid, ImpUID: imp})
		require.ErrorIs(f.t, err, core.ErrConflict)

		// Many charges without imp_uid are fine, and b takes a payment of its own.
		for range 3 {
			f.drive(f.createCharge(f.charge(f.user())).MerchantUID, core.ChargeFailed)
		}
		_, err = f.s.UpdateCharge(f.ctx, b.MerchantUID, []core.ChargeStatus{core.ChargeCharging},
			core.ChargeUpdate{Status: core.ChargePaid, ImpUID: f.impUID()})
		require.NoError(f.t, err)
	})

	run(t, newStore, "ByImpUID", func(f *fixture) {
		c := f.createCharge(f.charge(f.user()))
		f.drive(c.MerchantUID, core.ChargeCharging)
		for _, imp := range []string{"", f.impUID()} {
			_, err := f.s.GetChargeByImpUID(f.ctx, imp)
			require.ErrorIs(f.t, err, core.ErrNotFound, "imp_uid %q before any update", imp)
		}
		imp := f.impUID()
		want, err := f.s.UpdateCharge(f.ctx, c.MerchantUID, []core.ChargeStatus{core.ChargeCharging},
			core.ChargeUpdate{Status: core.ChargePaid, ImpUID: imp, PaidAt: f.now, At: f.now})
		require.NoError(f.t, err)

		got, err := f.s.GetChargeByImpUID(f.ctx, imp)
		require.NoError(f.t, err)
		requireCharge(f.t, want, got)
		got.UserID, got.Amount, got.Status, got.ImpUID = "mallory", 1, core.ChargeFailed, "imp_other"
		again, err := f.s.GetChargeByImpUID(f.ctx, imp)
		require.NoError(f.t, err)
		requireCharge(f.t, want, again)

		// A later update (here: the cancellation) is what the lookup returns.
		want, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []core.ChargeStatus{core.ChargePaid},
			core.ChargeUpdate{Status: core.ChargeCancelled, At: f.now.Add(time.Second)})
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
			require.ErrorIs(f.t, err, core.ErrNotFound, "imp_uid %q", imp)
		}
		// An issuance's imp_uid is no charge's.
		is := f.createIssuance(f.user())
		to, key := f.issued(is, "BC")
		_, err = f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
		require.NoError(f.t, err)
		_, err = f.s.GetChargeByImpUID(f.ctx, to.ImpUID)
		require.ErrorIs(f.t, err, core.ErrNotFound)
	})

	run(t, newStore, "ByIdempotencyKey", func(f *fixture) {
		user, other := f.user(), f.user()
		_, err := f.s.GetChargeByIdempotencyKey(f.ctx, user, f.idemKey())
		require.ErrorIs(f.t, err, core.ErrNotFound, "unknown key")

		c := f.charge(user)
		want := f.createCharge(cloneCharge(c))
		got, err := f.s.GetChargeByIdempotencyKey(f.ctx, user, c.IdempotencyKey)
		require.NoError(f.t, err)
		requireCharge(f.t, want, got)

		// Per user: the same key of another user finds nothing until that user has a
		// charge of its own under it, and then each finds their own.
		_, err = f.s.GetChargeByIdempotencyKey(f.ctx, other, c.IdempotencyKey)
		require.ErrorIs(f.t, err, core.ErrNotFound, "another user's key")
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
			require.ErrorIs(f.t, err, core.ErrNotFound, "user %q key %q", miss[0], miss[1])
		}

		// The current row is returned, and it is a copy.
		f.move(c.MerchantUID, core.ChargePending, core.ChargeCharging)
		want, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []core.ChargeStatus{core.ChargeCharging},
			core.ChargeUpdate{Status: core.ChargePaid, ImpUID: f.impUID(), PaidAt: f.now, At: f.now.Add(time.Second)})
		require.NoError(f.t, err)
		got, err = f.s.GetChargeByIdempotencyKey(f.ctx, user, c.IdempotencyKey)
		require.NoError(f.t, err)
		requireCharge(f.t, want, got)
		got.UserID, got.Amount, got.Status, got.ImpUID, got.IdempotencyKey = "mallory", 1, core.ChargeFailed, "imp_other", "other"
		again, err := f.s.GetChargeByIdempotencyKey(f.ctx, user, c.IdempotencyKey)
		require.NoError(f.t, err)
		requireCharge(f.t, want, again)
		requireCharge(f.t, want, f.getCharge(c.MerchantUID))
	})

	run(t, newStore, "Times", func(f *fixture) {
		seoul := time.FixedZone("KST", 9*60*60)
		at := func(d time.Duration) time.Time { return f.now.Add(d).In(seoul) }

		c := f.charge(f.user())
		c.CreatedAt, c.UpdatedAt = at(123*time.Millisecond), at(456*time.Millisecond)
		f.createCharge(c)
		requireCharge(f.t, c, f.getCharge(c.MerchantUID))
		f.drive(c.MerchantUID, core.ChargeCharging)
		got, err := f.s.UpdateCharge(f.ctx, c.MerchantUID, []core.ChargeStatus{core.ChargeCharging},
			core.ChargeUpdate{Status: core.ChargePaid, PaidAt: at(789 * time.Millisecond), At: at(999 * time.Millisecond)})
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

	run(t, newStore, "ReturnsCopies", func(f *fixture) {
		c := f.charge(f.user())
		want := cloneCharge(c)
		stored := f.createCharge(c)
		c.Amount, c.Status = 1, core.ChargePaid
		stored.Amount, stored.UserID = 2, "mallory"
		got := f.getCharge(want.MerchantUID)
		requireCharge(f.t, want, got)
		got.Amount = 3
		updated, err := f.s.UpdateCharge(f.ctx, want.MerchantUID, []core.ChargeStatus{core.ChargePending}, core.ChargeUpdate{})
		require.NoError(f.t, err)
		updated.Amount = 4
		list, err := f.s.ListCharges(f.ctx, want.UserID, 10)
		require.NoError(f.t, err)
		require.Len(f.t, list, 1)
		list[0].Amount = 5
		requireCharge(f.t, want, f.getCharge(want.MerchantUID))
	})

	run(t, newStore, "CanceledContext", func(f *fixture) {
		ctx, cancel := context.WithCancel(f.ctx)
		cancel()
		c := f.charge(f.user())
		_, _, err := f.s.CreateCharge(ctx, c)
		require.Error(f.t, err)
		_, err = f.s.GetCharge(f.ctx, c.MerchantUID)
		require.ErrorIs(f.t, err, core.ErrNotFound, "a write with a canceled context happened")
		is := f.issuance(f.user())
		require.Error(f.t, f.s.CreateIssuance(ctx, is))
		_, err = f.s.GetIssuance(f.ctx, is.MerchantUID)
		require.ErrorIs(f.t, err, core.ErrNotFound, "a write with a canceled context happened")
	})
}
