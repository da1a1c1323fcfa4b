package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
)

// Run runs the conformance suite against the store newStore returns. newStore is called
// once per subtest with the clock the subtest moves, and the store it returns must
// measure leases on that clock (memstore.WithClock, sqlstore.WithClock). It must return
// an empty store or one whose leftover data came from other subtests or earlier runs
// (every subtest uses fresh random ids); it may register cleanups on the *testing.T it
// gets. Run includes the concurrency cases with every goroutine on one Store value;
// RunConcurrentInstances spreads them over several.
func Run(t *testing.T, newStore func(t *testing.T, clock func() time.Time) store.Store) {
	t.Helper()
	if newStore == nil {
		t.Fatal("storetest: newStore is nil")
	}
	open := func(t *testing.T, c *clock) store.Store { return newStore(t, c.Now) }
	t.Run("Issuance", func(t *testing.T) { testIssuances(t, open) })
	t.Run("Orphan", func(t *testing.T) { testOrphans(t, open) })
	t.Run("BillingKey", func(t *testing.T) { testBillingKeys(t, open) })
	t.Run("Charge", func(t *testing.T) { testCharges(t, open) })
	t.Run("KeyedCharge", func(t *testing.T) { testKeyedCharges(t, open) })
	t.Run("Claim", func(t *testing.T) { testClaims(t, open) })
	t.Run("Subscription", func(t *testing.T) { testSubscriptions(t, open) })
	t.Run("SubscriptionClaim", func(t *testing.T) { testSubscriptionClaims(t, open) })
	t.Run("ChargeHistory", func(t *testing.T) { testChargeHistory(t, open) })
	t.Run("Refund", func(t *testing.T) { testRefunds(t, open) })
	t.Run("Inbox", func(t *testing.T) { testInbox(t, open) })
	t.Run("Search", func(t *testing.T) { testSearch(t, open) })
	t.Run("Concurrent", func(t *testing.T) {
		testRaces(t, func(t *testing.T, c *clock) []store.Store { return []store.Store{open(t, c)} }, true)
	})
}

// RunConcurrentInstances runs the concurrency cases of the suite (idempotent charge and
// subscription creation, compare-and-set on charges, issuances and subscriptions, imp_uid
// and slot uniqueness under races, charge and subscription claims) with the goroutines spread round-robin over stores, which must all be
// backed by one database: it stands for several processes sharing it (for PostgreSQL,
// one Store per *sql.DB handle; an in-memory store can pass the same Store several
// times). The stores keep their own clock (the database's, for a shared database), which
// the suite does not move. Each case uses fresh random ids, so the database may hold
// other data.
func RunConcurrentInstances(t *testing.T, stores []store.Store) {
	t.Helper()
	if len(stores) == 0 {
		t.Fatal("storetest: no stores")
	}
	for i, s := range stores {
		if s == nil {
			t.Fatalf("storetest: stores[%d] is nil", i)
		}
	}
	testRaces(t, func(*testing.T, *clock) []store.Store { return stores }, false)
}

// opener returns the store of one subtest, measuring leases on c.
type opener func(t *testing.T, c *clock) store.Store

// fixture is one subtest's view: a store, a context, the store's clock and generators
// of unique ids.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	s      store.Store
	prefix string
	seq    atomic.Int64
	// now is the present, in UTC and whole milliseconds: the callers' clock.
	now time.Time
	// epoch is an instant in 2001..2010, random per fixture, used for the operations
	// that sweep the whole store (expiry, orphans, purges) so that they pass over
	// present-day data. The store's clock starts there.
	epoch time.Time
	// clock is the store's clock, which the subtest moves; nil when the stores keep
	// their own (RunConcurrentInstances).
	clock *clock
}

// newEpoch returns an instant in 2001..2010 in whole milliseconds, random per call.
func newEpoch() time.Time {
	base := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	span := int64(10 * 365 * 24 * time.Hour / time.Millisecond)
	return base.Add(time.Duration(mrand.Int64N(span)) * time.Millisecond)
}

