package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
)

// Run runs the conformance suite against the store newStore returns. newStore is called
// once per subtest and must return an empty store or one whose leftover data came from
// other subtests or earlier runs (every subtest uses fresh random ids); it may register
// cleanups on the *testing.T it gets. Run includes the concurrency cases with every
// goroutine on one Store value; RunConcurrentInstances spreads them over several.
func Run(t *testing.T, newStore func(t *testing.T) core.Store) {
	t.Helper()
	if newStore == nil {
		t.Fatal("storetest: newStore is nil")
	}
	t.Run("Issuance", func(t *testing.T) { testIssuances(t, newStore) })
	t.Run("BillingKey", func(t *testing.T) { testBillingKeys(t, newStore) })
	t.Run("Charge", func(t *testing.T) { testCharges(t, newStore) })
	t.Run("Claim", func(t *testing.T) { testClaims(t, newStore) })
	t.Run("Concurrent", func(t *testing.T) {
		testRaces(t, func(t *testing.T) []core.Store { return []core.Store{newStore(t)} })
	})
}

// RunConcurrentInstances runs the concurrency cases of the suite (idempotent charge
// creation, compare-and-set on charges and issuances, imp_uid uniqueness under races,
// row claims) with the goroutines spread round-robin over stores, which must all be
// backed by one database: it stands for several processes sharing it (for PostgreSQL,
// one Store per *sql.DB handle; an in-memory store can pass the same Store several
// times). Each case uses fresh random ids, so the database may hold other data.
func RunConcurrentInstances(t *testing.T, stores []core.Store) {
	t.Helper()
	if len(stores) == 0 {
		t.Fatal("storetest: no stores")
	}
	for i, s := range stores {
		if s == nil {
			t.Fatalf("storetest: stores[%d] is nil", i)
		}
	}
	testRaces(t, func(*testing.T) []core.Store { return stores })
}

// fixture is one subtest's view: a store, a context and generators of unique ids.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	s      core.Store
	prefix string
	seq    atomic.Int64
	// now is the present, in UTC and whole milliseconds.
	now time.Time
	// epoch is an instant in 2001..2010, random per fixture, used for the operations
	// that sweep the whole store (expiry, claims) so that they pass over present-day data.
	epoch time.Time
}

func newFixture(t *testing.T, s core.Store) *fixture {
	t.Helper()
	require.NotNil(t, s, "newStore returned nil")
	var b [5]byte
	_, _ = rand.Read(b[:])
	base := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	span := int64(10 * 365 * 24 * time.Hour / time.Millisecond)
	return &fixture{
		t:      t,
		ctx:    t.Context(),
		s:      s,
		prefix: hex.EncodeToString(b[:]),
		now:    time.Now().UTC().Truncate(time.Millisecond),
		epoch:  base.Add(time.Duration(mrand.Int64N(span)) * time.Millisecond),
	}
}

