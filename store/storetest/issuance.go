package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
)

func testIssuances(t *testing.T, open opener) {
	run(t, open, "CreateAndGet", func(f *fixture) {
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

	run(t, open, "NotFound", func(f *fixture) {
		f.createIssuance(f.user())
		_, err := f.s.GetIssuance(f.ctx, f.merchantUID())
		require.ErrorIs(f.t, err, store.ErrNotFound)
		_, err = f.s.GetIssuanceByCustomerUID(f.ctx, f.customerUID())
		require.ErrorIs(f.t, err, store.ErrNotFound)
		to, key := f.issued(f.issuance(f.user()), "BC")
		_, err = f.s.SettleIssuance(f.ctx, f.merchantUID(), to, key)
		require.ErrorIs(f.t, err, store.ErrNotFound)
	})

	run(t, open, "DuplicateMerchantUID", func(f *fixture) {
		first := f.createIssuance(f.user())
		dup := f.issuance(f.user())
		dup.MerchantUID = first.MerchantUID
		require.ErrorIs(f.t, f.s.CreateIssuance(f.ctx, dup), store.ErrDuplicate)
		requireIssuance(f.t, first, f.getIssuance(first.MerchantUID))
		_, err := f.s.GetIssuanceByCustomerUID(f.ctx, dup.CustomerUID)
		require.ErrorIs(f.t, err, store.ErrNotFound, "the rejected issuance was stored")
	})

	run(t, open, "DuplicateCustomerUID", func(f *fixture) {
		first := f.createIssuance(f.user())
		dup := f.issuance(f.user())
		dup.CustomerUID = first.CustomerUID
		require.ErrorIs(f.t, f.s.CreateIssuance(f.ctx, dup), store.ErrDuplicate)
		_, err := f.s.GetIssuance(f.ctx, dup.MerchantUID)
		require.ErrorIs(f.t, err, store.ErrNotFound, "the rejected issuance was stored")
		got, err := f.s.GetIssuanceByCustomerUID(f.ctx, first.CustomerUID)
		require.NoError(f.t, err)
		requireIssuance(f.t, first, got)
	})

	t.Run("Settle", func(t *testing.T) {
		for _, status := range []store.IssuanceStatus{store.IssuanceIssued, store.IssuanceFailed, store.IssuanceExpired} {
			run(t, open, string(status), func(f *fixture) {
				user := f.user()
				is := f.createIssuance(user)
				to, key := f.issued(is, "현대카드")
				to.Status = status
				to.ChargeMerchantUID = f.merchantUID()
				to.KeyRemoved = true // not a field SettleIssuance copies
				if status != store.IssuanceIssued {
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
				if status == store.IssuanceIssued {
					require.NoError(f.t, err)
					requireKey(f.t, key, gotKey)
				} else {
					require.ErrorIs(f.t, err, store.ErrNotFound, "a %s settlement stored the key", status)
				}

				// Settled is final: every further settlement is a conflict and changes nothing.
				for _, again := range []store.IssuanceStatus{store.IssuanceIssued, store.IssuanceFailed, store.IssuanceExpired} {
					to2, key2 := f.issued(is, "신한카드")
					to2.Status = again
					_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to2, key2)
					require.ErrorIs(f.t, err, store.ErrConflict, "settling a %s issuance to %s", status, again)
					requireIssuance(f.t, want, f.getIssuance(is.MerchantUID))
				}
				gotKey, err = f.s.GetBillingKey(f.ctx, user)
				if status == store.IssuanceIssued {
					require.NoError(f.t, err)
					requireKey(f.t, key, gotKey)
				} else {
					require.ErrorIs(f.t, err, store.ErrNotFound)
				}
			})
		}
	})

	run(t, open, "SettleToInvalidStatus", func(f *fixture) {
		is := f.createIssuance(f.user())
		for _, status := range []store.IssuanceStatus{store.IssuancePending, "", "settled"} {
			to, key := f.issued(is, "BC")
			to.Status = status
			_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
			require.Error(f.t, err, "settling to %q", status)
			requireIssuance(f.t, is, f.getIssuance(is.MerchantUID))
			_, err = f.s.GetBillingKey(f.ctx, is.UserID)
			require.ErrorIs(f.t, err, store.ErrNotFound)
		}
	})

	run(t, open, "SettleKeepsEmptyFields", func(f *fixture) {
		is := f.issuance(f.user())
		is.ChargeMerchantUID = f.merchantUID()
		is.FailReason = "earlier note"
		require.NoError(f.t, f.s.CreateIssuance(f.ctx, is))
		_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, &store.Issuance{Status: store.IssuanceExpired}, nil)
		require.NoError(f.t, err)
		want := cloneIssuance(is)
		want.Status = store.IssuanceExpired
		requireIssuance(f.t, want, f.getIssuance(is.MerchantUID))
	})

	// R3: one payment, one record.
	run(t, open, "SettleImpUIDTaken", func(f *fixture) {
		first := f.createIssuance(f.user())
		to, key := f.issued(first, "BC")
		_, err := f.s.SettleIssuance(f.ctx, first.MerchantUID, to, key)
		require.NoError(f.t, err)

		for _, status := range []store.IssuanceStatus{store.IssuanceIssued, store.IssuanceFailed} {
			second := f.createIssuance(f.user())
			to2, key2 := f.issued(second, "BC")
			to2.Status = status
			to2.ImpUID = to.ImpUID
			_, err = f.s.SettleIssuance(f.ctx, second.MerchantUID, to2, key2)
			require.ErrorIs(f.t, err, store.ErrDuplicate, "settling to %s with a taken imp_uid", status)
			requireIssuance(f.t, second, f.getIssuance(second.MerchantUID))
			_, err = f.s.GetBillingKey(f.ctx, second.UserID)
			require.ErrorIs(f.t, err, store.ErrNotFound, "the key of a rejected settlement was stored")

			// The same issuance can still be settled with its own payment.
			to2.ImpUID = f.impUID()
			_, err = f.s.SettleIssuance(f.ctx, second.MerchantUID, to2, key2)
			require.NoError(f.t, err)
		}

		// Several issuances without imp_uid are fine.
		for range 3 {
			is := f.createIssuance(f.user())
			_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID,
				&store.Issuance{Status: store.IssuanceFailed, FailReason: "closed"}, nil)
			require.NoError(f.t, err)
		}
	})

	run(t, open, "SettleReplacesKey", func(f *fixture) {
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
		require.ErrorIs(f.t, f.s.DeleteBillingKey(f.ctx, user, old.CustomerUID), store.ErrNotFound)
	})

	run(t, open, "SettleSameCustomerUIDKey", func(f *fixture) {
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

	run(t, open, "SettleIssuedWithoutKey", func(f *fixture) {
		user := f.user()
		old := f.giveKey(user, "BC")
		is := f.createIssuance(user)
		to, _ := f.issued(is, "KB")
		replaced, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, nil)
		require.NoError(f.t, err)
		require.Nil(f.t, replaced)
		require.Equal(f.t, store.IssuanceIssued, f.getIssuance(is.MerchantUID).Status)
		got, err := f.s.GetBillingKey(f.ctx, user)
		require.NoError(f.t, err)
		requireKey(f.t, old, got)
	})

	run(t, open, "SettleFailedKeepsKey", func(f *fixture) {
		user := f.user()
		old := f.giveKey(user, "BC")
		for _, status := range []store.IssuanceStatus{store.IssuanceFailed, store.IssuanceExpired} {
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
	run(t, open, "SettleKeyCustomerUIDTaken", func(f *fixture) {
		owner := f.giveKey(f.user(), "BC")
		user := f.user()
		is := f.createIssuance(user)
		to, key := f.issued(is, "KB")
		key.CustomerUID = owner.CustomerUID
		_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
		require.ErrorIs(f.t, err, store.ErrDuplicate)
		requireIssuance(f.t, is, f.getIssuance(is.MerchantUID))
		_, err = f.s.GetBillingKey(f.ctx, user)
		require.ErrorIs(f.t, err, store.ErrNotFound)
		got, err := f.s.GetBillingKey(f.ctx, owner.UserID)
		require.NoError(f.t, err)
		requireKey(f.t, owner, got)
	})

	// A key must land on the issuance's own user, never on another account.
	run(t, open, "SettleKeyOfAnotherUser", func(f *fixture) {
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
		require.ErrorIs(f.t, err, store.ErrNotFound)
	})

	run(t, open, "ExpirePending", func(f *fixture) {
		now := f.epoch
		mk := func(expiresAt time.Time) *store.Issuance {
			is := f.issuance(f.user())
			is.CreatedAt = expiresAt.Add(-30 * time.Minute)
			is.UpdatedAt = is.CreatedAt
			is.ExpiresAt = expiresAt
			require.NoError(f.t, f.s.CreateIssuance(f.ctx, is))
			return is
		}
		due := []*store.Issuance{
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
			want.Status = store.IssuanceExpired
			want.UpdatedAt = now
			requireIssuance(f.t, want, got[is.MerchantUID])
			requireIssuance(f.t, want, f.getIssuance(is.MerchantUID))
		}
		for _, is := range []*store.Issuance{notYet, settledWant, present} {
			require.NotContains(f.t, got, is.MerchantUID)
			requireIssuance(f.t, is, f.getIssuance(is.MerchantUID))
		}
		// Expired is final: settling it is a conflict.
		to, key = f.issued(due[0], "BC")
		_, err = f.s.SettleIssuance(f.ctx, due[0].MerchantUID, to, key)
		require.ErrorIs(f.t, err, store.ErrConflict)
	})

	run(t, open, "ExpireLimit", func(f *fixture) {
		now := f.epoch
		var mine []*store.Issuance
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
			require.Equal(f.t, store.IssuancePending, f.getIssuance(is.MerchantUID).Status, "limit <= 0 expired a row")
		}
		got, err := f.s.ExpirePendingIssuances(f.ctx, now, 2)
		require.NoError(f.t, err)
		require.Len(f.t, got, 2, "at least 5 issuances are due; limit 2")
		all := expireAll(f, now, 2)
		for _, is := range got {
			require.NotContains(f.t, all, is.MerchantUID, "expired twice")
		}
		for _, is := range mine {
			require.Equal(f.t, store.IssuanceExpired, f.getIssuance(is.MerchantUID).Status)
		}
	})

	// CreateIssuance stores KeyRemoved as given (an import of old rows may set it).
	run(t, open, "KeyRemoved", func(f *fixture) {
		is := f.issuance(f.user())
		is.Status, is.KeyRemoved = store.IssuanceFailed, true
		require.NoError(f.t, f.s.CreateIssuance(f.ctx, is))
		requireIssuance(f.t, is, f.getIssuance(is.MerchantUID))
		fresh := f.createIssuance(f.user())
		require.False(f.t, f.getIssuance(fresh.MerchantUID).KeyRemoved)
	})

	// PendingIssuance: the user's newest pending issuance for the plan that is still
	// valid after notBefore, so a repeated request reuses it.
	run(t, open, "Pending", func(f *fixture) {
		user, other := f.user(), f.user()
		notBefore := f.now.Add(15 * time.Minute)
		mk := func(user, plan string, created time.Time, expiresAfter time.Duration) *store.Issuance {
			is := f.issuance(user)
			is.PlanID, is.CreatedAt, is.UpdatedAt = plan, created, created
			is.ExpiresAt = notBefore.Add(expiresAfter)
			require.NoError(f.t, f.s.CreateIssuance(f.ctx, is))
			return is
		}
		none := func(user, plan string) {
			f.t.Helper()
			_, err := f.s.PendingIssuance(f.ctx, user, plan, notBefore)
			require.ErrorIs(f.t, err, store.ErrNotFound, "user %s plan %q", user, plan)
		}
		none(user, "basic-monthly")

		// At notBefore is too late (ExpiresAt must be after it); a zero CreatedAt is the
		// oldest there is.
		mk(user, "basic-monthly", f.now.Add(time.Minute), 0)
		none(user, "basic-monthly")
		undated := mk(user, "basic-monthly", time.Time{}, time.Millisecond)
		got, err := f.s.PendingIssuance(f.ctx, user, "basic-monthly", notBefore)
		require.NoError(f.t, err)
		requireIssuance(f.t, undated, got)

		older := mk(user, "basic-monthly", f.now.Add(-2*time.Minute), time.Hour)
		newest := mk(user, "basic-monthly", f.now.Add(-time.Minute), time.Millisecond)
		mk(other, "basic-monthly", f.now, time.Hour)     // another user's
		noPlan := mk(user, "", f.now, time.Hour)         // no plan is a plan of its own
		premium := mk(user, "premium", f.now, time.Hour) // another plan
		settled := mk(user, "basic-monthly", f.now, time.Hour)
		_, err = f.s.SettleIssuance(f.ctx, settled.MerchantUID,
			&store.Issuance{Status: store.IssuanceFailed, FailReason: "closed"}, nil)
		require.NoError(f.t, err)

		for _, tc := range []struct {
			plan string
			want *store.Issuance
		}{{"basic-monthly", newest}, {"", noPlan}, {"premium", premium}} {
			got, err := f.s.PendingIssuance(f.ctx, user, tc.plan, notBefore)
			require.NoError(f.t, err, "plan %q", tc.plan)
			requireIssuance(f.t, tc.want, got)
		}
		none(user, "gold")
		none(f.user(), "basic-monthly")

		// Once the newest is settled, the next newest pending one is found; a copy.
		to, key := f.issued(newest, "BC")
		_, err = f.s.SettleIssuance(f.ctx, newest.MerchantUID, to, key)
		require.NoError(f.t, err)
		got, err = f.s.PendingIssuance(f.ctx, user, "basic-monthly", notBefore)
		require.NoError(f.t, err)
		requireIssuance(f.t, older, got)
		got.Status, got.UserID = store.IssuanceIssued, "mallory"
		requireIssuance(f.t, older, f.getIssuance(older.MerchantUID))
		got, err = f.s.PendingIssuance(f.ctx, user, "basic-monthly", notBefore.Add(time.Hour))
		require.ErrorIs(f.t, err, store.ErrNotFound, "all expire by then")
		require.Nil(f.t, got)
	})

	run(t, open, "ByImpUID", func(f *fixture) {
		is := f.createIssuance(f.user())
		for _, imp := range []string{"", f.impUID()} {
			_, err := f.s.GetIssuanceByImpUID(f.ctx, imp)
			require.ErrorIs(f.t, err, store.ErrNotFound, "imp_uid %q before any settlement", imp)
		}
		to, key := f.issued(is, "BC")
		_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
		require.NoError(f.t, err)
		want := f.getIssuance(is.MerchantUID)
		require.Equal(f.t, to.ImpUID, want.ImpUID)

		got, err := f.s.GetIssuanceByImpUID(f.ctx, to.ImpUID)
		require.NoError(f.t, err)
		requireIssuance(f.t, want, got)
		got.UserID, got.Status, got.ImpUID = "mallory", store.IssuancePending, "imp_other"
		again, err := f.s.GetIssuanceByImpUID(f.ctx, to.ImpUID)
		require.NoError(f.t, err)
		requireIssuance(f.t, want, again)

		// Failed settlements record their imp_uid too; issuances without one are not
		// found by "" and an unknown imp_uid finds nothing.
		failed := f.createIssuance(f.user())
		imp := f.impUID()
		_, err = f.s.SettleIssuance(f.ctx, failed.MerchantUID,
			&store.Issuance{Status: store.IssuanceFailed, ImpUID: imp, FailReason: "declined"}, nil)
		require.NoError(f.t, err)
		got, err = f.s.GetIssuanceByImpUID(f.ctx, imp)
		require.NoError(f.t, err)
		requireIssuance(f.t, f.getIssuance(failed.MerchantUID), got)
		f.createIssuance(f.user())
		for _, imp := range []string{"", f.impUID()} {
			_, err := f.s.GetIssuanceByImpUID(f.ctx, imp)
			require.ErrorIs(f.t, err, store.ErrNotFound, "imp_uid %q", imp)
		}
		// A charge's imp_uid is no issuance's.
		c := f.createCharge(f.charge(f.user()))
		f.drive(c.MerchantUID, store.ChargeCharging)
		chargeImp := f.impUID()
		_, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{Status: store.ChargePaid, ImpUID: chargeImp})
		require.NoError(f.t, err)
		_, err = f.s.GetIssuanceByImpUID(f.ctx, chargeImp)
		require.ErrorIs(f.t, err, store.ErrNotFound)
	})

	run(t, open, "ReturnsCopies", func(f *fixture) {
		is := f.issuance(f.user())
		want := cloneIssuance(is)
		require.NoError(f.t, f.s.CreateIssuance(f.ctx, is))
		is.UserID, is.Amount, is.Status = "mallory", 1, store.IssuanceIssued
		got := f.getIssuance(want.MerchantUID)
		requireIssuance(f.t, want, got)
		got.UserID, got.Amount = "mallory", 1
		requireIssuance(f.t, want, f.getIssuance(want.MerchantUID))
	})
}

// expireAll calls ExpirePendingIssuances until it returns nothing, checking every batch,
// and returns the rows it expired by merchant_uid. Rows of other tests sharing the
// database may be among them.
func expireAll(f *fixture, now time.Time, limit int) map[string]*store.Issuance {
	f.t.Helper()
	out := make(map[string]*store.Issuance)
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
			require.Equal(f.t, store.IssuanceExpired, is.Status)
			require.False(f.t, is.ExpiresAt.After(now), "expired an issuance before its ExpiresAt")
			out[is.MerchantUID] = is
		}
	}
	f.t.Fatal("ExpirePendingIssuances never ran out of rows")
	return nil
}
