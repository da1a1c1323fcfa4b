package sqlstore_test

import (
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
	"github.com/billkey/billkey/store/sqlstore"
	"github.com/billkey/billkey/store/sqlstore/sqlitedb"
)

// Leases are measured on the database's clock alone (docs/guarantees.md, R4): two
// handles whose callers' clocks are 10 seconds apart never both hold a lease on one row.
// The caller behind takes a lease for a few seconds; the caller ahead cannot claim the
// row until the database's clock passes the lease's end, and then can.
func TestLeasesOnDatabaseClock(t *testing.T) {
	t.Parallel()
	t.Run("Postgres", func(t *testing.T) {
		t.Parallel()
		dsn := pgSchemaDSN(t)
		dbA, dbB := openPG(t, dsn), openPG(t, dsn)
		leasesOnDatabaseClock(t, dbA, dbB, sqlstore.Postgres)
	})
	t.Run("SQLiteFile", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "billkey.db")
		var dbs []*sql.DB
		for range 2 {
			db, err := sqlitedb.Open(path)
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			dbs = append(dbs, db)
		}
		leasesOnDatabaseClock(t, dbs[0], dbs[1], sqlstore.SQLite)
	})
}

func leasesOnDatabaseClock(t *testing.T, dbA, dbB *sql.DB, d sqlstore.Dialect) {
	ctx := t.Context()
	const lease = 2 * time.Second
	behind := func() time.Time { return time.Now() }
	ahead := func() time.Time { return time.Now().Add(10 * time.Second) }
	a, b := newStore(t, dbA, d), newStore(t, dbB, d)
	claim := func(s *sqlstore.Store, owner string) []*store.Charge {
		t.Helper()
		got, err := s.ClaimCharges(ctx, store.ClaimRequest{
			Statuses: []store.ChargeStatus{store.ChargePending, store.ChargeCharging, store.ChargeUnknown},
			Held:     []store.ChargeStatus{store.ChargeFailed},
			Lease:    store.Lease{Owner: owner, For: time.Minute}, Limit: 100,
		})
		require.NoError(t, err)
		return got
	}

	// a's caller takes the lease with its own times on the row; the lease's end is the
	// database's clock at the write plus the lease.
	t0 := dbNow(t, dbA, d)
	c, created, err := a.CreateCharge(ctx, &store.Charge{
		MerchantUID: "mskew", UserID: "u", IdempotencyKey: "k", Amount: 9900,
		Status: store.ChargePending, CreatedAt: behind(), UpdatedAt: behind(),
	}, store.Lease{Owner: "a", For: lease})
	require.NoError(t, err)
	require.True(t, created)
	t1 := dbNow(t, dbA, d)
	requireBetween(t, "CreateCharge lease", c.ClaimedUntil, t0.Add(lease), t1.Add(lease))
	t0 = dbNow(t, dbA, d)
	held, err := a.UpdateCharge(ctx, c.MerchantUID, []store.ChargeStatus{store.ChargePending},
		store.ChargeUpdate{Status: store.ChargeCharging, AddAttempts: 1, At: behind(), Hold: &store.Lease{Owner: "a", For: lease}})
	require.NoError(t, err)
	requireBetween(t, "Hold lease", held.ClaimedUntil, t0.Add(lease), dbNow(t, dbA, d).Add(lease))

	// b's caller, 10 s ahead, claims at once, and writes with its times: the lease holds.
	require.NotContains(t, merchantUIDs(claim(b, "b")), c.MerchantUID, "claimed while a's lease held")
	note, err := b.UpdateCharge(ctx, c.MerchantUID, []store.ChargeStatus{store.ChargeCharging},
		store.ChargeUpdate{FailReason: "note", At: ahead()})
	require.NoError(t, err)
	require.Equal(t, "a", note.ClaimedBy)
	require.True(t, held.ClaimedUntil.Equal(note.ClaimedUntil), "a write without Hold moved the lease")

	// Once the database's clock passes the lease's end, b gets the row, and a cannot.
	deadline := time.Now().Add(30 * time.Second) // a hang guard, far beyond the lease
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		before := dbNow(t, dbB, d)
		got := claim(b, "b")
		i := slices.IndexFunc(got, func(x *store.Charge) bool { return x.MerchantUID == c.MerchantUID })
		if i >= 0 {
			// The claim's lease starts when the claim ran: not before a's lease ended.
			require.False(t, got[i].ClaimedUntil.Add(-time.Minute).Before(held.ClaimedUntil),
				"claimed at %v, a's lease ended at %v", got[i].ClaimedUntil.Add(-time.Minute), held.ClaimedUntil)
			require.Equal(t, "b", got[i].ClaimedBy)
			break
		}
		require.True(t, before.Before(held.ClaimedUntil), "not claimed although the lease ended by the database's clock")
		require.True(t, time.Now().Before(deadline), "never claimed")
		<-tick.C
	}
	require.NotContains(t, merchantUIDs(claim(a, "a")), c.MerchantUID, "claimed while b's lease held")
	got, err := a.GetCharge(ctx, c.MerchantUID)
	require.NoError(t, err)
	require.Equal(t, "b", got.ClaimedBy)
}

// dbNow reads the database's clock as the store reads it for leases.
func dbNow(t *testing.T, db *sql.DB, d sqlstore.Dialect) time.Time {
	t.Helper()
	if d == sqlstore.Postgres {
		var now time.Time
		require.NoError(t, db.QueryRowContext(t.Context(), "SELECT clock_timestamp()").Scan(&now))
		return now.UTC()
	}
	var micros int64
	require.NoError(t, db.QueryRowContext(t.Context(), "SELECT CAST(unixepoch('subsec') * 1000000 AS INTEGER)").Scan(&micros))
	return time.UnixMicro(micros).UTC()
}

func requireBetween(t *testing.T, what string, got, lo, hi time.Time) {
	t.Helper()
	require.False(t, got.Before(lo), "%s: %v before %v", what, got, lo)
	require.False(t, got.After(hi), "%s: %v after %v", what, got, hi)
}
