package storetest

import (
	"cmp"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
)

func testSearch(t *testing.T, open opener) {
	run(t, open, "ChargePages", func(f *fixture) {
		user := f.user()
		statuses := []store.ChargeStatus{store.ChargePaid, store.ChargeFailed, store.ChargeCancelled, store.ChargePaid}
		var mine []*store.Charge
		for i := range 300 {
			c := f.charge(user)
			// Groups of three share an instant (the merchant_uid breaks the tie), and the
			// instants are stored out of order.
			c.CreatedAt = f.now.Add(-time.Duration((i*37)%300/3) * time.Minute)
			c.Status, c.ImpUID = statuses[i%len(statuses)], f.impUID()
			mine = append(mine, f.createCharge(c))
		}
		f.createCharge(f.charge(f.user())) // another user's
		slices.SortFunc(mine, func(a, b *store.Charge) int {
			return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.MerchantUID, a.MerchantUID))
		})
		walk := func(q store.ChargeQuery, keep func(*store.Charge) bool) {
			f.t.Helper()
			var want []string
			for _, c := range mine {
				if keep(c) {
					want = append(want, c.MerchantUID)
				}
			}
			got := f.walkCharges(q)
			require.Equal(f.t, want, got, "newest first, every charge once")
		}
		all := func(*store.Charge) bool { return true }
		walk(store.ChargeQuery{UserID: user, Limit: 37}, all)
		walk(store.ChargeQuery{UserID: user, Limit: 50}, all) // the last page is full
		walk(store.ChargeQuery{UserID: user, Limit: store.MaxPageLimit}, all)
		walk(store.ChargeQuery{UserID: user, Statuses: []store.ChargeStatus{store.ChargeFailed, store.ChargeCancelled}, Limit: 11},
			func(c *store.Charge) bool { return c.Status == store.ChargeFailed || c.Status == store.ChargeCancelled })
		from, to := f.now.Add(-60*time.Minute), f.now.Add(-20*time.Minute)
		inRange := func(c *store.Charge) bool { return !c.CreatedAt.Before(from) && c.CreatedAt.Before(to) }
		walk(store.ChargeQuery{UserID: user, From: from, To: to, Limit: 13}, inRange)
		walk(store.ChargeQuery{UserID: user, From: from, Limit: 40}, func(c *store.Charge) bool { return !c.CreatedAt.Before(from) })
		walk(store.ChargeQuery{UserID: user, To: to, Limit: 40}, func(c *store.Charge) bool { return c.CreatedAt.Before(to) })
		walk(store.ChargeQuery{UserID: user, From: from, To: to, Statuses: []store.ChargeStatus{store.ChargePaid}, Limit: 5},
			func(c *store.Charge) bool { return inRange(c) && c.Status == store.ChargePaid })
		one := mine[123]
		walk(store.ChargeQuery{MerchantUID: one.MerchantUID, Limit: 10}, func(c *store.Charge) bool { return c == one })
		walk(store.ChargeQuery{ImpUID: one.ImpUID, Limit: 10}, func(c *store.Charge) bool { return c == one })
		walk(store.ChargeQuery{UserID: f.user(), Limit: 10}, func(*store.Charge) bool { return false })

		for _, limit := range []int{0, -1, store.MaxPageLimit + 1} {
			_, err := f.s.SearchCharges(f.ctx, store.ChargeQuery{UserID: user, Limit: limit})
			require.Error(f.t, err, "limit %d", limit)
		}
		for _, bad := range []string{"!!", "bm90LWEtY3Vyc29y", store.Cursor{CreatedAt: f.now, ID: "a-b"}.String()} {
			_, err := store.ParseCursor(bad)
			require.ErrorIs(f.t, err, store.ErrBadCursor, bad)
		}
	})

	run(t, open, "Subscriptions", func(f *fixture) {
		var mine []*store.Subscription
		st := []store.SubscriptionStatus{store.SubscriptionActive, store.SubscriptionPastDue}
		for i := range 12 {
			sub := f.subscription(f.user())
			sub.CreatedAt = f.now.Add(-time.Duration((i*5)%12/2) * time.Minute)
			sub.Status = st[i%2]
			mine = append(mine, f.createSub(sub))
		}
		defer f.retireSubs(subIDs(mine)...)
		newest := func(a, b *store.Subscription) int {
			return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.ID, a.ID))
		}
		slices.SortFunc(mine, newest)
		for _, sub := range mine {
			p, err := f.s.SearchSubscriptions(f.ctx, store.SubscriptionQuery{UserID: sub.UserID, Limit: 5})
			require.NoError(f.t, err)
			require.Len(f.t, p.Subscriptions, 1)
			require.True(f.t, p.Next.IsZero())
			requireSubscription(f.t, sub, p.Subscriptions[0])
		}
		// Other tests' rows may share the status: the walk checks the order and finds
		// each of ours once.
		q := store.SubscriptionQuery{Statuses: []store.SubscriptionStatus{store.SubscriptionPastDue}, Limit: 4}
		var got []*store.Subscription
		for range 10000 {
			p, err := f.s.SearchSubscriptions(f.ctx, q)
			require.NoError(f.t, err)
			require.LessOrEqual(f.t, len(p.Subscriptions), q.Limit)
			got = append(got, p.Subscriptions...)
			if p.Next.IsZero() {
				break
			}
			q.After = reparse(f.t, p.Next)
		}
		require.True(f.t, slices.IsSortedFunc(got, newest), "newest first")
		var want, found []string
		for _, sub := range mine {
			if sub.Status == store.SubscriptionPastDue {
				want = append(want, sub.ID)
			}
		}
		for _, sub := range got {
			require.Equal(f.t, store.SubscriptionPastDue, sub.Status)
			if slices.Contains(want, sub.ID) {
				found = append(found, sub.ID)
			}
		}
		require.Equal(f.t, want, found)
		_, err := f.s.SearchSubscriptions(f.ctx, store.SubscriptionQuery{Limit: store.MaxPageLimit + 1})
		require.Error(f.t, err)
	})

	run(t, open, "OpenCharges", func(f *fixture) {
		// Older than any other test's charge, so that the oldest open one is ours.
		oldest := f.epoch.AddDate(-30, 0, 0)
		n0, _, err := f.s.OpenCharges(f.ctx)
		require.NoError(f.t, err)
		var uids []string
		for i, st := range []store.ChargeStatus{store.ChargePending, store.ChargeCharging, store.ChargeUnknown, store.ChargePaid, store.ChargeFailed} {
			c := f.charge(f.user())
			c.CreatedAt = oldest.Add(time.Duration(4-i) * time.Hour) // the paid and failed ones are the oldest
			c.Status = st
			uids = append(uids, f.createCharge(c).MerchantUID)
		}
		defer f.retire(uids...)
		n, at, err := f.s.OpenCharges(f.ctx)
		require.NoError(f.t, err)
		requireTime(f.t, "oldest open charge", oldest.Add(2*time.Hour), at)
		if f.clock != nil {
			require.GreaterOrEqual(f.t, n, n0+3, "pending, charging and unknown are open")
		}
		f.retire(uids...)
		_, at, err = f.s.OpenCharges(f.ctx)
		require.NoError(f.t, err)
		require.True(f.t, at.IsZero() || at.After(oldest.Add(2*time.Hour)), "settled charges are not open")
	})
}

// walkCharges pages through q to its end and returns the merchant_uids in order, checking
// that pages before the last are full and that no charge comes twice.
func (f *fixture) walkCharges(q store.ChargeQuery) []string {
	f.t.Helper()
	var got []string
	seen := map[string]bool{}
	for range 1000 {
		p, err := f.s.SearchCharges(f.ctx, q)
		require.NoError(f.t, err)
		require.LessOrEqual(f.t, len(p.Charges), q.Limit)
		for _, c := range p.Charges {
			require.False(f.t, seen[c.MerchantUID], "charge listed twice")
			seen[c.MerchantUID] = true
			got = append(got, c.MerchantUID)
		}
		if p.Next.IsZero() {
			return got
		}
		require.Len(f.t, p.Charges, q.Limit, "a page before the last is full")
		q.After = reparse(f.t, p.Next)
	}
	f.t.Fatal("SearchCharges never reached the last page")
	return nil
}

func subIDs(subs []*store.Subscription) []string {
	out := make([]string, len(subs))
	for i, s := range subs {
		out[i] = s.ID
	}
	return out
}
