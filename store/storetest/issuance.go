package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
)

func testIssuances(t *testing.T, newStore func(*testing.T) core.Store) {
	run(t, newStore, "CreateAndGet", func(f *fixture) {
		is := f.issuance(f.user())
		is.Amount = 0
		is.PlanID = ""
		require.NoError(f.t, f.s.CreateIssuance(f.ctx, is))

		got, err := f.s.GetIssuance(f.ctx, is.MerchantUID)
		require.NoError(f.t, err)
		requireIssuance(f.t, is, got)

		got, err = f.s.GetIssuanceByCustomerUID(f.ctx, is.CustomerUID)
		require.NoError(f.t, err)
		requireIssuance(f.t, is, got)

		withPlan := f.createIssuance(is.UserID) // a second issuance of the same user
		requireIssuance(f.t, withPlan, f.getIssuance(withPlan.MerchantUID))
	})

	run(t, newStore, "NotFound", func(f *fixture) {
		f.createIssuance(f.user())
		_, err := f.s.GetIssuance(f.ctx, f.merchantUID())
		require.ErrorIs(f.t, err, core.ErrNotFound)
		_, err = f.s.GetIssuanceByCustomerUID(f.ctx, f.customerUID())
		require.ErrorIs(f.t, err, core.ErrNotFound)
		to, key := f.issued(f.issuance(f.user()), "BC")
		_, err = f.s.SettleIssuance(f.ctx, f.merchantUID(), to, key)
		require.ErrorIs(f.t, err, core.ErrNotFound)
	})

	run(t, newStore, "DuplicateMerchantUID", func(f *fixture) {
		first := f.createIssuance(f.user())
		dup := f.issuance(f.user())
		dup.MerchantUID = first.MerchantUID
		require.ErrorIs(f.t, f.s.CreateIssuance(f.ctx, dup), core.ErrDuplicate)
		requireIssuance(f.t, first, f.getIssuance(first.MerchantUID))
		_, err := f.s.GetIssuanceByCustomerUID(f.ctx, dup.CustomerUID)
		require.ErrorIs(f.t, err, core.ErrNotFound, "the rejected issuance was stored")
	})

	run(t, newStore, "DuplicateCustomerUID", func(f *fixture) {
		first := f.createIssuance(f.user())
		dup := f.issuance(f.user())
		dup.CustomerUID = first.CustomerUID
		require.ErrorIs(f.t, f.s.CreateIssuance(f.ctx, dup), core.ErrDuplicate)
		_, err := f.s.GetIssuance(f.ctx, dup.MerchantUID)
		require.ErrorIs(f.t, err, core.ErrNotFound, "the rejected issuance was stored")
		got, err := f.s.GetIssuanceByCustomerUID(f.ctx, first.CustomerUID)
		require.NoError(f.t, err)
		requireIssuance(f.t, first, got)
	})

	t.Run("Settle", func(t *testing.T) {
		for _, status := range []core.IssuanceStatus{core.IssuanceIssued, core.IssuanceFailed, core.IssuanceExpired} {
			run(t, newStore, string(status), func(f *fixture) {
				user := f.user()
				is := f.createIssuance(user)
				to, key := f.issued(is, "현대카드")
				to.Status = status
				to.ChargeMerchantUID = f.merchantUID()
				if status != core.IssuanceIssued {
					to.CardName, to.CardNumber = "", ""
					to.FailReason = "F1234: 카드 한도 초과"
				}
				replaced, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
				require.NoError(f.t, err)
				require.Nil(f.t, replaced, "the user had no key before")

				want := cloneIssuance(is)
				want.Status = status
				want.ImpUID = to.ImpUID
				want.FailReason = to.FailReason
				want.CardName, want.CardNumber = to.CardName, to.CardNumber
				want.ChargeMerchantUID = to.ChargeMerchantUID
				want.UpdatedAt = to.UpdatedAt
				requireIssuance(f.t, want, f.getIssuance(is.MerchantUID))
				got, err := f.s.GetIssuanceByCustomerUID(f.ctx, is.CustomerUID)
				require.NoError(f.t, err)
				requireIssuance(f.t, want, got)

				gotKey, err := f.s.GetBillingKey(f.ctx, user)
				if status == core.IssuanceIssued {
					require.NoError(f.t, err)
					requireKey(f.t, key, gotKey)
				} else {
					require.ErrorIs(f.t, err, core.ErrNotFound, "a %s settlement stored the key", status)
				}

				// Settled is final: every further settlement is a conflict and changes nothing.
				for _, again := range []core.IssuanceStatus{core.IssuanceIssued, core.IssuanceFailed, core.IssuanceExpired} {
					to2, key2 := f.issued(is, "신한카드")
					to2.Status = again
					_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to2, key2)
					require.ErrorIs(f.t, err, core.ErrConflict, "settling a %s issuance to %s", status, again)
					requireIssuance(f.t, want, f.getIssuance(is.MerchantUID))
				}
				gotKey, err = f.s.GetBillingKey(f.ctx, user)
				if status == core.IssuanceIssued {
					require.NoError(f.t, err)
					requireKey(f.t, key, gotKey)
				} else {
					require.ErrorIs(f.t, err, core.ErrNotFound)
				}
			})
		}
	})

	run(t, newStore, "SettleToInvalidStatus", func(f *fixture) {
		is := f.createIssuance(f.user())
		for _, status := range []core.IssuanceStatus{core.IssuancePending, "", "settled"} {
			to, key := f.issued(is, "BC")
			to.Status = status
			_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
			require.Error(f.t, err, "settling to %q", status)
			requireIssuance(f.t, is, f.getIssuance(is.MerchantUID))
			_, err = f.s.GetBillingKey(f.ctx, is.UserID)
			require.ErrorIs(f.t, err, core.ErrNotFound)
		}
	})

	run(t, newStore, "SettleKeepsEmptyFields", func(f *fixture) {
		is := f.issuance(f.user())
		is.ChargeMerchantUID = f.merchantUID()
		is.FailReason = "earlier note"
		require.NoError(f.t, f.s.CreateIssuance(f.ctx, is))
		_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, &core.Issuance{Status: core.IssuanceExpired}, nil)
		require.NoError(f.t, err)
		want := cloneIssuance(is)
		want.Status = core.IssuanceExpired
		requireIssuance(f.t, want, f.getIssuance(is.MerchantUID))
	})

	// R3: one payment, one record.
	run(t, newStore, "SettleImpUIDTaken", func(f *fixture) {
		first := f.createIssuance(f.user())
		to, key := f.issued(first, "BC")
		_, err := f.s.SettleIssuance(f.ctx, first.MerchantUID, to, key)
		require.NoError(f.t, err)

		for _, status := range []core.IssuanceStatus{core.IssuanceIssued, core.IssuanceFailed} {
			second := f.createIssuance(f.user())
			to2, key2 := f.issued(second, "BC")
			to2.Status = status
			to2.ImpUID = to.ImpUID
			_, err = f.s.SettleIssuance(f.ctx, second.MerchantUID, to2, key2)
			require.ErrorIs(f.t, err, core.ErrDuplicate, "settling to %s with a taken imp_uid", status)
			requireIssuance(f.t, second, f.getIssuance(second.MerchantUID))
			_, err = f.s.GetBillingKey(f.ctx, second.UserID)
			require.ErrorIs(f.t, err, core.ErrNotFound, "the key of a rejected settlement was stored")

			// The same issuance can still be settled with its own payment.
			to2.ImpUID = f.impUID()
			_, err = f.s.SettleIssuance(f.ctx, second.MerchantUID, to2, key2)
			require.NoError(f.t, err)
		}

		// Several issuances without imp_uid are fine.
		for range 3 {
			is := f.createIssuance(f.user())
			_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID,
				&core.Issuance{Status: core.IssuanceFailed, FailReason: "closed"}, nil)
			require.NoError(f.t, err)
		}
	})

	run(t, newStore, "SettleReplacesKey", func(f *fixture) {
		user, other := f.user(), f.user()
		old := f.giveKey(user, "BC")
		otherKey := f.giveKey(other, "KB")

		is := f.createIssuance(user)
		to, key := f.issued(is, "삼성카드")
		replaced, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
		require.NoError(f.t, err)
		require.NotNil(f.t, replaced, "the replaced key must be returned")
		requireKey(f.t, old, replaced)

		got, err := f.s.GetBillingKey(f.ctx, user)
		require.NoError(f.t, err)
		requireKey(f.t, key, got)
		got, err = f.s.GetBillingKey(f.ctx, other)
		require.NoError(f.t, err)
		requireKey(f.t, otherKey, got)

		// The replaced key is gone: deleting it by its customer_uid finds nothing.
		require.ErrorIs(f.t, f.s.DeleteBillingKey(f.ctx, user, old.CustomerUID), core.ErrNotFound)
	})

	run(t, newStore, "SettleSameCustomerUIDKey", func(f *fixture) {
		user := f.user()
		old := f.giveKey(user, "BC")
		is := f.createIssuance(user)
		to, key := f.issued(is, "KB")
		key.CustomerUID = old.CustomerUID
		replaced, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
		require.NoError(f.t, err)
		require.Nil(f.t, replaced, "a key with the same customer_uid is not a replaced key")
		got, err := f.s.GetBillingKey(f.ctx, user)
		require.NoError(f.t, err)
		requireKey(f.t, key, got)
	})

	run(t, newStore, "SettleIssuedWithoutKey", func(f *fixture) {
		user := f.user()
		old := f.giveKey(user, "BC")
		is := f.createIssuance(user)
		to, _ := f.issued(is, "KB")
		replaced, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, nil)
		require.NoError(f.t, err)
		require.Nil(f.t, replaced)
		require.Equal(f.t, core.IssuanceIssued, f.getIssuance(is.MerchantUID).Status)
		got, err := f.s.GetBillingKey(f.ctx, user)
		require.NoError(f.t, err)
		requireKey(f.t, old, got)
	})

	run(t, newStore, "SettleFailedKeepsKey", func(f *fixture) {
		user := f.user()
		old := f.giveKey(user, "BC")
		for _, status := range []core.IssuanceStatus{core.IssuanceFailed, core.IssuanceExpired} {
			is := f.createIssuance(user)
			to, key := f.issued(is, "KB")
			to.Status = status
			replaced, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
			require.NoError(f.t, err)
			require.Nil(f.t, replaced)
			got, err := f.s.GetBillingKey(f.ctx, user)
			require.NoError(f.t, err)
			requireKey(f.t, old, got)
		}
	})

	// A billing key's customer_uid is unique across users; the whole settlement fails.
	run(t, newStore, "SettleKeyCustomerUIDTaken", func(f *fixture) {
		owner := f.giveKey(f.user(), "BC")
		user := f.user()
		is := f.createIssuance(user)
		to, key := f.issued(is, "KB")
		key.CustomerUID = owner.CustomerUID
		_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
		require.ErrorIs(f.t, err, core.ErrDuplicate)
		requireIssuance(f.t, is, f.getIssuance(is.MerchantUID))
		_, err = f.s.GetBillingKey(f.ctx, user)
		require.ErrorIs(f.t, err, core.ErrNotFound)
		got, err := f.s.GetBillingKey(f.ctx, owner.UserID)
		require.NoError(f.t, err)
		requireKey(f.t, owner, got)
	})

	// A key must land on the issuance's own user, never on another account.
	run(t, newStore, "SettleKeyOfAnotherUser", func(f *fixture) {
		user, victim := f.user(), f.user()
		victimKey := f.giveKey(victim, "BC")
		is := f.createIssuance(user)
		to, key := f.issued(is, "KB")
		key.UserID = victim
		_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
		require.Error(f.t, err)
		requireIssuance(f.t, is, f.getIssuance(is.MerchantUID))
		got, err := f.s.GetBillingKey(f.ctx, victim)
		require.NoError(f.t, err)
		requireKey(f.t, victimKey, got)
		_, err = f.s.GetBillingKey(f.ctx, user)
		require.ErrorIs(f.t, err, core.ErrNotFound)
	})

	run(t, newStore, "ExpirePending", func(f *fixture) {
		now := f.epoch
		mk := func(expiresAt time.Time) *core.Issuance {
			is := f.issuance(f.user())
			is.CreatedAt = expiresAt.Add(-30 * time.Minute)
			is.UpdatedAt = is.CreatedAt
			is.ExpiresAt = expiresAt
			require.NoError(f.t, f.s.CreateIssuance(f.ctx, is))
			return is
		}
		due := []*core.Issuance{
			mk(now.Add(-2 * time.Hour)),
			mk(now.Add(-time.Millisecond)),
			mk(now), // ExpiresAt <= now
		}
		notYet := mk(now.Add(time.Millisecond))
		settled := mk(now.Add(-3 * time.Hour))
		to, key := f.issued(settled, "BC")
		_, err := f.s.SettleIssuance(f.ctx, settled.MerchantUID, to, key)
		require.NoError(f.t, err)
		settledWant := f.getIssuance(settled.MerchantUID)
		present := f.createIssuance(f.user()) // expires 30 minutes from the real now

		got := expireAll(f, now, 100)
		for _, is := range due {
			require.Contains(f.t, got, is.MerchantUID, "a due issuance was not expired")
			want := cloneIssuance(is)
			want.Status = core.IssuanceExpired
			want.UpdatedAt = now
			requireIssuance(f.t, want, got[is.MerchantUID])
			requireIssuance(f.t, want, f.getIssuance(is.MerchantUID))
		}
		for _, is := range []*core.Issuance{notYet, settledWant, present} {
			require.NotContains(f.t, got, is.MerchantUID)
			requireIssuance(f.t, is, f.getIssuance(is.MerchantUID))
		}
		// Expired is final: settling it is a conflict.
		to, key = f.issued(due[0], "BC")
		_, err = f.s.SettleIssuance(f.ctx, due[0].MerchantUID, to, key)
		require.ErrorIs(f.t, err, core.ErrConflict)
	})

	run(t, newStore, "ExpireLimit", func(f *fixture) {
		now := f.epoch
		var mine []*core.Issuance
		for i := range 5 {
			is := f.issuance(f.user())
			is.ExpiresAt = now.Add(-time.Duration(i+1) * time.Minute)
			require.NoError(f.t, f.s.CreateIssuance(f.ctx, is))
			mine = append(mine, is)
		}
		for _, limit := range []int{0, -1} {
			got, err := f.s.ExpirePendingIssuances(f.ctx, now, limit)
			require.NoError(f.t, err)
			require.Empty(f.t, got, "limit %d", limit)
		}
		for _, is := range mine {
			require.Equal(f.t, core.IssuancePending, f.getIssuance(is.MerchantUID).Status, "limit <= 0 expired a row")
		}
		got, err := f.s.ExpirePendingIssuances(f.ctx, now, 2)
		require.NoError(f.t, err)
		require.Len(f.t, got, 2, "at least 5 issuances are due; limit 2")
		all := expireAll(f, now, 2)
		for _, is := range got {
			require.NotContains(f.t, all, is.MerchantUID, "expired twice")
		}
		for _, is := range mine {
			require.Equal(f.t, core.IssuanceExpired, f.getIssuance(is.MerchantUID).Status)
		}
	})

	run(t, newStore, "ByImpUID", func(f *fixture) {
		is := f.createIssuance(f.user())
		for _, imp := range []string{"", f.impUID()} {
			_, err := f.s.GetIssuanceByImpUID(f.ctx, imp)
			require.ErrorIs(f.t, err, core.ErrNotFound, "imp_uid %q before any settlement", imp)
		}
		to, key := f.issued(is, "BC")
		_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
		require.NoError(f.t, err)
		want := f.getIssuance(is.MerchantUID)
		require.Equal(f.t, to.ImpUID, want.ImpUID)

		got, err := f.s.GetIssuanceByImpUID(f.ctx, to.ImpUID)
		require.NoError(f.t, err)
		requireIssuance(f.t, want, got)
		got.UserID, got.Status, got.ImpUID = "mallory", core.IssuancePending, "imp_other"
		again, err := f.s.GetIssuanceByImpUID(f.ctx, to.ImpUID)
		require.NoError(f.t, err)
		requireIssuance(f.t, want, again)

		// Failed settlements record their imp_uid too; issuances without one are not
		// found by "" and an unknown imp_uid finds nothing.
		failed := f.createIssuance(f.user())
		imp := f.impUID()
		_, err = f.s.SettleIssuance(f.ctx, failed.MerchantUID,
			&core.Issuance{Status: core.IssuanceFailed, ImpUID: imp, FailReason: "declined"}, nil)
		require.NoError(f.t, err)
		got, err = f.s.GetIssuanceByImpUID(f.ctx, imp)
		require.NoError(f.t, err)
		requireIssuance(f.t, f.getIssuance(failed.MerchantUID), got)
		f.createIssuance(f.user())
		for _, imp := range []string{"", f.impUID()} {
			_, err := f.s.GetIssuanceByImpUID(f.ctx, imp)
			require.ErrorIs(f.t, err, core.ErrNotFound, "imp_uid %q", imp)
		}
		// A charge's imp_uid is no issuance's.
		c := f.createCharge(f.charge(f.user()))
		f.drive(c.MerchantUID, core.ChargeCharging)
		chargeImp := f.impUID()
		_, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []core.ChargeStatus{core.ChargeCharging},
			core.ChargeUpdate{Status: core.ChargePaid, ImpUID: chargeImp})
		require.NoError(f.t, err)
		_, err = f.s.GetIssuanceByImpUID(f.ctx, chargeImp)
		require.ErrorIs(f.t, err, core.ErrNotFound)
	})

	run(t, newStore, "ReturnsCopies", func(f *fixture) {
		is := f.issuance(f.user())
		want := cloneIssuance(is)
		require.NoError(f.t, f.s.CreateIssuance(f.ctx, is))
		is.UserID, is.Amount, is.Status = "mallory", 1, core.IssuanceIssued
		got := f.getIssuance(want.MerchantUID)
		requireIssuance(f.t, want, got)
		got.UserID, got.Amount = "mallory", 1
		requireIssuance(f.t, want, f.getIssuance(want.MerchantUID))
	})
}

// expireAll calls ExpirePendingIssuances until it returns nothing, checking every batch,
// and returns the rows it expired by merchant_uid. Rows of other tests sharing the
// database may be among them.
func expireAll(f *fixture, now time.Time, limit int) map[string]*core.Issuance {
	f.t.Helper()
	out := make(map[string]*core.Issuance)
	for range 10000 {
		batch, err := f.s.ExpirePendingIssuances(f.ctx, now, limit)
		require.NoError(f.t, err)
		require.LessOrEqual(f.t, len(batch), limit)
		if len(batch) == 0 {
			return out
		}
		for _, is := range batch {
			require.NotNil(f.t, is)
			require.NotContains(f.t, out, is.MerchantUID, "expired twice")
			require.Equal(f.t, core.IssuanceExpired, is.Status)
			require.False(f.t, is.ExpiresAt.After(now), "expired an issuance before its ExpiresAt")
			out[is.MerchantUID] = is
		}
	}
	f.t.Fatal("ExpirePendingIssuances never ran out of rows")
	return nil
}