// run runs fn as a subtest with a fresh store and fixture.
func run(t *testing.T, newStore func(*testing.T) core.Store, name string, fn func(f *fixture)) {
	t.Helper()
	t.Run(name, func(t *testing.T) { fn(newFixture(t, newStore(t))) })
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
func (f *fixture) issuance(user string) *core.Issuance {
	return &core.Issuance{
		MerchantUID: f.merchantUID(),
		CustomerUID: f.customerUID(),
		UserID:      user,
		PlanID:      "basic-monthly",
		Amount:      9900,
		Status:      core.IssuancePending,
		CreatedAt:   f.now,
		ExpiresAt:   f.now.Add(30 * time.Minute),
		UpdatedAt:   f.now,
	}
}

// createIssuance stores a pending issuance for user and returns it.
func (f *fixture) createIssuance(user string) *core.Issuance {
	f.t.Helper()
	is := f.issuance(user)
	require.NoError(f.t, f.s.CreateIssuance(f.ctx, is))
	return is
}

// issued returns the settlement of is to issued and the billing key it brings.
func (f *fixture) issued(is *core.Issuance, cardName string) (*core.Issuance, *core.BillingKey) {
	at := f.now.Add(time.Second)
	to := &core.Issuance{
		Status:     core.IssuanceIssued,
		ImpUID:     f.impUID(),
		CardName:   cardName,
		CardNumber: "536570******1234",
		UpdatedAt:  at,
	}
	key := &core.BillingKey{
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
func (f *fixture) giveKey(user, cardName string) *core.BillingKey {
	f.t.Helper()
	is := f.createIssuance(user)
	to, key := f.issued(is, cardName)
	_, err := f.s.SettleIssuance(f.ctx, is.MerchantUID, to, key)
	require.NoError(f.t, err)
	return key
}

// charge returns a pending charge for user with a fresh merchant_uid and idempotency key.
func (f *fixture) charge(user string) *core.Charge {
	return &core.Charge{
		MerchantUID:    f.merchantUID(),
		UserID:         user,
		IdempotencyKey: f.idemKey(),
		CustomerUID:    f.customerUID(),
		PlanID:         "basic-monthly",
		Name:           "Basic monthly",
		Amount:         9900,
		Status:         core.ChargePending,
		CreatedAt:      f.now,
		UpdatedAt:      f.now,
	}
}

// createCharge stores c, which must be new.
func (f *fixture) createCharge(c *core.Charge) *core.Charge {
	f.t.Helper()
	stored, created, err := f.s.CreateCharge(f.ctx, c)
	require.NoError(f.t, err)
	require.True(f.t, created, "CreateCharge: created")
	requireCharge(f.t, c, stored)
	return stored
}

// getCharge loads a charge that must exist.
func (f *fixture) getCharge(merchantUID string) *core.Charge {
	f.t.Helper()
	c, err := f.s.GetCharge(f.ctx, merchantUID)
	require.NoError(f.t, err)
	require.NotNil(f.t, c)
	return c
}

// getIssuance loads an issuance that must exist.
func (f *fixture) getIssuance(merchantUID string) *core.Issuance {
	f.t.Helper()
	is, err := f.s.GetIssuance(f.ctx, merchantUID)
	require.NoError(f.t, err)
	require.NotNil(f.t, is)
	return is
}

// move applies one status change by compare-and-set and returns the updated charge.
func (f *fixture) move(merchantUID string, from, to core.ChargeStatus) *core.Charge {
	f.t.Helper()
	c, err := f.s.UpdateCharge(f.ctx, merchantUID, []core.ChargeStatus{from}, core.ChargeUpdate{Status: to})
	require.NoError(f.t, err, "UpdateCharge %s -> %s", from, to)
	require.Equal(f.t, to, c.Status)
	return c
}

// paths from a new (pending) charge to each status, through legal transitions.
var pathTo = map[core.ChargeStatus][]core.ChargeStatus{
	core.ChargePending:   nil,
	core.ChargeCharging:  {core.ChargeCharging},
	core.ChargeUnknown:   {core.ChargeCharging, core.ChargeUnknown},
	core.ChargePaid:      {core.ChargeCharging, core.ChargePaid},
	core.ChargeFailed:    {core.ChargeCharging, core.ChargeFailed},
	core.ChargeCancelled: {core.ChargeCharging, core.ChargePaid, core.ChargeCancelled},
}

// drive moves a pending charge to status through legal transitions.
func (f *fixture) drive(merchantUID string, status core.ChargeStatus) *core.Charge {
	f.t.Helper()
	cur := core.ChargePending
	c := f.getCharge(merchantUID)
	require.Equal(f.t, cur, c.Status)
	for _, next := range pathTo[status] {
		c = f.move(merchantUID, cur, next)
		cur = next
	}
	return c
}

// retire moves charges of a claim test to a final state and releases their claims, so
// that a database kept between runs does not collect claimable rows.
func (f *fixture) retire(merchantUIDs ...string) {
	f.t.Helper()
	ctx := context.WithoutCancel(f.ctx)
	for _, mu := range merchantUIDs {
		_, _ = f.s.UpdateCharge(ctx, mu, []core.ChargeStatus{core.ChargePending},
			core.ChargeUpdate{Status: core.ChargeCharging})
		_, err := f.s.UpdateCharge(ctx, mu, []core.ChargeStatus{core.ChargeCharging, core.ChargeUnknown},
			core.ChargeUpdate{Status: core.ChargePaid, ReleaseClaim: true})
		if err != nil {
			_, _ = f.s.UpdateCharge(ctx, mu, []core.ChargeStatus{core.ChargePaid, core.ChargeFailed, core.ChargeCancelled},
				core.ChargeUpdate{ReleaseClaim: true})
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
func requireIssuance(t *testing.T, want, got *core.Issuance) {
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
func requireKey(t *testing.T, want, got *core.BillingKey) {
	t.Helper()
	require.NotNil(t, got)
	requireTime(t, "BillingKey.IssuedAt", want.IssuedAt, got.IssuedAt)
	w, g := *want, *got
	w.IssuedAt, g.IssuedAt = time.Time{}, time.Time{}
	require.Equal(t, w, g)
}

// requireCharge checks that got equals want field by field, times as instants.
func requireCharge(t *testing.T, want, got *core.Charge) {
	t.Helper()
	require.NotNil(t, got)
	requireTime(t, "Charge.CreatedAt", want.CreatedAt, got.CreatedAt)
	requireTime(t, "Charge.UpdatedAt", want.UpdatedAt, got.UpdatedAt)
	requireTime(t, "Charge.PaidAt", want.PaidAt, got.PaidAt)
	requireTime(t, "Charge.ClaimedUntil", want.ClaimedUntil, got.ClaimedUntil)
	w, g := *want, *got
	w.CreatedAt, w.UpdatedAt, w.PaidAt, w.ClaimedUntil = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	g.CreatedAt, g.UpdatedAt, g.PaidAt, g.ClaimedUntil = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	require.Equal(t, w, g)
}

// cloneIssuance, cloneKey and cloneCharge copy a record (all fields are values).
func cloneIssuance(is *core.Issuance) *core.Issuance { c := *is; return &c }
func cloneKey(k *core.BillingKey) *core.BillingKey   { c := *k; return &c }
func cloneCharge(ch *core.Charge) *core.Charge       { c := *ch; return &c }
