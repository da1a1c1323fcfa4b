package sqlstore_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
	"github.com/billkey/billkey/store/sqlstore"
	"github.com/billkey/billkey/store/sqlstore/sqlitedb"
)

// backend opens a fresh, empty database of one kind.
type backend struct {
	name    string
	dialect sqlstore.Dialect
	open    func(t testing.TB) *sql.DB
}

var backends = []backend{
	{"SQLiteFile", sqlstore.SQLite, openSQLiteFile},
	{"SQLiteMemory", sqlstore.SQLite, openSQLiteMemory},
	{"Postgres", sqlstore.Postgres, func(t testing.TB) *sql.DB { return openPG(t, pgSchemaDSN(t)) }},
}

// latestVersion is the highest embedded migration version.
const latestVersion = 4

var billkeyTables = []string{"billkey_issuances", "billkey_billing_keys", "billkey_charges", "billkey_subscriptions",
	"billkey_refunds", "billkey_inbox"}

func TestNewValidates(t *testing.T) {
	_, err := sqlstore.New(nil, sqlstore.SQLite)
	require.Error(t, err)

	db := openSQLiteMemory(t)
	_, err = sqlstore.New(db, sqlstore.Dialect(0))
	require.Error(t, err)
	_, err = sqlstore.New(db, sqlstore.Dialect(42))
	require.Error(t, err)

	s, err := sqlstore.New(db, sqlstore.Postgres, nil, sqlstore.WithLogger(nil))
	require.NoError(t, err)
	assert.Equal(t, sqlstore.Postgres, s.Dialect())
	assert.Equal(t, "postgres", sqlstore.Postgres.String())
	assert.Equal(t, "sqlite", sqlstore.SQLite.String())
}

func TestMigrateIsIdempotent(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			db := b.open(t)
			s, err := sqlstore.New(db, b.dialect)
			require.NoError(t, err)

			v, err := s.SchemaVersion(ctx)
			require.NoError(t, err)
			assert.Equal(t, 0, v, "fresh database")
			for _, table := range billkeyTables {
				_, err := db.ExecContext(ctx, "SELECT count(*) FROM "+table)
				require.Error(t, err, "%s before Migrate", table)
			}

			require.NoError(t, s.Migrate(ctx))
			require.NoError(t, s.Migrate(ctx), "second run")

			v, err = s.SchemaVersion(ctx)
			require.NoError(t, err)
			assert.Equal(t, latestVersion, v)
			var n int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM billkey_schema_migrations").Scan(&n))
			assert.Equal(t, latestVersion, n, "each migration recorded once")
			for _, table := range billkeyTables {
				require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n), table)
				assert.Zero(t, n)
			}

			// A store made later over the same database sees the schema as current.
			s2, err := sqlstore.New(db, b.dialect)
			require.NoError(t, err)
			require.NoError(t, s2.Migrate(ctx))
			require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM billkey_schema_migrations").Scan(&n))
			assert.Equal(t, latestVersion, n)
		})
	}
}

func TestMigrateLogs(t *testing.T) {
	var buf syncBuffer
	db := openSQLiteMemory(t)
	s, err := sqlstore.New(db, sqlstore.SQLite, sqlstore.WithLogger(newTextLogger(&buf)))
	require.NoError(t, err)
	require.NoError(t, s.Migrate(t.Context()))
	assert.Contains(t, buf.String(), "0001_init.sql")
	assert.Contains(t, buf.String(), "0002_leases_fail_codes_orphans.sql")
	assert.Contains(t, buf.String(), "0003_subscriptions.sql")
}

// Several processes may start at once and all call Migrate: exactly one applies each
// migration and none fails.
func TestMigrateConcurrently(t *testing.T) {
	t.Run("SQLiteFile", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "billkey.db")
		var dbs []*sql.DB
		for range 3 {
			db, err := sqlitedb.Open(path)
			require.NoError(t, err)
			t.Cleanup(func() { _ = db.Close() })
			dbs = append(dbs, db)
		}
		migrateConcurrently(t, dbs, sqlstore.SQLite)
	})
	t.Run("Postgres", func(t *testing.T) {
		dsn := pgSchemaDSN(t)
		dbs := []*sql.DB{openPG(t, dsn), openPG(t, dsn), openPG(t, dsn)}
		migrateConcurrently(t, dbs, sqlstore.Postgres)
	})
}