func newFixture(t *testing.T, s store.Store, epoch time.Time, c *clock) *fixture {
	t.Helper()
	require.NotNil(t, s, "newStore returned nil")
	var b [5]byte
	_, _ = rand.Read(b[:])
	return &fixture{
		t:      t,
		ctx:    t.Context(),
		s:      s,
		prefix: hex.EncodeToString(b[:]),
		now:    time.Now().UTC().Truncate(time.Millisecond),
		epoch:  epoch,
		clock:  c,
	}
}

// run runs fn as a subtest with a fresh store, fixture and clock.
func run(t *testing.T, open opener, name string, fn func(f *fixture)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		epoch := newEpoch()
		c := newClock(epoch)
		fn(newFixture(t, open(t, c), epoch, c))
	})
}

// next returns a fixture-unique alphanumeric id: kind, the fixture prefix and a counter
// (fixed width, so ids of one kind sort in creation order). At most 2+10+8 characters.
func (f *fixture) next(kind string) string {
	return fmt.Sprintf("%s%s%08d", kind, f.prefix, f.seq.Add(1))
}

func (f *fixture) merchantUID() string { return f.next("mu") }
func (f *fixture) user() string        { return f.next("user") }
func (f *fixture) idemKey() string     { return f.next("idem") }
func (f *fixture) impUID() string      { return "imp_" + f.next("") }

// customerUID returns 128 random bits, hex encoded, as core generates them.
func (f *fixture) customerUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "cu" + hex.EncodeToString(b[:])
}

// issuance returns a pending issuance for user that expires in 30 minutes.
func (f *fixture) issuance(user string) *store.Issuance {
	return &store.Issuance{
		MerchantUID: f.merchantUID(),
		CustomerUID: f.customerUID(),
		UserID:      user,
		PlanID:      "basic-monthly",
		Amount:      9900,
		Status:      store.IssuancePending,
		CreatedAt:   f.now,
		ExpiresAt:   f.now.Add(30 * time.Minute),
		UpdatedAt:   f.now,
	}
}

// createIssuance stores a pending issuance for user and returns it.
func (f *fixture) createIssuance(user string) *store.Issuance {
	f.t.Helper()
	is := f.issuance(user)
	require.NoError(f.t, f.s.CreateIssuance(f.ctx, is))
	return is
}

// issued returns the settlement of is to issued and the billing key it brings.
func (f *fixture) issued(is *store.Issuance, cardName string) (*store.Issuance, *store.BillingKey) {
	at := f.now.Add(time.Second)
	to := &store.Issuance{
		Status:     store.IssuanceIssued,
		ImpUID:     f.impUID(),
		CardName:   cardName,
		CardNumber: "536570******1234",
		UpdatedAt:  at,
	}
	key := &store.BillingKey{
		UserID:              is.UserID,
		CustomerUID:         is.CustomerUID,
		IssuanceMerchantUID: is.MerchantUID,
		CardName:            cardName,
		CardNumber:          "536570******1234",
		PGProvider:          "kcp_billing",
		IssuedAt:            at,
	}
	return to, key
}

// giveKey issues a billing key to user through a new issuance and returns the key.
func (f *fixture) giveKey(user, cardName string) *store.BillingKey {
	f.t.Helper()
	is := f.createIssuance(user)
	to, key := f.issued(is, cardName)
	_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
	require.NoError(f.t, err)
	return key
}

// charge returns a pending charge for user with a fresh merchant_uid and idempotency key,
// paying for a subscription's period, so that every case sees those fields kept.
func (f *fixture) charge(user string) *store.Charge {
	return &store.Charge{
		MerchantUID:    f.merchantUID(),
		UserID:         user,
		IdempotencyKey: f.idemKey(),
		CustomerUID:    f.customerUID(),
		PlanID:         "basic-monthly",
		Name:           "Basic monthly",
		Amount:         9900,
		Status:         store.ChargePending,
		SubscriptionID: f.next("sub"),
		Period:         3,
		CreatedAt:      f.now,
		UpdatedAt:      f.now,
	}
}

// createCharge stores c, which must be new, holding no lease.
func (f *fixture) createCharge(c *store.Charge) *store.Charge {
	f.t.Helper()
	return f.createHeld(c, store.Lease{})
}

