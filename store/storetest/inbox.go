package storetest

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
)

func testInbox(t *testing.T, open opener) {
	run(t, open, "RecordDedupes", func(f *fixture) {
		e := f.notification(f.merchantUID(), f.now)
		stored, created, err := f.s.RecordNotification(f.ctx, cloneEntry(e))
		require.NoError(f.t, err)
		require.True(f.t, created)
		want := cloneEntry(e)
		want.LastAt, want.Count = e.ReceivedAt, 1
		requireEntry(f.t, want, stored)
		requireEntry(f.t, want, f.getNotification(e.ID))

		// A copy under the same key counts; the entry keeps its id and first arrival.
		later := f.now.Add(3 * time.Second)
		cp := f.notification(f.merchantUID(), later)
		cp.Key, cp.Source = e.Key, "10.0.0.9"
		got, created, err := f.s.RecordNotification(f.ctx, cp)
		require.NoError(f.t, err)
		require.False(f.t, created)
		want.Count, want.LastAt = 2, later
		requireEntry(f.t, want, got)
		requireEntry(f.t, want, f.getNotification(e.ID))
		_, err = f.s.GetNotification(f.ctx, cp.ID)
		require.ErrorIs(f.t, err, store.ErrNotFound)

		// A copy that arrived earlier but is recorded last counts and leaves LastAt alone.
		early := f.notification(f.merchantUID(), f.now.Add(time.Second))
		early.Key = e.Key
		got, created, err = f.s.RecordNotification(f.ctx, early)
		require.NoError(f.t, err)
		require.False(f.t, created)
		want.Count = 3
		requireEntry(f.t, want, got)

		// An id taken under another key is a duplicate.
		dup := f.notification(f.merchantUID(), f.now)
		dup.ID = e.ID
		_, _, err = f.s.RecordNotification(f.ctx, dup)
		require.ErrorIs(f.t, err, store.ErrDuplicate)
		requireEntry(f.t, want, f.getNotification(e.ID))
	})

	run(t, open, "Result", func(f *fixture) {
		e := f.recordNotification(f.notification(f.merchantUID(), f.now))
		at := f.now.Add(time.Second)
		got, err := f.s.SetNotificationResult(f.ctx, e.ID, store.InboxFailed, "charge not found", at)
		require.NoError(f.t, err)
		e.Result, e.Error, e.AppliedAt = store.InboxFailed, "charge not found", at
		requireEntry(f.t, e, got)
		at = at.Add(time.Second)
		got, err = f.s.SetNotificationResult(f.ctx, e.ID, store.InboxApplied, "", at)
		require.NoError(f.t, err)
		e.Result, e.Error, e.AppliedAt = store.InboxApplied, "", at
		requireEntry(f.t, e, got)
		requireEntry(f.t, e, f.getNotification(e.ID))
		_, err = f.s.SetNotificationResult(f.ctx, f.next("nt"), store.InboxApplied, "", at)
		require.ErrorIs(f.t, err, store.ErrNotFound)
		_, err = f.s.GetNotification(f.ctx, f.next("nt"))
		require.ErrorIs(f.t, err, store.ErrNotFound)
	})

	run(t, open, "ListPages", func(f *fixture) {
		mu, imp := f.merchantUID(), f.impUID()
		var mine []*store.InboxEntry
		for i := range 40 {
			// Groups of three arrive at the same instant: the id breaks the tie.
			e := f.notification(mu, f.now.Add(time.Duration((i*7)%40/3)*time.Second))
			if i%4 == 0 {
				e.ImpUID = imp
			}
			if i%5 == 0 {
				e.Result = store.InboxFailed
			}
			mine = append(mine, f.recordNotification(e))
		}
		f.recordNotification(f.notification(f.merchantUID(), f.now)) // another charge's
		slices.SortFunc(mine, func(a, b *store.InboxEntry) int {
			return cmp.Or(b.ReceivedAt.Compare(a.ReceivedAt), cmp.Compare(b.ID, a.ID))
		})
		walk := func(q store.InboxQuery, keep func(*store.InboxEntry) bool) {
			var want []string
			for _, e := range mine {
				if keep(e) {
					want = append(want, e.ID)
				}
			}
			var got []string
			for range 100 {
				p, err := f.s.ListNotifications(f.ctx, q)
				require.NoError(f.t, err)
				require.LessOrEqual(f.t, len(p.Entries), q.Limit)
				for _, e := range p.Entries {
					got = append(got, e.ID)
				}
				if p.Next.IsZero() {
					break
				}
				require.Len(f.t, p.Entries, q.Limit, "a page before the last is full")
				q.After = reparse(f.t, p.Next)
			}
			require.Equal(f.t, want, got, "newest first, every entry once")
		}
		all := func(*store.InboxEntry) bool { return true }
		walk(store.InboxQuery{MerchantUID: mu, Limit: 7}, all)
		walk(store.InboxQuery{MerchantUID: mu, Limit: 8}, all) // the last page is full
		walk(store.InboxQuery{MerchantUID: mu, Limit: store.MaxPageLimit}, all)
		walk(store.InboxQuery{ImpUID: imp, Limit: 3}, func(e *store.InboxEntry) bool { return e.ImpUID == imp })
		walk(store.InboxQuery{MerchantUID: mu, Results: []string{store.InboxFailed}, Limit: 2},
			func(e *store.InboxEntry) bool { return e.Result == store.InboxFailed })
		for _, limit := range []int{0, -1, store.MaxPageLimit + 1} {
			_, err := f.s.ListNotifications(f.ctx, store.InboxQuery{MerchantUID: mu, Limit: limit})
			require.Error(f.t, err, "limit %d", limit)
		}
	})

	run(t, open, "Purge", func(f *fixture) {
		// Before every present-day entry, so that the purges pass over other tests' rows.
		old := f.epoch.AddDate(-20, 0, 0)
		var gone []*store.InboxEntry
		for i := range 5 {
			gone = append(gone, f.recordNotification(f.notification(f.merchantUID(), old.Add(time.Duration(i)*time.Second))))
		}
		// An entry first received long ago whose latest copy is recent stays.
		kept := f.recordNotification(f.notification(f.merchantUID(), old))
		cp := f.notification(f.merchantUID(), old.Add(time.Hour))
		cp.Key = kept.Key
		_, _, err := f.s.RecordNotification(f.ctx, cp)
		require.NoError(f.t, err)
		after := f.recordNotification(f.notification(f.merchantUID(), old.Add(time.Minute)))
		cut := old.Add(time.Minute)

		n, err := f.s.PurgeNotifications(f.ctx, cut, 2)
		require.NoError(f.t, err)
		require.Equal(f.t, 2, n, "bounded by the limit")
		for range 100 {
			n, err = f.s.PurgeNotifications(f.ctx, cut, 2)
			require.NoError(f.t, err)
			require.LessOrEqual(f.t, n, 2)
			if n == 0 {
				break
			}
		}
		for _, e := range gone {
			_, err := f.s.GetNotification(f.ctx, e.ID)
			require.ErrorIs(f.t, err, store.ErrNotFound)
		}
		require.Equal(f.t, 2, f.getNotification(kept.ID).Count)
		f.getNotification(after.ID) // LastAt == before is not before
		n, err = f.s.PurgeNotifications(f.ctx, cut, 0)
		require.NoError(f.t, err)
		require.Zero(f.t, n)
	})
}

