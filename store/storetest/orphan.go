package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
)

// testOrphans covers the issuances that ended without a key (failed or expired): finding
// those whose key may be left at iamport, marking it removed, and purging them.
func testOrphans(t *testing.T, open opener) {
	run(t, open, "Find", func(f *fixture) {
		e := f.epoch
		failedOld := f.ended(store.IssuanceFailed, e.Add(-3*time.Hour))
		expiredOld := f.ended(store.IssuanceExpired, e.Add(-2*time.Hour))
		undated := f.ended(store.IssuanceFailed, time.Time{}) // the zero time is the oldest
		bound := f.ended(store.IssuanceFailed, e.Add(-time.Hour))
		removed := f.ended(store.IssuanceExpired, e.Add(-4*time.Hour))
		require.NoError(f.t, f.s.MarkKeyRemoved(f.ctx, removed.MerchantUID))
		notOrphans := map[string]*store.Issuance{
			"updated at the bound": f.ended(store.IssuanceFailed, e), // UpdatedAt < before is strict
			"recent":               f.ended(store.IssuanceExpired, e.Add(time.Hour)),
			"pending":              f.endedAs(store.IssuancePending, e.Add(-5*time.Hour)),
			"issued":               f.endedAs(store.IssuanceIssued, e.Add(-5*time.Hour)),
			"key removed":          f.getIssuance(removed.MerchantUID),
		}
		// bound's customer_uid became a user's billing key after all: never an orphan
		// while the key is that user's.
		holder := f.createIssuance(f.user())
		to, key := f.issued(holder, "BC")
		key.CustomerUID = bound.CustomerUID
		_, err := f.s.SettleIssuance(f.ctx, holder.MerchantUID, to, key)
		require.NoError(f.t, err)

		got := f.orphans(e)
		require.Equal(f.t, []string{undated.MerchantUID, failedOld.MerchantUID, expiredOld.MerchantUID},
			got.mine(f), "orphans, oldest first")
		for _, is := range []*store.Issuance{undated, failedOld, expiredOld} {
			requireIssuance(f.t, is, got.byUID[is.MerchantUID])
		}
		for name, is := range notOrphans {
			require.NotContains(f.t, got.byUID, is.MerchantUID, name)
			requireIssuance(f.t, is, f.getIssuance(is.MerchantUID))
		}

		// A limit takes the oldest; the query changes nothing.
		for _, limit := range []int{1, 2, 3, len(got.all)} {
			batch, err := f.s.OrphanIssuances(f.ctx, e, limit)
			require.NoError(f.t, err)
			require.Equal(f.t, got.all[:limit], issuanceUIDs(batch), "limit %d", limit)
		}
		for _, limit := range []int{0, -1} {
			batch, err := f.s.OrphanIssuances(f.ctx, e, limit)
			require.NoError(f.t, err)
			require.Empty(f.t, batch, "limit %d", limit)
		}

		// Once the holder's key is deleted, bound is an orphan like the others.
		require.NoError(f.t, f.s.DeleteBillingKey(f.ctx, key.UserID, key.CustomerUID))
		require.Equal(f.t, []string{undated.MerchantUID, failedOld.MerchantUID, expiredOld.MerchantUID, bound.MerchantUID},
			f.orphans(e).mine(f))

		// An issuance that expires by the sweep is an orphan from its expiry on.
		sweepAt := e.Add(-30 * time.Minute)
		late := f.issuance(f.user())
		late.CreatedAt, late.UpdatedAt, late.ExpiresAt = sweepAt.Add(-time.Hour), sweepAt.Add(-time.Hour), sweepAt
		require.NoError(f.t, f.s.CreateIssuance(f.ctx, late))
		require.NotContains(f.t, f.orphans(e).byUID, late.MerchantUID, "a pending issuance")
		require.Contains(f.t, expireAll(f, sweepAt, 100), late.MerchantUID)
		require.NotContains(f.t, f.orphans(sweepAt).byUID, late.MerchantUID, "expired at the bound")
		require.Contains(f.t, f.orphans(e).byUID, late.MerchantUID)
	})

	run(t, open, "MarkKeyRemoved", func(f *fixture) {
		for _, status := range []store.IssuanceStatus{store.IssuanceFailed, store.IssuanceExpired} {
			is := f.ended(status, f.epoch.Add(-time.Hour))
			require.NoError(f.t, f.s.MarkKeyRemoved(f.ctx, is.MerchantUID))
			want := cloneIssuance(is)
			want.KeyRemoved = true // and nothing else, UpdatedAt neither
			requireIssuance(f.t, want, f.getIssuance(is.MerchantUID))
			require.NoError(f.t, f.s.MarkKeyRemoved(f.ctx, is.MerchantUID), "marking twice")
			requireIssuance(f.t, want, f.getIssuance(is.MerchantUID))
			require.NotContains(f.t, f.orphans(f.epoch).byUID, is.MerchantUID)
		}
		for _, status := range []store.IssuanceStatus{store.IssuancePending, store.IssuanceIssued} {
			is := f.endedAs(status, f.epoch.Add(-time.Hour))
			require.ErrorIs(f.t, f.s.MarkKeyRemoved(f.ctx, is.MerchantUID), store.ErrConflict, "a %s issuance", status)
			requireIssuance(f.t, is, f.getIssuance(is.MerchantUID))
		}
		require.ErrorIs(f.t, f.s.MarkKeyRemoved(f.ctx, f.merchantUID()), store.ErrNotFound)
	})

	run(t, open, "Purge", func(f *fixture) {
		e := f.epoch
		removedAt := func(status store.IssuanceStatus, at time.Time) *store.Issuance {
			is := f.ended(status, at)
			require.NoError(f.t, f.s.MarkKeyRemoved(f.ctx, is.MerchantUID))
			return f.getIssuance(is.MerchantUID)
		}
		older := removedAt(store.IssuanceFailed, e.Add(-3*time.Hour))
		newer := removedAt(store.IssuanceExpired, e.Add(-2*time.Hour))
		undated := removedAt(store.IssuanceFailed, time.Time{})
		due := []*store.Issuance{undated, older, newer}
		kept := map[string]*store.Issuance{
			"removed at the bound": removedAt(store.IssuanceFailed, e), // UpdatedAt < before is strict
			"removed recently":     removedAt(store.IssuanceExpired, e.Add(time.Hour)),
			"key not removed":      f.ended(store.IssuanceFailed, e.Add(-3*time.Hour)),
			"pending":              f.endedAs(store.IssuancePending, e.Add(-3*time.Hour)),
			"issued":               f.endedAs(store.IssuanceIssued, e.Add(-3*time.Hour)),
		}
		for _, limit := range []int{0, -1} {
			n, err := f.s.PurgeIssuances(f.ctx, e, limit)
			require.NoError(f.t, err)
			require.Zero(f.t, n, "limit %d", limit)
		}
		for _, is := range due {
			requireIssuance(f.t, is, f.getIssuance(is.MerchantUID))
		}

		// One at a time, oldest first: when a row is gone, the younger ones are not.
		for i, is := range due {
			f.purgeUntilGone(e, 1, is)
			for _, younger := range due[i+1:] {
				requireIssuance(f.t, younger, f.getIssuance(younger.MerchantUID))
			}
		}
		for _, is := range kept {
			requireIssuance(f.t, is, f.getIssuance(is.MerchantUID))
		}

		// Gone by every key, and the identifiers are free again.
		for _, is := range due {
			_, err := f.s.GetIssuanceByCustomerUID(f.ctx, is.CustomerUID)
			require.ErrorIs(f.t, err, store.ErrNotFound)
			_, err = f.s.GetIssuanceByImpUID(f.ctx, is.ImpUID)
			require.ErrorIs(f.t, err, store.ErrNotFound)
		}
		again := f.issuance(f.user())
		again.MerchantUID, again.CustomerUID = older.MerchantUID, older.CustomerUID
		require.NoError(f.t, f.s.CreateIssuance(f.ctx, again), "the purged merchant_uid and customer_uid are free")
		_, err := f.s.GetIssuanceByImpUID(f.ctx, older.ImpUID)
		require.ErrorIs(f.t, err, store.ErrNotFound, "the purged imp_uid finds the issuance that took its merchant_uid")
		other := f.createIssuance(f.user())
		to, key := f.issued(other, "BC")
		to.ImpUID = older.ImpUID
		_, err = f.s.SettleIssuance(f.ctx, other.MerchantUID, to, key)
		require.NoError(f.t, err, "the purged imp_uid is free")
		got, err := f.s.GetIssuanceByImpUID(f.ctx, older.ImpUID)
		require.NoError(f.t, err)
		require.Equal(f.t, other.MerchantUID, got.MerchantUID)

		// A larger limit purges several at once and counts them.
		batch := []*store.Issuance{
			removedAt(store.IssuanceFailed, e.Add(-10*time.Hour)),
			removedAt(store.IssuanceExpired, e.Add(-9*time.Hour)),
		}
		n, err := f.s.PurgeIssuances(f.ctx, e, 1000)
		require.NoError(f.t, err)
		require.GreaterOrEqual(f.t, n, len(batch))
		for _, is := range batch {
			_, err := f.s.GetIssuance(f.ctx, is.MerchantUID)
			require.ErrorIs(f.t, err, store.ErrNotFound)
		}
		for _, is := range kept {
			requireIssuance(f.t, is, f.getIssuance(is.MerchantUID))
		}
	})
}

