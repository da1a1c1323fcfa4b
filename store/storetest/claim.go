package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
)

var (
	// active are the statuses a reconciler claims when their lease ran out or they hold none.
	active = []store.ChargeStatus{store.ChargePending, store.ChargeCharging, store.ChargeUnknown}
	// heldOnly are claimed only with a lease that ran out.
	heldOnly = []store.ChargeStatus{store.ChargeFailed}
)

func testClaims(t *testing.T, open opener) {
	run(t, open, "Select", func(f *fixture) {
		short, long := time.Minute, 10*time.Minute
		type row struct {
			status store.ChargeStatus
			lease  time.Duration // 0: none
			claim  bool
		}
		rows := map[string]row{
			"pending":                  {store.ChargePending, 0, true},
			"charging":                 {store.ChargeCharging, 0, true},
			"unknown":                  {store.ChargeUnknown, 0, true},
			"charging, lease ran out":  {store.ChargeCharging, short, true},
			"unknown, lease ran out":   {store.ChargeUnknown, short, true},
			"pending, lease holds":     {store.ChargePending, long, false},
			"charging, lease holds":    {store.ChargeCharging, long, false},
			"unknown, lease holds":     {store.ChargeUnknown, long, false},
			"failed":                   {store.ChargeFailed, 0, false},
			"failed, lease ran out":    {store.ChargeFailed, short, true},
			"failed, lease holds":      {store.ChargeFailed, long, false},
			"paid":                     {store.ChargePaid, 0, false},
			"paid, lease ran out":      {store.ChargePaid, short, false},
			"cancelled, lease ran out": {store.ChargeCancelled, short, false},
		}
		mine := map[string]*store.Charge{}
		for name, r := range rows {
			// The callers' clock is years away from the store's: it does not matter.
			mine[name] = f.heldCharge(r.status, f.lease(r.lease), f.now)
		}
		defer f.retireAll(mine)
		f.clock.advance(2 * short)

		req := store.ClaimRequest{Statuses: active, Held: heldOnly, Lease: f.lease(5 * time.Minute), Limit: 100}
		got := byUID(f.claimAll(req))
		for name, c := range mine {
			if !rows[name].claim {
				require.NotContains(f.t, got, c.MerchantUID, "%s was claimed", name)
				requireCharge(f.t, c, f.getCharge(c.MerchantUID))
				continue
			}
			require.Contains(f.t, got, c.MerchantUID, "%s was not claimed", name)
			want := cloneCharge(c)
			want.ClaimedBy, want.ClaimedUntil = req.Lease.Owner, f.until(req.Lease.For)
			requireCharge(f.t, want, got[c.MerchantUID]) // nothing else changed, UpdatedAt neither
			requireCharge(f.t, want, f.getCharge(c.MerchantUID))
		}

		// Held alone claims only held rows whose lease ran out; Statuses alone never a
		// failed row.
		f.clock.advance(req.Lease.For)
		got = byUID(f.claimAll(store.ClaimRequest{Held: heldOnly, Lease: f.lease(time.Minute), Limit: 100}))
		for name, c := range mine {
			want := name == "failed, lease ran out"
			require.Equal(f.t, want, got[c.MerchantUID] != nil, "%s claimed by Held alone", name)
		}
		f.clock.advance(time.Hour)
		got = byUID(f.claimAll(store.ClaimRequest{Statuses: active, Lease: f.lease(time.Minute), Limit: 100}))
		for name, c := range mine {
			want := slices.Contains(active, rows[name].status)
			require.Equal(f.t, want, got[c.MerchantUID] != nil, "%s claimed by Statuses alone", name)
		}
	})

	// The lease holds until the store's clock passes its end, and not a millisecond
	// less, whatever times the callers write (docs/guarantees.md, R4).
	run(t, open, "LeaseHoldsUntilStoreClock", func(f *fixture) {
		const lease = 5 * time.Minute
		first := f.lease(lease)
		var mine []*store.Charge
		for _, callers := range []time.Time{
			f.epoch.Add(-20 * 365 * 24 * time.Hour), // far behind the store's clock
			f.epoch,
			f.now, // years ahead of it
			time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC),
		} {
			mine = append(mine, f.heldCharge(store.ChargeCharging, first, callers))
		}
		uids := merchantUIDs(mine)
		defer f.retire(uids...)
		end := f.until(lease)

		for _, step := range []struct {
			advance time.Duration
			owner   string
		}{
			{0, f.next("owner")},
			{0, first.Owner}, // the holder itself does not get its row twice
			{time.Minute, f.next("owner")},
			{lease - time.Minute - time.Millisecond, f.next("owner")},
		} {
			f.clock.advance(step.advance)
			got := f.claimAll(store.ClaimRequest{Statuses: active, Lease: store.Lease{Owner: step.owner, For: time.Hour}, Limit: 100})
			requireNone(f, got, uids, "claimed %v before the lease ended", end.Sub(f.clock.Now()))
		}
		for _, c := range mine {
			requireCharge(f.t, c, f.getCharge(c.MerchantUID))
		}

		// At the lease's end the row is free (ClaimedUntil <= the store's clock).
		f.clock.advance(time.Millisecond)
		require.True(f.t, f.clock.Now().Equal(end))
		second := f.lease(3 * time.Minute)
		got := byUID(f.claimAll(store.ClaimRequest{Statuses: active, Lease: second, Limit: 100}))
		for _, c := range mine {
			require.Contains(f.t, got, c.MerchantUID, "not claimed when the lease ended")
			want := cloneCharge(c)
			want.ClaimedBy, want.ClaimedUntil = second.Owner, end.Add(second.For)
			requireCharge(f.t, want, got[c.MerchantUID])
		}

		// A claim's lease holds the same way.
		f.clock.advance(second.For - time.Millisecond)
		requireNone(f, f.claimAll(store.ClaimRequest{Statuses: active, Lease: f.lease(time.Minute), Limit: 100}),
			uids, "claimed while a claim held")
		f.clock.advance(time.Millisecond)
		third := f.lease(time.Minute)
		got = byUID(f.claimAll(store.ClaimRequest{Statuses: active, Lease: third, Limit: 100}))
		for _, c := range mine {
			require.Contains(f.t, got, c.MerchantUID)
			require.Equal(f.t, third.Owner, f.getCharge(c.MerchantUID).ClaimedBy)
		}
	})

	// UpdateCharge's Hold takes a fresh lease on the store's clock; other updates keep
	// the lease; ReleaseClaim clears it.
	run(t, open, "UpdateHold", func(f *fixture) {
		a := f.lease(5 * time.Minute)
		c := f.heldCharge(store.ChargeCharging, a, f.now)
		defer f.retire(c.MerchantUID)
		start := f.clock.Now()

		// An update without Hold keeps the lease, whatever At says.
		want := cloneCharge(c)
		want.FailReason, want.UpdatedAt = "lookup found nothing", f.now.Add(time.Hour)
		upd, err := f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{FailReason: want.FailReason, At: want.UpdatedAt})
		require.NoError(f.t, err)
		requireCharge(f.t, want, upd)

		// Four minutes in, the holder renews: the lease now ends 5 minutes later by the
		// store's clock, not by At.
		f.clock.advance(4 * time.Minute)
		renew := a
		upd, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{Status: store.ChargeUnknown, Hold: &renew, At: f.now.Add(-time.Hour)})
		require.NoError(f.t, err)
		want.Status, want.UpdatedAt, want.ClaimedUntil = store.ChargeUnknown, f.now.Add(-time.Hour), start.Add(9*time.Minute)
		requireCharge(f.t, want, upd)
		requireCharge(f.t, want, f.getCharge(c.MerchantUID))

		f.clock.advance(time.Minute) // the first lease would have ended now
		requireNone(f, f.claimAll(store.ClaimRequest{Statuses: active, Lease: f.lease(time.Minute), Limit: 100}),
			[]string{c.MerchantUID}, "claimed although the lease was renewed")
		f.clock.advance(4*time.Minute - time.Millisecond)
		requireNone(f, f.claimAll(store.ClaimRequest{Statuses: active, Lease: f.lease(time.Minute), Limit: 100}),
			[]string{c.MerchantUID}, "claimed although the lease was renewed")

		// Hold by another owner replaces the lease (the store does not check owners).
		b := f.lease(2 * time.Minute)
		upd, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{store.ChargeUnknown},
			store.ChargeUpdate{Status: store.ChargeCharging, AddAttempts: 1, Hold: &b})
		require.NoError(f.t, err)
		want.Status, want.Attempts, want.ClaimedBy, want.ClaimedUntil = store.ChargeCharging, 1, b.Owner, f.until(b.For)
		requireCharge(f.t, want, upd)

		// Hold and ReleaseClaim together: the lease is cleared.
		upd, err = f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{store.ChargeCharging},
			store.ChargeUpdate{Hold: &a, ReleaseClaim: true})
		require.NoError(f.t, err)
		want.ClaimedBy, want.ClaimedUntil = "", time.Time{}
		requireCharge(f.t, want, upd)
		requireCharge(f.t, want, f.getCharge(c.MerchantUID))
	})

	// A released row of Statuses is claimable at once; a released held row (a failure
	// that was confirmed) is never claimed again.
	run(t, open, "Release", func(f *fixture) {
		l := f.lease(time.Hour)
		charging := f.heldCharge(store.ChargeCharging, l, f.now)
		failed := f.heldCharge(store.ChargeFailed, l, f.now)
		other := f.heldCharge(store.ChargeUnknown, l, f.now)
		defer f.retire(charging.MerchantUID, failed.MerchantUID, other.MerchantUID)
		for _, c := range []*store.Charge{charging, failed} {
			upd, err := f.s.UpdateCharge(f.ctx, c.MerchantUID, []store.ChargeStatus{c.Status},
				store.ChargeUpdate{ReleaseClaim: true})
			require.NoError(f.t, err)
			want := cloneCharge(c)
			want.ClaimedBy, want.ClaimedUntil = "", time.Time{}
			requireCharge(f.t, want, upd)
		}
		claim := func() map[string]*store.Charge {
			return byUID(f.claimAll(store.ClaimRequest{Statuses: active, Held: heldOnly, Lease: f.lease(time.Minute), Limit: 100}))
		}
		got := claim()
		require.Contains(f.t, got, charging.MerchantUID)
		require.NotContains(f.t, got, failed.MerchantUID)
		require.NotContains(f.t, got, other.MerchantUID, "a lease that holds")
		f.clock.advance(2 * time.Hour)
		got = claim()
		require.Contains(f.t, got, charging.MerchantUID)
		require.Contains(f.t, got, other.MerchantUID)
		require.NotContains(f.t, got, failed.MerchantUID, "a released failure was claimed")
	})

	// A limited claim takes the rows whose lease ended first; a row that never held one
	// counts as the oldest.
	run(t, open, "OldestLeaseFirst", func(f *fixture) {
		var mine []*store.Charge
		for _, minutes := range []int{3, 1, 5, 0, 2, 4} { // creation order differs from lease order
			st := store.ChargeCharging
			if minutes%2 == 1 {
				st = store.ChargeFailed // held rows sort with the others
			}
			mine = append(mine, f.heldCharge(st, f.lease(time.Duration(minutes)*time.Minute), f.now))
		}
		uids := merchantUIDs(mine)
		defer f.retire(uids...)
		f.clock.advance(time.Hour)
		slices.SortFunc(mine, func(a, b *store.Charge) int { return a.ClaimedUntil.Compare(b.ClaimedUntil) })

		// One row at a time, so the order within a batch does not matter.
		var order []string
		for _, c := range f.claimAll(store.ClaimRequest{Statuses: active, Held: heldOnly, Lease: f.lease(time.Minute), Limit: 1}) {
			if slices.Contains(uids, c.MerchantUID) {
				order = append(order, c.MerchantUID)
			}
		}
		require.Equal(f.t, merchantUIDs(mine), order, "claimed out of lease order")
	})

	run(t, open, "NothingToClaim", func(f *fixture) {
		c := f.heldCharge(store.ChargeCharging, store.Lease{}, f.now)
		defer f.retire(c.MerchantUID)
		base := store.ClaimRequest{Statuses: active, Held: heldOnly, Lease: f.lease(time.Minute), Limit: 10}
		for _, tc := range []struct {
			name   string
			change func(*store.ClaimRequest)
			err    bool
		}{
			{"limit 0", func(r *store.ClaimRequest) { r.Limit = 0 }, false},
			{"limit -1", func(r *store.ClaimRequest) { r.Limit = -1 }, false},
			{"no statuses", func(r *store.ClaimRequest) { r.Statuses, r.Held = nil, nil }, false},
			{"no owner", func(r *store.ClaimRequest) { r.Lease.Owner = "" }, true},
			{"no lease", func(r *store.ClaimRequest) { r.Lease.For = 0 }, true},
			{"negative lease", func(r *store.ClaimRequest) { r.Lease.For = -time.Minute }, true},
		} {
			req := base
			tc.change(&req)
			got, err := f.s.ClaimCharges(f.ctx, req)
			if tc.err {
				require.Error(f.t, err, tc.name)
			} else {
				require.NoError(f.t, err, tc.name)
			}
			require.Empty(f.t, got, tc.name)
			requireCharge(f.t, c, f.getCharge(c.MerchantUID))
		}
	})
}