// notification returns a new entry about charge mu received at at.
func (f *fixture) notification(mu string, at time.Time) *store.InboxEntry {
	return &store.InboxEntry{
		ID:          f.next("nt"),
		Key:         f.next("key"),
		ReceivedAt:  at,
		Source:      "52.78.100.19",
		ContentType: "application/json",
		ImpUID:      f.impUID(),
		MerchantUID: mu,
		Status:      "paid",
		Result:      store.InboxReceived,
	}
}

// recordNotification stores e, which must be new, and returns it as stored.
func (f *fixture) recordNotification(e *store.InboxEntry) *store.InboxEntry {
	f.t.Helper()
	stored, created, err := f.s.RecordNotification(f.ctx, cloneEntry(e))
	require.NoError(f.t, err)
	require.True(f.t, created)
	want := cloneEntry(e)
	want.LastAt, want.Count = e.ReceivedAt, 1
	requireEntry(f.t, want, stored)
	return stored
}

func (f *fixture) getNotification(id string) *store.InboxEntry {
	f.t.Helper()
	e, err := f.s.GetNotification(f.ctx, id)
	require.NoError(f.t, err)
	return e
}

// reparse sends a cursor through its token, as a caller paging over HTTP does.
func reparse(t *testing.T, c store.Cursor) store.Cursor {
	t.Helper()
	p, err := store.ParseCursor(c.String())
	require.NoError(t, err)
	return p
}

// requireEntry checks that got equals want field by field, times as instants.
func requireEntry(t *testing.T, want, got *store.InboxEntry) {
	t.Helper()
	require.NotNil(t, got)
	requireTime(t, "InboxEntry.ReceivedAt", want.ReceivedAt, got.ReceivedAt)
	requireTime(t, "InboxEntry.LastAt", want.LastAt, got.LastAt)
	requireTime(t, "InboxEntry.AppliedAt", want.AppliedAt, got.AppliedAt)
	w, g := *want, *got
	w.ReceivedAt, w.LastAt, w.AppliedAt = time.Time{}, time.Time{}, time.Time{}
	g.ReceivedAt, g.LastAt, g.AppliedAt = time.Time{}, time.Time{}, time.Time{}
	require.Equal(t, w, g)
}

func cloneEntry(e *store.InboxEntry) *store.InboxEntry { c := *e; return &c }