// createHeld stores c, which must be new, holding lease (none when lease.For is 0),
// and checks the stored row: c as given, with the lease on the store's clock.
func (f *fixture) createHeld(c *store.Charge, lease store.Lease) *store.Charge {
	f.t.Helper()
	stored, created, err := f.s.CreateCharge(f.ctx, cloneCharge(c), lease)
	require.NoError(f.t, err)
	require.True(f.t, created, "CreateCharge: created")
	want := cloneCharge(c)
	want.ClaimedBy, want.ClaimedUntil = "", time.Time{}
	want.Notes = store.AppendNote(nil, c.Notes...) // every store cuts and bounds them alike
	if lease.For > 0 {
		want.ClaimedBy = lease.Owner
		if f.clock == nil {
			// The stores keep their own clock: the lease's end is theirs to say.
			require.False(f.t, stored.ClaimedUntil.IsZero(), "CreateCharge: no lease")
			want.ClaimedUntil = stored.ClaimedUntil
		} else {
			want.ClaimedUntil = f.until(lease.For)
		}
	}
	requireCharge(f.t, want, stored)
	return stored
}

// until is the end of a lease for d taken now, by the store's clock.
func (f *fixture) until(d time.Duration) time.Time {
	f.t.Helper()
	require.NotNil(f.t, f.clock, "the suite does not control these stores' clock")
	return f.clock.Now().Add(d)
}

// lease returns a lease for d of a fresh owner.
func (f *fixture) lease(d time.Duration) store.Lease {
	return store.Lease{Owner: f.next("owner"), For: d}
}

// getCharge loads a charge that must exist.
func (f *fixture) getCharge(merchantUID string) *store.Charge {
	f.t.Helper()
	c, err := f.s.GetCharge(f.ctx, merchantUID)
	require.NoError(f.t, err)
	require.NotNil(f.t, c)
	return c
}

// getIssuance loads an issuance that must exist.
func (f *fixture) getIssuance(merchantUID string) *store.Issuance {
	f.t.Helper()
	is, err := f.s.GetIssuance(f.ctx, merchantUID)
	require.NoError(f.t, err)
	require.NotNil(f.t, is)
	return is
}

// move applies one status change by compare-and-set and returns the updated charge.
func (f *fixture) move(merchantUID string, from, to store.ChargeStatus) *store.Charge {
	f.t.Helper()
	c, err := f.s.UpdateCharge(f.ctx, merchantUID, []store.ChargeStatus{from}, store.ChargeUpdate{Status: to})
	require.NoError(f.t, err, "UpdateCharge %s -> %s", from, to)
	require.Equal(f.t, to, c.Status)
	return c
}

// paths from a new (pending) charge to each status, through legal transitions.
var pathTo = map[store.ChargeStatus][]store.ChargeStatus{
	store.ChargePending:   nil,
	store.ChargeCharging:  {store.ChargeCharging},
	store.ChargeUnknown:   {store.ChargeCharging, store.ChargeUnknown},
	store.ChargePaid:      {store.ChargeCharging, store.ChargePaid},
	store.ChargeFailed:    {store.ChargeCharging, store.ChargeFailed},
	store.ChargeCancelled: {store.ChargeCharging, store.ChargePaid, store.ChargeCancelled},
}

// drive moves a pending charge to status through legal transitions.
func (f *fixture) drive(merchantUID string, status store.ChargeStatus) *store.Charge {
	f.t.Helper()
	cur := store.ChargePending
	c := f.getCharge(merchantUID)
	require.Equal(f.t, cur, c.Status)
	for _, next := range pathTo[status] {
		c = f.move(merchantUID, cur, next)
		cur = next
	}
	return c
}

