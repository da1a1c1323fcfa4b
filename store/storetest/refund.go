package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
)

// pendingRefunds are the statuses a reconciler claims refunds in.
var pendingRefunds = []store.RefundStatus{store.RefundSending, store.RefundUnknown}

func testRefunds(t *testing.T, open opener) {
	run(t, open, "CreateAndGet", func(f *fixture) {
		mu := f.merchantUID()
		r := f.refund(mu)
		lease := f.lease(time.Minute)
		stored, created, err := f.s.CreateRefund(f.ctx, cloneRefund(r), lease)
		require.NoError(f.t, err)
		require.True(f.t, created)
		want := cloneRefund(r)
		want.ClaimedBy, want.ClaimedUntil = lease.Owner, f.until(lease.For)
		requireRefund(f.t, want, stored)
		requireRefund(f.t, want, f.getRefund(r.ID))
		defer f.retireRefunds(r.ID)

		// The same request again returns the first refund and stores nothing.
		again := f.refund(mu)
		again.IdempotencyKey, again.Amount = r.IdempotencyKey, 1
		got, created, err := f.s.CreateRefund(f.ctx, again, f.lease(time.Hour))
		require.NoError(f.t, err)
		require.False(f.t, created)
		requireRefund(f.t, want, got)
		_, err = f.s.GetRefund(f.ctx, again.ID)
		require.ErrorIs(f.t, err, store.ErrNotFound)

		// The key is unique per charge only; an id is unique everywhere.
		other := f.refund(f.merchantUID())
		other.IdempotencyKey = r.IdempotencyKey
		got, created, err = f.s.CreateRefund(f.ctx, cloneRefund(other), store.Lease{})
		require.NoError(f.t, err)
		require.True(f.t, created, "another charge's refund under the same key")
		requireRefund(f.t, other, got)
		dup := f.refund(f.merchantUID())
		dup.ID = r.ID
		_, _, err = f.s.CreateRefund(f.ctx, dup, store.Lease{})
		require.ErrorIs(f.t, err, store.ErrDuplicate)
		requireRefund(f.t, want, f.getRefund(r.ID))

		_, err = f.s.GetRefund(f.ctx, f.next("rf"))
		require.ErrorIs(f.t, err, store.ErrNotFound)
	})

	run(t, open, "ListOldestFirst", func(f *fixture) {
		mu := f.merchantUID()
		var want []*store.Refund
		for _, minutes := range []int{3, 1, 4, 0, 2} { // stored out of time order
			r := f.refund(mu)
			r.CreatedAt = f.now.Add(time.Duration(minutes) * time.Minute)
			f.createRefund(r, store.Lease{})
			want = append(want, r)
		}
		f.createRefund(f.refund(f.merchantUID()), store.Lease{}) // another charge's
		slices.SortFunc(want, func(a, b *store.Refund) int { return a.CreatedAt.Compare(b.CreatedAt) })
		got, err := f.s.ListRefunds(f.ctx, mu)
		require.NoError(f.t, err)
		require.Len(f.t, got, len(want))
		for i := range want {
			requireRefund(f.t, want[i], got[i])
		}
		none, err := f.s.ListRefunds(f.ctx, f.merchantUID())
		require.NoError(f.t, err)
		require.Empty(f.t, none)
	})

	run(t, open, "UpdateCompareAndSet", func(f *fixture) {
		r := f.refund(f.merchantUID())
		want := f.createRefund(r, f.lease(time.Minute))
		defer f.retireRefunds(r.ID)
		t1 := f.now.Add(time.Second)
		hold := f.lease(time.Hour)
		got, err := f.s.UpdateRefund(f.ctx, r.ID, []store.RefundStatus{store.RefundSending},
			store.RefundUpdate{Status: store.RefundUnknown, FailReason: "timeout", At: t1, Hold: &hold})
		require.NoError(f.t, err)
		want.Status, want.FailReason, want.UpdatedAt = store.RefundUnknown, "timeout", t1
		want.ClaimedBy, want.ClaimedUntil = hold.Owner, f.until(hold.For)
		requireRefund(f.t, want, got)
		requireRefund(f.t, want, f.getRefund(r.ID))

		// A miss changes nothing and says so.
		_, err = f.s.UpdateRefund(f.ctx, r.ID, []store.RefundStatus{store.RefundSending, store.RefundFailed},
			store.RefundUpdate{Status: store.RefundSucceeded, FailReason: "never", At: t1.Add(time.Hour), ReleaseClaim: true})
		require.ErrorIs(f.t, err, store.ErrConflict)
		requireRefund(f.t, want, f.getRefund(r.ID))
		_, err = f.s.UpdateRefund(f.ctx, f.next("rf"), pendingRefunds, store.RefundUpdate{Status: store.RefundFailed})
		require.ErrorIs(f.t, err, store.ErrNotFound)

		// Empty fields are kept; ReleaseClaim drops the lease.
		got, err = f.s.UpdateRefund(f.ctx, r.ID, []store.RefundStatus{store.RefundUnknown},
			store.RefundUpdate{Status: store.RefundSucceeded, ReleaseClaim: true})
		require.NoError(f.t, err)
		want.Status, want.ClaimedBy, want.ClaimedUntil = store.RefundSucceeded, "", time.Time{}
		requireRefund(f.t, want, got)
		requireRefund(f.t, want, f.getRefund(r.ID))
	})

	run(t, open, "Claim", func(f *fixture) {
		short, long := time.Minute, time.Hour
		type row struct {
			status store.RefundStatus
			lease  time.Duration
			claim  bool
		}
		rows := map[string]row{
			"sending":                  {store.RefundSending, 0, true},
			"sending, lease ran out":   {store.RefundSending, short, true},
			"unknown, lease ran out":   {store.RefundUnknown, short, true},
			"sending, lease holds":     {store.RefundSending, long, false},
			"unknown, lease holds":     {store.RefundUnknown, long, false},
			"succeeded":                {store.RefundSucceeded, 0, false},
			"failed, lease ran out":    {store.RefundFailed, short, false},
			"succeeded, lease ran out": {store.RefundSucceeded, short, false},
		}
		mine := map[string]*store.Refund{}
		var ids []string
		for name, r := range rows {
			mine[name] = f.heldRefund(r.status, r.lease)
			ids = append(ids, mine[name].ID)
		}
		defer f.retireRefunds(ids...)
		f.clock.advance(2 * short)

		lease := f.lease(5 * time.Minute)
		got := f.claimRefunds(pendingRefunds, lease, 3)
		for name, r := range mine {
			c, ok := got[r.ID]
			require.Equal(f.t, rows[name].claim, ok, "%s claimed", name)
			if !ok {
				requireRefund(f.t, r, f.getRefund(r.ID))
				continue
			}
			want := cloneRefund(r)
			want.ClaimedBy, want.ClaimedUntil = lease.Owner, f.until(lease.For)
			requireRefund(f.t, want, c)
			requireRefund(f.t, want, f.getRefund(r.ID))
		}
		// Claimed rows are held now; only the statuses asked for are taken.
		for id := range f.claimRefunds(pendingRefunds, f.lease(time.Minute), 10) {
			require.NotContains(f.t, ids, id, "a refund claimed while its lease held")
		}
		f.clock.advance(time.Hour)
		got = f.claimRefunds([]store.RefundStatus{store.RefundUnknown}, f.lease(time.Minute), 10)
		for name, r := range mine {
			_, ok := got[r.ID]
			want := rows[name].status == store.RefundUnknown
			require.Equal(f.t, want, ok, "%s claimed as unknown", name)
		}

		// Bad requests claim nothing.
		none, err := f.s.ClaimRefunds(f.ctx, pendingRefunds, f.lease(time.Minute), 0)
		require.NoError(f.t, err)
		require.Empty(f.t, none)
		none, err = f.s.ClaimRefunds(f.ctx, nil, f.lease(time.Minute), 10)
		require.NoError(f.t, err)
		require.Empty(f.t, none)
		_, err = f.s.ClaimRefunds(f.ctx, pendingRefunds, store.Lease{For: time.Minute}, 10)
		require.Error(f.t, err, "no owner")
		_, err = f.s.ClaimRefunds(f.ctx, pendingRefunds, store.Lease{Owner: "x"}, 10)
		require.Error(f.t, err, "no lease")
	})

	run(t, open, "ClaimOldestLeaseFirst", func(f *fixture) {
		var mine []*store.Refund
		for _, minutes := range []int{3, 1, 5, 0, 2, 4} {
			mine = append(mine, f.heldRefund(store.RefundSending, time.Duration(minutes)*time.Minute))
		}
		ids := refundIDs(mine)
		defer f.retireRefunds(ids...)
		f.clock.advance(time.Hour)
		slices.SortFunc(mine, func(a, b *store.Refund) int { return a.ClaimedUntil.Compare(b.ClaimedUntil) })
		var order []string
		for range 1000 {
			batch, err := f.s.ClaimRefunds(f.ctx, pendingRefunds, f.lease(time.Minute), 1)
			require.NoError(f.t, err)
			require.LessOrEqual(f.t, len(batch), 1)
			if len(batch) == 0 {
				break
			}
			if slices.Contains(ids, batch[0].ID) {
				order = append(order, batch[0].ID)
			}
		}
		require.Equal(f.t, refundIDs(mine), order, "claimed out of lease order")
	})

	// Many claimers at once: each claimable refund goes to exactly one of them.
	run(t, open, "ClaimRace", func(f *fixture) {
		const rows, workers = 60, 20
		var ids []string
		for i := range rows {
			st := store.RefundSending
			if i%2 == 1 {
				st = store.RefundUnknown
			}
			ids = append(ids, f.heldRefund(st, time.Minute).ID)
		}
		held := f.heldRefund(store.RefundSending, 2*time.Hour).ID
		defer f.retireRefunds(append(ids, held)...)
		f.clock.advance(time.Minute)
		claimed := make([][]string, workers)
		errs := make([]error, workers)
		together(workers, func(w int) {
			owner := fmt.Sprintf("%sw%d", f.prefix, w)
			for range 1000 {
				batch, err := f.s.ClaimRefunds(f.ctx, pendingRefunds, store.Lease{Owner: owner, For: time.Hour}, 2)
				if err != nil || len(batch) == 0 {
					errs[w] = err
					return
				}
				if len(batch) > 2 {
					errs[w] = fmt.Errorf("batch of %d, limit 2", len(batch))
					return
				}
				for _, r := range batch {
					if r.ClaimedBy != owner {
						errs[w] = fmt.Errorf("refund %s claimed for %q", r.ID, r.ClaimedBy)
						return
					}
					claimed[w] = append(claimed[w], r.ID)
				}
			}
			errs[w] = fmt.Errorf("ClaimRefunds never ran out of rows")
		})
		count := map[string]int{}
		for w := range workers {
			require.NoError(f.t, errs[w], "worker %d", w)
			for _, id := range claimed[w] {
				count[id]++
				require.Equal(f.t, 1, count[id], "refund claimed twice")
			}
		}
		for _, id := range ids {
			require.Equal(f.t, 1, count[id], "a claimable refund was never claimed")
		}
		require.Zero(f.t, count[held], "a refund claimed while its lease held")
	})
}