func migrateConcurrently(t *testing.T, dbs []*sql.DB, d sqlstore.Dialect) {
	t.Helper()
	const rounds = 4 // each handle migrates several times while the others do too
	var wg sync.WaitGroup
	errs := make(chan error, len(dbs)*rounds)
	for _, db := range dbs {
		s, err := sqlstore.New(db, d)
		require.NoError(t, err)
		for range rounds {
			wg.Go(func() { errs <- s.Migrate(context.Background()) })
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var n int
	require.NoError(t, dbs[0].QueryRowContext(t.Context(), "SELECT count(*) FROM billkey_schema_migrations").Scan(&n))
	assert.Equal(t, latestVersion, n)
}

// Times are stored in UTC with microsecond precision; SQLite keeps INTEGER microseconds
// since the epoch, PostgreSQL timestamptz, and the zero time is NULL in both.
func TestTimeStorage(t *testing.T) {
	seoul := time.FixedZone("KST", 9*60*60)
	created := time.Date(2026, 3, 4, 5, 6, 7, 123456789, seoul)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			db := b.open(t)
			s := newStore(t, db, b.dialect)
			in := &store.Issuance{
				MerchantUID: "mtime1", CustomerUID: "ctime1", UserID: "u1",
				Status: store.IssuancePending, CreatedAt: created, // ExpiresAt, UpdatedAt zero
			}
			require.NoError(t, s.CreateIssuance(ctx, in))
			got, err := s.GetIssuance(ctx, "mtime1")
			require.NoError(t, err)
			assert.Equal(t, time.UTC, got.CreatedAt.Location())
			assert.True(t, got.CreatedAt.Equal(created.Truncate(time.Microsecond)), "got %v", got.CreatedAt)
			assert.Equal(t, 123456000, got.CreatedAt.Nanosecond())
			assert.True(t, got.ExpiresAt.IsZero())
			assert.True(t, got.UpdatedAt.IsZero())

			var expiresNull, updatedNull bool
			require.NoError(t, db.QueryRowContext(ctx,
				"SELECT expires_at IS NULL, updated_at IS NULL FROM billkey_issuances WHERE merchant_uid = 'mtime1'").
				Scan(&expiresNull, &updatedNull))
			assert.True(t, expiresNull)
			assert.True(t, updatedNull)

			switch b.dialect {
			case sqlstore.SQLite:
				var typ string
				var micros int64
				require.NoError(t, db.QueryRowContext(ctx,
					"SELECT typeof(created_at), created_at FROM billkey_issuances WHERE merchant_uid = 'mtime1'").
					Scan(&typ, &micros))
				assert.Equal(t, "integer", typ)
				assert.Equal(t, created.UnixMicro(), micros)
			case sqlstore.Postgres:
				var typ string
				var utc string
				require.NoError(t, db.QueryRowContext(ctx,
					`SELECT pg_typeof(created_at)::text, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US')
					 FROM billkey_issuances WHERE merchant_uid = 'mtime1'`).Scan(&typ, &utc))
				assert.Equal(t, "timestamp with time zone", typ)
				assert.Equal(t, "2026-03-03T20:06:07.123456", utc)
			}
		})
	}
}