// ended stores an issuance that ended as status (failed or expired) with UpdatedAt at,
// carrying an imp_uid, and returns it as stored.
func (f *fixture) ended(status store.IssuanceStatus, at time.Time) *store.Issuance {
	f.t.Helper()
	is := f.issuance(f.user())
	is.CreatedAt, is.UpdatedAt = time.Time{}, time.Time{}
	if !at.IsZero() {
		is.CreatedAt, is.UpdatedAt = at.Add(-time.Minute), at.Add(-time.Minute)
	}
	require.NoError(f.t, f.s.CreateIssuance(f.ctx, is))
	_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID,
		&store.Issuance{Status: status, ImpUID: f.impUID(), FailReason: "window closed", UpdatedAt: at}, nil)
	require.NoError(f.t, err)
	return f.getIssuance(is.MerchantUID)
}

// endedAs stores an issuance left in status with UpdatedAt at: pending (never settled)
// or issued (with a billing key), and returns it as stored.
func (f *fixture) endedAs(status store.IssuanceStatus, at time.Time) *store.Issuance {
	f.t.Helper()
	is := f.issuance(f.user())
	is.CreatedAt, is.UpdatedAt, is.ExpiresAt = at, at, at
	require.NoError(f.t, f.s.CreateIssuance(f.ctx, is))
	if status == store.IssuanceIssued {
		to, key := f.issued(is, "BC")
		to.UpdatedAt = at
		_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
		require.NoError(f.t, err)
	}
	got := f.getIssuance(is.MerchantUID)
	require.Equal(f.t, status, got.Status)
	return got
}