// refund returns a refund of charge mu being sent, with fresh ids.
func (f *fixture) refund(mu string) *store.Refund {
	return &store.Refund{
		ID:             f.next("rf"),
		MerchantUID:    mu,
		UserID:         f.user(),
		IdempotencyKey: f.idemKey(),
		Amount:         3000,
		Checksum:       9900,
		Reason:         "환불 요청",
		Operator:       "admin@example.com",
		Status:         store.RefundSending,
		CreatedAt:      f.now,
		UpdatedAt:      f.now,
	}
}

// createRefund stores r, which must be new, holding lease, and checks the stored row.
func (f *fixture) createRefund(r *store.Refund, lease store.Lease) *store.Refund {
	f.t.Helper()
	stored, created, err := f.s.CreateRefund(f.ctx, cloneRefund(r), lease)
	require.NoError(f.t, err)
	require.True(f.t, created, "CreateRefund: created")
	want := cloneRefund(r)
	want.ClaimedBy, want.ClaimedUntil = "", time.Time{}
	if lease.For > 0 {
		want.ClaimedBy, want.ClaimedUntil = lease.Owner, f.until(lease.For)
	}
	requireRefund(f.t, want, stored)
	return stored
}

// heldRefund stores a refund in status holding a lease for d (none when 0).
func (f *fixture) heldRefund(status store.RefundStatus, d time.Duration) *store.Refund {
	f.t.Helper()
	r := f.refund(f.merchantUID())
	r.Status = status
	lease := store.Lease{}
	if d > 0 {
		lease = f.lease(d)
	}
	return f.createRefund(r, lease)
}

