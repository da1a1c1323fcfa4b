package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
)

func testKeyedCharges(t *testing.T, open opener) {
	// The row takes the customer_uid of the user's key, whatever the charge says, and the
	// lease it is given.
	run(t, open, "TakesTheKey", func(f *fixture) {
		user := f.user()
		key := f.giveKey(user, "신한카드")
		c := f.charge(user)
		lease := f.lease(time.Minute)
		stored, created, err := f.s.CreateKeyedCharge(f.ctx, cloneCharge(c), lease)
		require.NoError(f.t, err)
		require.True(f.t, created)
		want := cloneCharge(c)
		want.CustomerUID = key.CustomerUID
		want.ClaimedBy, want.ClaimedUntil = lease.Owner, stored.ClaimedUntil
		if f.clock != nil {
			want.ClaimedUntil = f.until(lease.For)
		}
		requireCharge(f.t, want, stored)
		requireCharge(f.t, want, f.getCharge(c.MerchantUID))

		// A replaced key is the one the next charge takes.
		next := f.giveKey(user, "국민카드")
		c2 := f.charge(user)
		stored, created, err = f.s.CreateKeyedCharge(f.ctx, c2, store.Lease{})
		require.NoError(f.t, err)
		require.True(f.t, created)
		require.Equal(f.t, next.CustomerUID, stored.CustomerUID)
	})

	run(t, open, "NoKey", func(f *fixture) {
		user := f.user()
		c := f.charge(user)
		_, _, err := f.s.CreateKeyedCharge(f.ctx, c, f.lease(time.Minute))
		require.ErrorIs(f.t, err, store.ErrNotFound)
		_, err = f.s.GetCharge(f.ctx, c.MerchantUID)
		require.ErrorIs(f.t, err, store.ErrNotFound, "a charge without a key was stored")

		// Another user's key is not this user's.
		f.giveKey(f.user(), "신한카드")
		_, _, err = f.s.CreateKeyedCharge(f.ctx, c, store.Lease{})
		require.ErrorIs(f.t, err, store.ErrNotFound)
	})

	// The idempotency key answers first: the stored charge comes back, as it is now, even
	// once the user's key is gone, and the second caller's lease is not taken on it.
	run(t, open, "IdempotencyKeyFirst", func(f *fixture) {
		user := f.user()
		key := f.giveKey(user, "신한카드")
		first := f.charge(user)
		stored, created, err := f.s.CreateKeyedCharge(f.ctx, first, f.lease(time.Minute))
		require.NoError(f.t, err)
		require.True(f.t, created)

		again := f.charge(user)
		again.IdempotencyKey = first.IdempotencyKey
		got, created, err := f.s.CreateKeyedCharge(f.ctx, again, f.lease(time.Hour))
		require.NoError(f.t, err)
		require.False(f.t, created)
		requireCharge(f.t, stored, got)

		require.NoError(f.t, f.s.DeleteBillingKey(f.ctx, user, key.CustomerUID))
		moved := f.move(first.MerchantUID, store.ChargePending, store.ChargeCharging)
		got, created, err = f.s.CreateKeyedCharge(f.ctx, again, store.Lease{})
		require.NoError(f.t, err)
		require.False(f.t, created)
		requireCharge(f.t, moved, got)
		_, err = f.s.GetCharge(f.ctx, again.MerchantUID)
		require.ErrorIs(f.t, err, store.ErrNotFound, "the second charge was stored")
	})

	run(t, open, "DuplicateMerchantUID", func(f *fixture) {
		user := f.user()
		f.giveKey(user, "신한카드")
		first := f.createCharge(f.charge(f.user()))
		dup := f.charge(user)
		dup.MerchantUID = first.MerchantUID
		_, _, err := f.s.CreateKeyedCharge(f.ctx, dup, f.lease(time.Minute))
		require.ErrorIs(f.t, err, store.ErrDuplicate)
		requireCharge(f.t, first, f.getCharge(first.MerchantUID))
	})

	// Callers racing on one idempotency key agree on one row.
	run(t, open, "Race", func(f *fixture) {
		user := f.user()
		f.giveKey(user, "신한카드")
		key := f.idemKey()
		const callers = 8
		var wg sync.WaitGroup
		got := make([]*store.Charge, callers)
		made := make([]bool, callers)
		errs := make([]error, callers)
		for i := range callers {
			c := f.charge(user)
			c.IdempotencyKey = key
			wg.Add(1)
			go func() {
				defer wg.Done()
				got[i], made[i], errs[i] = f.s.CreateKeyedCharge(f.ctx, c, store.Lease{})
			}()
		}
		wg.Wait()
		winners := 0
		for i := range callers {
			require.NoError(f.t, errs[i])
			require.Equal(f.t, got[0].MerchantUID, got[i].MerchantUID)
			if made[i] {
				winners++
			}
		}
		require.Equal(f.t, 1, winners)
	})
}