// orphanList is what OrphanIssuances returned with a limit large enough for all.
type orphanList struct {
	all   []string // merchant_uids in the order returned
	byUID map[string]*store.Issuance
}

// mine returns the fixture's own merchant_uids in the order returned.
func (l orphanList) mine(f *fixture) []string {
	var out []string
	for _, mu := range l.all {
		if len(mu) > 2+len(f.prefix) && mu[2:2+len(f.prefix)] == f.prefix {
			out = append(out, mu)
		}
	}
	return out
}

// orphans returns every orphan issuance before before, checking each. Rows of other
// tests sharing the database may be among them.
func (f *fixture) orphans(before time.Time) orphanList {
	f.t.Helper()
	const limit = 100000
	batch, err := f.s.OrphanIssuances(f.ctx, before, limit)
	require.NoError(f.t, err)
	require.Less(f.t, len(batch), limit, "too many orphans to tell")
	l := orphanList{byUID: make(map[string]*store.Issuance, len(batch))}
	for i, is := range batch {
		require.NotNil(f.t, is)
		require.Contains(f.t, []store.IssuanceStatus{store.IssuanceFailed, store.IssuanceExpired}, is.Status)
		require.False(f.t, is.KeyRemoved)
		require.True(f.t, is.UpdatedAt.Before(before), "an orphan updated at %v", is.UpdatedAt)
		if i > 0 {
			require.False(f.t, is.UpdatedAt.Before(batch[i-1].UpdatedAt), "orphans not oldest first")
		}
		require.NotContains(f.t, l.byUID, is.MerchantUID, "listed twice")
		l.byUID[is.MerchantUID] = is
		l.all = append(l.all, is.MerchantUID)
	}
	return l
}

// purgeUntilGone purges with limit until is is gone, each call deleting at most limit.
func (f *fixture) purgeUntilGone(before time.Time, limit int, is *store.Issuance) {
	f.t.Helper()
	for range 10000 {
		n, err := f.s.PurgeIssuances(f.ctx, before, limit)
		require.NoError(f.t, err)
		require.LessOrEqual(f.t, n, limit)
		_, err = f.s.GetIssuance(f.ctx, is.MerchantUID)
		if err != nil {
			require.ErrorIs(f.t, err, store.ErrNotFound)
			return
		}
		require.NotZero(f.t, n, "nothing purged while a due issuance is left")
	}
	f.t.Fatal("PurgeIssuances never purged the issuance")
}

func issuanceUIDs(is []*store.Issuance) []string {
	out := make([]string, len(is))
	for i, x := range is {
		out[i] = x.MerchantUID
	}
	return out
}
