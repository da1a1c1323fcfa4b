package storetest

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
)

var reconcilable = []core.ChargeStatus{core.ChargeCharging, core.ChargeUnknown}

func testClaims(t *testing.T, newStore func(*testing.T) core.Store) {
	run(t, newStore, "Select", func(f *fixture) {
		e := f.epoch
		mine := map[string]*core.Charge{}
		add := func(name string, status core.ChargeStatus, updatedAt time.Time) {
			mine[name] = f.staleCharge(status, updatedAt)
		}
		add("charging", core.ChargeCharging, e.Add(-3*time.Hour))
		add("unknown", core.ChargeUnknown, e.Add(-2*time.Hour))
		add("pending", core.ChargePending, e.Add(-time.Hour))
		add("paid", core.ChargePaid, e.Add(-4*time.Hour))
		add("failed", core.ChargeFailed, e.Add(-5*time.Hour))
		add("cancelled", core.ChargeCancelled, e.Add(-6*time.Hour))
		add("updated at the bound", core.ChargeCharging, e) // UpdatedAt < UpdatedBefore is strict
		add("recent", core.ChargeCharging, e.Add(time.Hour))
		defer f.retireAll(mine)

		req := core.ClaimRequest{Owner: f.next("owner"), Statuses: reconcilable,
			UpdatedBefore: e, Now: e, Lease: 5 * time.Minute, Limit: 100}
		got := byUID(claimAll(f, req))
		for name, c := range mine {
			if name == "charging" || name == "unknown" {
				require.Contains(f.t, got, c.MerchantUID, "%s was not claimed", name)
				want := cloneCharge(c)
				want.ClaimedBy, want.ClaimedUntil = req.Owner, e.Add(req.Lease)
				requireCharge(f.t, want, got[c.MerchantUID]) // UpdatedAt unchanged by the claim
				requireCharge(f.t, want, f.getCharge(c.MerchantUID))
				continue
			}
			require.NotContains(f.t, got, c.MerchantUID, "%s was claimed", name)
			requireCharge(f.t, c, f.getCharge(c.MerchantUID))
		}

		// pending rows (a crash before `again`) are claimable when asked for.
		req.Owner, req.Statuses = f.next("owner"), []core.ChargeStatus{core.ChargePending}
		got = byUID(claimAll(f, req))
		require.Contains(f.t, got, mine["pending"].MerchantUID)
		for name, c := range mine {
			if name != "pending" {
				require.NotContains(f.t, got, c.MerchantUID, "%s was claimed", name)
			}
		}
	})

	run(t, newStore, "Lease", func(f *fixture) {
		e := f.epoch
		lease := 5 * time.Minute
		a := f.staleCharge(core.ChargeCharging, e.Add(-time.Hour))
		b := f.staleCharge(core.ChargeUnknown, e.Add(-time.Hour+time.Millisecond))
		defer f.retire(a.MerchantUID, b.MerchantUID)
		claim := func(owner string, now time.Time) map[string]*core.Charge {
			return byUID(claimAll(f, core.ClaimRequest{Owner: owner, Statuses: reconcilable,
				UpdatedBefore: e, Now: now, Lease: lease, Limit: 10}))
		}
		one, two, three := f.next("owner"), f.next("owner"), f.next("owner")

		got := claim(one, e)
		require.Contains(f.t, got, a.MerchantUID)
		require.Contains(f.t, got, b.MerchantUID)

		for _, tc := range []struct {
			owner string
			now   time.Time
		}{{two, e}, {two, e.Add(lease - time.Millisecond)}, {one, e.Add(time.Minute)}} {
			got = claim(tc.owner, tc.now)
			require.NotContains(f.t, got, a.MerchantUID, "claimed again before the lease ended")
			require.NotContains(f.t, got, b.MerchantUID, "claimed again before the lease ended")
			require.Equal(f.t, one, f.getCharge(a.MerchantUID).ClaimedBy)
		}

		// At the lease end the claim is free (ClaimedUntil <= Now).
		got = claim(two, e.Add(lease))
		require.Contains(f.t, got, a.MerchantUID)
		require.Contains(f.t, got, b.MerchantUID)
		held := f.getCharge(a.MerchantUID)
		require.Equal(f.t, two, held.ClaimedBy)
		requireTime(f.t, "ClaimedUntil", e.Add(2*lease), held.ClaimedUntil)

		// An update keeps the claim unless it releases it.
		want := cloneCharge(held)
		want.FailReason = "lookup found nothing"
		upd, err := f.s.UpdateCharge(f.ctx, a.MerchantUID, []core.ChargeStatus{core.ChargeCharging},
			core.ChargeUpdate{FailReason: want.FailReason})
		require.NoError(f.t, err)
		requireCharge(f.t, want, upd)
		upd, err = f.s.UpdateCharge(f.ctx, a.MerchantUID, []core.ChargeStatus{core.ChargeCharging},
			core.ChargeUpdate{ReleaseClaim: true})
		require.NoError(f.t, err)
		want.ClaimedBy, want.ClaimedUntil = "", time.Time{}
		requireCharge(f.t, want, upd)
		requireCharge(f.t, want, f.getCharge(a.MerchantUID))

		// Released: claimable at once, while b's claim still holds.
		got = claim(three, e.Add(lease))
		require.Contains(f.t, got, a.MerchantUID)
		require.NotContains(f.t, got, b.MerchantUID)
		require.Equal(f.t, three, f.getCharge(a.MerchantUID).ClaimedBy)
		require.Equal(f.t, two, f.getCharge(b.MerchantUID).ClaimedBy)
	})

	run(t, newStore, "OldestFirst", func(f *fixture) {
		e := f.epoch
		var mine []*core.Charge
		for _, i := range []int{3, 0, 5, 1, 4, 2, 2} { // creation order differs from age; one tie
			mine = append(mine, f.staleCharge(core.ChargeCharging, e.Add(-time.Hour+time.Duration(i)*time.Second)))
		}
		uids := make([]string, len(mine))
		for i, c := range mine {
			uids[i] = c.MerchantUID
		}
		defer f.retire(uids...)
		slices.SortFunc(mine, compareAge)

		got := claimAll(f, core.ClaimRequest{Owner: f.next("owner"), Statuses: reconcilable,
			UpdatedBefore: e, Now: e, Lease: time.Minute, Limit: 2})
		var order []string
		for _, c := range got {
			if slices.Contains(uids, c.MerchantUID) {
				order = append(order, c.MerchantUID)
			}
		}
		want := make([]string, len(mine))
		for i, c := range mine {
			want[i] = c.MerchantUID
		}
		require.Equal(f.t, want, order, "claimed out of age order")
	})

	run(t, newStore, "NothingToClaim", func(f *fixture) {
		e := f.epoch
		c := f.staleCharge(core.ChargeCharging, e.Add(-time.Hour))
		defer f.retire(c.MerchantUID)
		base := core.ClaimRequest{Owner: f.next("owner"), Statuses: reconcilable,
			UpdatedBefore: e, Now: e, Lease: time.Minute, Limit: 10}
		for _, tc := range []struct {
			name   string
			change func(*core.ClaimRequest)
		}{
			{"limit 0", func(r *core.ClaimRequest) { r.Limit = 0 }},
			{"limit -1", func(r *core.ClaimRequest) { r.Limit = -1 }},
			{"no statuses", func(r *core.ClaimRequest) { r.Statuses = nil }},
		} {
			req := base
			tc.change(&req)
			got, err := f.s.ClaimCharges(f.ctx, req)
			require.NoError(f.t, err, tc.name)
			require.Empty(f.t, got, tc.name)
			requireCharge(f.t, c, f.getCharge(c.MerchantUID))
		}
		req := base
		req.Owner = ""
		_, err := f.s.ClaimCharges(f.ctx, req)
		require.Error(f.t, err, "a claim without owner")
		requireCharge(f.t, c, f.getCharge(c.MerchantUID))
	})
}