// imp_uid is NULL until known, so any number of rows may lack it while a known one is
// unique; the unique constraints map to store.ErrDuplicate with the driver's text kept out.
func TestNullableImpUIDAndDuplicates(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			db := b.open(t)
			s := newStore(t, db, b.dialect)
			now := time.Now()
			for i := range 3 {
				_, created, err := s.CreateCharge(ctx, &store.Charge{
					MerchantUID: fmt.Sprintf("mnull%d", i), UserID: "u", IdempotencyKey: fmt.Sprintf("k%d", i),
					Amount: 100, Status: store.ChargePending, CreatedAt: now, UpdatedAt: now,
				}, store.Lease{})
				require.NoError(t, err)
				require.True(t, created)
			}
			var nulls int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM billkey_charges WHERE imp_uid IS NULL").Scan(&nulls))
			assert.Equal(t, 3, nulls)

			_, err := s.UpdateCharge(ctx, "mnull0", []store.ChargeStatus{store.ChargePending}, store.ChargeUpdate{ImpUID: "imp_1"})
			require.NoError(t, err)
			_, err = s.UpdateCharge(ctx, "mnull1", []store.ChargeStatus{store.ChargePending}, store.ChargeUpdate{ImpUID: "imp_1"})
			require.ErrorIs(t, err, store.ErrDuplicate)
			assert.NotContains(t, err.Error(), "imp_1")

			_, _, err = s.CreateCharge(ctx, &store.Charge{MerchantUID: "mnull0", UserID: "u", IdempotencyKey: "other"}, store.Lease{})
			require.ErrorIs(t, err, store.ErrDuplicate)

			is := &store.Issuance{MerchantUID: "mi1", CustomerUID: "secretcustomeruid", UserID: "u", Status: store.IssuancePending}
			require.NoError(t, s.CreateIssuance(ctx, is))
			dup := *is
			dup.MerchantUID = "mi2"
			err = s.CreateIssuance(ctx, &dup)
			require.ErrorIs(t, err, store.ErrDuplicate)
			assert.NotContains(t, err.Error(), "secretcustomeruid")

			_, err = s.GetCharge(ctx, "nope")
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.UpdateCharge(ctx, "nope", []store.ChargeStatus{store.ChargePending}, store.ChargeUpdate{Status: store.ChargeCharging})
			require.ErrorIs(t, err, store.ErrNotFound)
			_, err = s.UpdateCharge(ctx, "mnull2", []store.ChargeStatus{store.ChargeCharging}, store.ChargeUpdate{Status: store.ChargePaid})
			require.ErrorIs(t, err, store.ErrConflict)
		})
	}
}

// On PostgreSQL a claimer skips rows another transaction holds instead of waiting for it.
func TestPostgresClaimSkipsLockedRows(t *testing.T) {
	dsn := pgSchemaDSN(t)
	dbA, dbB := openPG(t, dsn), openPG(t, dsn)
	sA := newStore(t, dbA, sqlstore.Postgres)
	sB := newStore(t, dbB, sqlstore.Postgres)
	ctx := t.Context()
	old := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 4 {
		_, _, err := sA.CreateCharge(ctx, &store.Charge{
			MerchantUID: fmt.Sprintf("mlock%d", i), UserID: "u", IdempotencyKey: fmt.Sprintf("k%d", i),
			Amount: 100, Status: store.ChargeCharging, CreatedAt: old, UpdatedAt: old.Add(time.Duration(i) * time.Second),
		}, store.Lease{})
		require.NoError(t, err)
	}

	tx, err := dbA.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, "SELECT 1 FROM billkey_charges WHERE merchant_uid = 'mlock0' FOR UPDATE")
	require.NoError(t, err)

	// The deadline only turns a wrongly blocking claim into a failure instead of a hang.
	cctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	got, err := sB.ClaimCharges(cctx, store.ClaimRequest{
		Statuses: []store.ChargeStatus{store.ChargeCharging},
		Lease:    store.Lease{Owner: "b", For: time.Minute}, Limit: 10,
	})
	require.NoError(t, err, "claim must not wait for the locked row")
	assert.Equal(t, []string{"mlock1", "mlock2", "mlock3"}, merchantUIDs(got))
	for _, c := range got {
		assert.Equal(t, "b", c.ClaimedBy)
	}
	require.NoError(t, tx.Rollback())

	got, err = sA.ClaimCharges(ctx, store.ClaimRequest{
		Statuses: []store.ChargeStatus{store.ChargeCharging},
		Lease:    store.Lease{Owner: "a", For: time.Minute}, Limit: 10,
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"mlock0"}, merchantUIDs(got), "the released row, and only it")
}