// retire moves charges of a claim test to a final state and releases their leases, so
// that a database kept between runs does not collect claimable rows.
func (f *fixture) retire(merchantUIDs ...string) {
	f.t.Helper()
	ctx := context.WithoutCancel(f.ctx)
	for _, mu := range merchantUIDs {
		_, _ = f.s.UpdateCharge(ctx, mu, []store.ChargeStatus{store.ChargePending},
			store.ChargeUpdate{Status: store.ChargeCharging})
		_, err := f.s.UpdateCharge(ctx, mu, []store.ChargeStatus{store.ChargeCharging, store.ChargeUnknown},
			store.ChargeUpdate{Status: store.ChargePaid, ReleaseClaim: true})
		if err != nil {
			_, _ = f.s.UpdateCharge(ctx, mu, []store.ChargeStatus{store.ChargePaid, store.ChargeFailed, store.ChargeCancelled},
				store.ChargeUpdate{ReleaseClaim: true})
		}
	}
}

// requireTime checks that got is the instant want, in UTC; a zero want needs a zero got.
func requireTime(t *testing.T, field string, want, got time.Time) {
	t.Helper()
	if want.IsZero() {
		require.Truef(t, got.IsZero(), "%s: want the zero time, got %v", field, got)
		return
	}
	require.Truef(t, want.Equal(got), "%s: want %v, got %v", field, want.UTC(), got)
	require.Equalf(t, time.UTC, got.Location(), "%s: location", field)
}

// requireIssuance checks that got equals want field by field, times as instants.
func requireIssuance(t *testing.T, want, got *store.Issuance) {
	t.Helper()
	require.NotNil(t, got)
	requireTime(t, "Issuance.CreatedAt", want.CreatedAt, got.CreatedAt)
	requireTime(t, "Issuance.ExpiresAt", want.ExpiresAt, got.ExpiresAt)
	requireTime(t, "Issuance.UpdatedAt", want.UpdatedAt, got.UpdatedAt)
	w, g := *want, *got
	w.CreatedAt, w.ExpiresAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}
	g.CreatedAt, g.ExpiresAt, g.UpdatedAt = time.Time{}, time.Time{}, time.Time{}
	require.Equal(t, w, g)
}

// requireKey checks that got equals want field by field, times as instants.
func requireKey(t *testing.T, want, got *store.BillingKey) {
	t.Helper()
	require.NotNil(t, got)
	requireTime(t, "BillingKey.IssuedAt", want.IssuedAt, got.IssuedAt)
	w, g := *want, *got
	w.IssuedAt, g.IssuedAt = time.Time{}, time.Time{}
	require.Equal(t, w, g)
}

// requireCharge checks that got equals want field by field, times as instants.
func requireCharge(t *testing.T, want, got *store.Charge) {
	t.Helper()
	require.NotNil(t, got)
	requireTime(t, "Charge.CreatedAt", want.CreatedAt, got.CreatedAt)
	requireTime(t, "Charge.UpdatedAt", want.UpdatedAt, got.UpdatedAt)
	requireTime(t, "Charge.PaidAt", want.PaidAt, got.PaidAt)
	requireTime(t, "Charge.ClaimedUntil", want.ClaimedUntil, got.ClaimedUntil)
	requireNotes(t, want.Notes, got.Notes)
	w, g := *want, *got
	w.CreatedAt, w.UpdatedAt, w.PaidAt, w.ClaimedUntil = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	g.CreatedAt, g.UpdatedAt, g.PaidAt, g.ClaimedUntil = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	w.Notes, g.Notes = nil, nil
	require.Equal(t, w, g)
}

// requireNotes checks that got holds want's notes in order, times as instants (no notes
// and an empty slice are alike).
func requireNotes(t *testing.T, want, got []store.Note) {
	t.Helper()
	require.Len(t, got, len(want), "Charge.Notes")
	for i := range want {
		requireTime(t, fmt.Sprintf("Charge.Notes[%d].At", i), want[i].At, got[i].At)
		require.Equal(t, want[i].Text, got[i].Text, "Charge.Notes[%d].Text", i)
	}
}

// cloneIssuance and cloneCharge copy a record (a charge's notes too).
func cloneIssuance(is *store.Issuance) *store.Issuance { c := *is; return &c }
func cloneCharge(ch *store.Charge) *store.Charge {
	c := *ch
	c.Notes = slices.Clone(ch.Notes)
	return &c
}