// staleCharge stores a charge with UpdatedAt updatedAt (CreatedAt a minute before) and
// moves it to status through legal transitions, leaving UpdatedAt as it is.
func (f *fixture) staleCharge(status core.ChargeStatus, updatedAt time.Time) *core.Charge {
	f.t.Helper()
	c := f.charge(f.user())
	c.CreatedAt, c.UpdatedAt = updatedAt.Add(-time.Minute), updatedAt
	f.createCharge(c)
	return f.drive(c.MerchantUID, status)
}

func (f *fixture) retireAll(m map[string]*core.Charge) {
	for _, c := range m {
		f.retire(c.MerchantUID)
	}
}

// compareAge orders charges as ClaimCharges hands them out: oldest UpdatedAt first, ties
// by merchant_uid.
func compareAge(a, b *core.Charge) int {
	return cmp.Or(a.UpdatedAt.Compare(b.UpdatedAt), cmp.Compare(a.MerchantUID, b.MerchantUID))
}

// claimAll calls ClaimCharges with req until it returns nothing, checking every batch,
// and returns the claimed rows in the order received. Rows of other tests sharing the
// database may be among them.
func claimAll(f *fixture, req core.ClaimRequest) []*core.Charge {
	f.t.Helper()
	var out []*core.Charge
	seen := map[string]bool{}
	for range 10000 {
		batch, err := f.s.ClaimCharges(f.ctx, req)
		require.NoError(f.t, err)
		require.LessOrEqual(f.t, len(batch), req.Limit)
		if len(batch) == 0 {
			return out
		}
		require.True(f.t, slices.IsSortedFunc(batch, compareAge), "a batch is not oldest first")
		for _, c := range batch {
			require.NotNil(f.t, c)
			require.False(f.t, seen[c.MerchantUID], "row claimed twice while its claim held")
			seen[c.MerchantUID] = true
			require.Contains(f.t, req.Statuses, c.Status)
			require.True(f.t, c.UpdatedAt.Before(req.UpdatedBefore), "claimed a row updated at %v", c.UpdatedAt)
			require.Equal(f.t, req.Owner, c.ClaimedBy)
			requireTime(f.t, "ClaimedUntil", req.Now.Add(req.Lease), c.ClaimedUntil)
			out = append(out, c)
		}
	}
	f.t.Fatal("ClaimCharges never ran out of rows")
	return nil
}

func byUID(cs []*core.Charge) map[string]*core.Charge {
	m := make(map[string]*core.Charge, len(cs))
	for _, c := range cs {
		m[c.MerchantUID] = c
	}
	return m
}