// R4 at the store level: three *sql.DB handles stand for three instances.
func TestPostgresThreeInstances(t *testing.T) {
	dsn := pgSchemaDSN(t)
	var dbs []*sql.DB
	var stores []*sqlstore.Store
	for range 3 {
		db := openPG(t, dsn)
		dbs = append(dbs, db)
		stores = append(stores, newStore(t, db, sqlstore.Postgres))
	}
	ctx := t.Context()
	now := time.Now()

	t.Run("OneChargePerIdempotencyKey", func(t *testing.T) {
		const callers = 200
		var wg sync.WaitGroup
		type result struct {
			c       *store.Charge
			created bool
			err     error
		}
		results := make(chan result, callers)
		start := make(chan struct{})
		for i := range callers {
			s := stores[i%len(stores)]
			wg.Go(func() {
				<-start
				c, created, err := s.CreateCharge(ctx, &store.Charge{
					MerchantUID: fmt.Sprintf("mr4x%03d", i), UserID: "r4user", IdempotencyKey: "same-key",
					Amount: 9900, Status: store.ChargePending, CreatedAt: now, UpdatedAt: now,
				}, store.Lease{Owner: fmt.Sprintf("caller%d", i), For: time.Minute})
				results <- result{c, created, err}
			})
		}
		close(start)
		wg.Wait()
		close(results)
		created := 0
		uids := map[string]bool{}
		for r := range results {
			require.NoError(t, r.err)
			if r.created {
				created++
			}
			uids[r.c.MerchantUID] = true
		}
		assert.Equal(t, 1, created)
		assert.Len(t, uids, 1, "every caller got the one stored charge")
		var n int
		require.NoError(t, dbs[2].QueryRowContext(ctx,
			"SELECT count(*) FROM billkey_charges WHERE user_id = 'r4user'").Scan(&n))
		assert.Equal(t, 1, n)
	})

	t.Run("OneCompareAndSetWinner", func(t *testing.T) {
		_, _, err := stores[0].CreateCharge(ctx, &store.Charge{
			MerchantUID: "mcas", UserID: "casuser", IdempotencyKey: "k",
			Amount: 9900, Status: store.ChargePending, CreatedAt: now, UpdatedAt: now,
		}, store.Lease{})
		require.NoError(t, err)
		const callers = 200
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		start := make(chan struct{})
		for i := range callers {
			s := stores[i%len(stores)]
			wg.Go(func() {
				<-start
				_, err := s.UpdateCharge(ctx, "mcas", []store.ChargeStatus{store.ChargePending},
					store.ChargeUpdate{Status: store.ChargeCharging, AddAttempts: 1, At: time.Now()})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.Is(err, store.ErrConflict):
					conflicts++
				default:
					t.Errorf("unexpected error: %v", err)
				}
			})
		}
		close(start)
		wg.Wait()
		assert.Equal(t, 1, wins)
		assert.Equal(t, callers-1, conflicts)
		c, err := stores[1].GetCharge(ctx, "mcas")
		require.NoError(t, err)
		assert.Equal(t, store.ChargeCharging, c.Status)
		assert.Equal(t, 1, c.Attempts)
	})

	t.Run("EachRowClaimedOnce", func(t *testing.T) {
		old := time.Date(2019, 6, 1, 0, 0, 0, 0, time.UTC)
		const rows = 60
		for i := range rows {
			_, _, err := stores[i%3].CreateCharge(ctx, &store.Charge{
				MerchantUID: fmt.Sprintf("mclaim%03d", i), UserID: "claimuser", IdempotencyKey: fmt.Sprintf("k%d", i),
				Amount: 100, Status: store.ChargeUnknown, CreatedAt: old, UpdatedAt: old.Add(time.Duration(i) * time.Millisecond),
			}, store.Lease{})
			require.NoError(t, err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		seen := map[string]string{}
		start := make(chan struct{})
		for g := range 12 {
			s := stores[g%3]
			owner := fmt.Sprintf("owner%d", g)
			wg.Go(func() {
				<-start
				for {
					got, err := s.ClaimCharges(ctx, store.ClaimRequest{
						Statuses: []store.ChargeStatus{store.ChargeUnknown},
						Lease:    store.Lease{Owner: owner, For: time.Hour}, Limit: 4,
					})
					if err != nil {
						t.Errorf("claim: %v", err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, c := range got {
						if prev, dup := seen[c.MerchantUID]; dup {
							t.Errorf("%s claimed by %s and %s", c.MerchantUID, prev, owner)
						}
						seen[c.MerchantUID] = owner
					}
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		assert.Len(t, seen, rows, "every row claimed exactly once")
	})
}

func merchantUIDs(cs []*store.Charge) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.MerchantUID)
	}
	sort.Strings(out)
	return out
}