// heldCharge stores a charge whose callers' times are at callers (CreatedAt a minute
// before), holding lease (none when lease.For is 0), and moves it to status through
// legal transitions, which keep the lease.
func (f *fixture) heldCharge(status store.ChargeStatus, lease store.Lease, callers time.Time) *store.Charge {
	f.t.Helper()
	c := f.charge(f.user())
	c.CreatedAt, c.UpdatedAt = callers.Add(-time.Minute), callers
	f.createHeld(c, lease)
	return f.drive(c.MerchantUID, status)
}

func (f *fixture) retireAll(m map[string]*store.Charge) {
	for _, c := range m {
		f.retire(c.MerchantUID)
	}
}

// claimAll calls ClaimCharges with req until it returns nothing, checking every batch,
// and returns the claimed rows in the order received. Rows of other tests sharing the
// database may be among them.
func (f *fixture) claimAll(req store.ClaimRequest) []*store.Charge {
	f.t.Helper()
	var out []*store.Charge
	seen := map[string]bool{}
	for range 10000 {
		batch, err := f.s.ClaimCharges(f.ctx, req)
		require.NoError(f.t, err)
		require.LessOrEqual(f.t, len(batch), req.Limit)
		if len(batch) == 0 {
			return out
		}
		for _, c := range batch {
			require.NotNil(f.t, c)
			require.False(f.t, seen[c.MerchantUID], "row claimed twice while its lease held")
			seen[c.MerchantUID] = true
			require.True(f.t, slices.Contains(req.Statuses, c.Status) || slices.Contains(req.Held, c.Status),
				"claimed a %s row", c.Status)
			require.Equal(f.t, req.Lease.Owner, c.ClaimedBy)
			requireTime(f.t, "ClaimedUntil", f.until(req.Lease.For), c.ClaimedUntil)
			out = append(out, c)
		}
	}
	f.t.Fatal("ClaimCharges never ran out of rows")
	return nil
}

// requireNone checks that none of uids is among the claimed rows.
func requireNone(f *fixture, claimed []*store.Charge, uids []string, msg string, args ...any) {
	f.t.Helper()
	for _, c := range claimed {
		require.NotContainsf(f.t, uids, c.MerchantUID, msg, args...)
	}
}

func byUID(cs []*store.Charge) map[string]*store.Charge {
	m := make(map[string]*store.Charge, len(cs))
	for _, c := range cs {
		m[c.MerchantUID] = c
	}
	return m
}

func merchantUIDs(cs []*store.Charge) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.MerchantUID
	}
	return out
}
