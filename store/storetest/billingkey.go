package storetest

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
)

func testBillingKeys(t *testing.T, open opener) {
	run(t, open, "GetAndDelete", func(f *fixture) {
		user := f.user()
		key := f.giveKey(user, "BC")
		got, err := f.s.GetBillingKey(f.ctx, user)
		require.NoError(f.t, err)
		requireKey(f.t, key, got)

		require.NoError(f.t, f.s.DeleteBillingKey(f.ctx, user, key.CustomerUID))
		_, err = f.s.GetBillingKey(f.ctx, user)
		require.ErrorIs(f.t, err, store.ErrNotFound)
		require.ErrorIs(f.t, f.s.DeleteBillingKey(f.ctx, user, key.CustomerUID), store.ErrNotFound,
			"deleting twice")

		// The issuance that brought the key is history and stays.
		require.Equal(f.t, store.IssuanceIssued, f.getIssuance(key.IssuanceMerchantUID).Status)
	})

	run(t, open, "NotFound", func(f *fixture) {
		f.giveKey(f.user(), "BC")
		_, err := f.s.GetBillingKey(f.ctx, f.user())
		require.ErrorIs(f.t, err, store.ErrNotFound)
		require.ErrorIs(f.t, f.s.DeleteBillingKey(f.ctx, f.user(), f.customerUID()), store.ErrNotFound)
	})

	run(t, open, "DeleteWrongCustomerUID", func(f *fixture) {
		user, other := f.user(), f.user()
		key := f.giveKey(user, "BC")
		otherKey := f.giveKey(other, "KB")
		tries := []struct {
			name, user, customerUID string
		}{
			{"unknown customer_uid", user, f.customerUID()},
			{"empty customer_uid", user, ""},
			{"another user's customer_uid", user, otherKey.CustomerUID},
			{"customer_uid under another user", other, key.CustomerUID},
			{"customer_uid under a user without key", f.user(), key.CustomerUID},
		}
		for _, tc := range tries {
			require.ErrorIs(f.t, f.s.DeleteBillingKey(f.ctx, tc.user, tc.customerUID), store.ErrNotFound, tc.name)
			got, err := f.s.GetBillingKey(f.ctx, user)
			require.NoError(f.t, err, tc.name)
			requireKey(f.t, key, got)
			got, err = f.s.GetBillingKey(f.ctx, other)
			require.NoError(f.t, err, tc.name)
			requireKey(f.t, otherKey, got)
		}
	})

	run(t, open, "OtherUserUntouched", func(f *fixture) {
		a, b := f.user(), f.user()
		keyA := f.giveKey(a, "BC")
		keyB := f.giveKey(b, "KB")
		require.NoError(f.t, f.s.DeleteBillingKey(f.ctx, a, keyA.CustomerUID))
		got, err := f.s.GetBillingKey(f.ctx, b)
		require.NoError(f.t, err)
		requireKey(f.t, keyB, got)

		// A deleted user can get a new key.
		keyA2 := f.giveKey(a, "NH")
		got, err = f.s.GetBillingKey(f.ctx, a)
		require.NoError(f.t, err)
		requireKey(f.t, keyA2, got)
	})

	run(t, open, "ReturnsCopies", func(f *fixture) {
		user := f.user()
		key := f.giveKey(user, "BC")
		got, err := f.s.GetBillingKey(f.ctx, user)
		require.NoError(f.t, err)
		got.CustomerUID, got.UserID = "changed", "mallory"
		got, err = f.s.GetBillingKey(f.ctx, user)
		require.NoError(f.t, err)
		requireKey(f.t, key, got)
	})
}