func (f *fixture) getRefund(id string) *store.Refund {
	f.t.Helper()
	r, err := f.s.GetRefund(f.ctx, id)
	require.NoError(f.t, err)
	return r
}

// claimRefunds claims once and returns the batch by id, checking it.
func (f *fixture) claimRefunds(statuses []store.RefundStatus, lease store.Lease, limit int) map[string]*store.Refund {
	f.t.Helper()
	out := map[string]*store.Refund{}
	for range 1000 {
		batch, err := f.s.ClaimRefunds(f.ctx, statuses, lease, limit)
		require.NoError(f.t, err)
		require.LessOrEqual(f.t, len(batch), limit)
		if len(batch) == 0 {
			return out
		}
		for _, r := range batch {
			require.NotContains(f.t, out, r.ID, "refund claimed twice while its lease held")
			require.Contains(f.t, statuses, r.Status)
			require.Equal(f.t, lease.Owner, r.ClaimedBy)
			out[r.ID] = r
		}
	}
	f.t.Fatal("ClaimRefunds never ran out of rows")
	return nil
}

// retireRefunds settles a test's refunds and drops their leases, so that a database kept
// between runs does not collect claimable rows.
func (f *fixture) retireRefunds(ids ...string) {
	ctx := context.WithoutCancel(f.ctx)
	for _, id := range ids {
		_, _ = f.s.UpdateRefund(ctx, id, pendingRefunds, store.RefundUpdate{Status: store.RefundFailed, ReleaseClaim: true})
	}
}

func refundIDs(rs []*store.Refund) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.ID
	}
	return out
}

// requireRefund checks that got equals want field by field, times as instants.
func requireRefund(t *testing.T, want, got *store.Refund) {
	t.Helper()
	require.NotNil(t, got)
	requireTime(t, "Refund.CreatedAt", want.CreatedAt, got.CreatedAt)
	requireTime(t, "Refund.UpdatedAt", want.UpdatedAt, got.UpdatedAt)
	requireTime(t, "Refund.ClaimedUntil", want.ClaimedUntil, got.ClaimedUntil)
	w, g := *want, *got
	w.CreatedAt, w.UpdatedAt, w.ClaimedUntil = time.Time{}, time.Time{}, time.Time{}
	g.CreatedAt, g.UpdatedAt, g.ClaimedUntil = time.Time{}, time.Time{}, time.Time{}
	require.Equal(t, w, g)
}

func cloneRefund(r *store.Refund) *store.Refund { c := *r; return &c }
