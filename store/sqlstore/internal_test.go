package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"testing/fstest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
	"github.com/billkey/billkey/store/sqlstore/sqlitedb"
)

func TestRebind(t *testing.T) {
	q := "SELECT a FROM t WHERE b = ? AND c IN (?, ?) LIMIT ?"
	assert.Equal(t, q, SQLite.rebind(q))
	assert.Equal(t, "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3) LIMIT $4", Postgres.rebind(q))
	assert.Equal(t, "SELECT 1", Postgres.rebind("SELECT 1"))
	assert.Equal(t, "?", placeholders(1))
	assert.Equal(t, "?, ?, ?", placeholders(3))
}

type pgErr struct{ state string }

func (e *pgErr) Error() string    { return "ERROR: something (SQLSTATE " + e.state + ")" }
func (e *pgErr) SQLState() string { return e.state }

type sqliteErr struct{ code int }

func (e *sqliteErr) Error() string { return fmt.Sprintf("constraint failed (%d)", e.code) }
func (e *sqliteErr) Code() int     { return e.code }

func TestIsUniqueViolation(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("boom"), false},
		{&pgErr{"23505"}, true},
		{fmt.Errorf("wrapped: %w", &pgErr{"23505"}), true},
		{&pgErr{"23503"}, false}, // foreign key
		{&sqliteErr{2067}, true},
		{&sqliteErr{1555}, true},
		{&sqliteErr{787}, false}, // foreign key
		{errors.New("constraint failed: UNIQUE constraint failed: t.c (2067)"), true},
		{errors.New(`ERROR: duplicate key value violates unique constraint "x" (SQLSTATE 23505)`), true},
	} {
		assert.Equal(t, tc.want, isUniqueViolation(tc.err), "%v", tc.err)
	}

	assert.ErrorIs(t, mapErr("op", &pgErr{"23505"}), store.ErrDuplicate)
	assert.ErrorIs(t, mapErr("op", sql.ErrNoRows), store.ErrNotFound)
	assert.ErrorIs(t, mapErr("op", store.ErrConflict), store.ErrConflict)
	assert.NoError(t, mapErr("op", nil))
	other := errors.New("disk on fire")
	assert.ErrorIs(t, mapErr("op", other), other)
}

func TestTimeColumns(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 6007000, time.UTC)
	for _, tc := range []struct {
		src  any
		want time.Time
	}{
		{nil, time.Time{}},
		{at.UnixMicro(), at},
		{at.In(time.FixedZone("KST", 9*3600)), at},
		{[]byte(fmt.Sprint(at.UnixMicro())), at},
		{at.Format(time.RFC3339Nano), at},
	} {
		var got time.Time
		require.NoError(t, timeCol{&got}.Scan(tc.src), "%v", tc.src)
		assert.True(t, tc.want.Equal(got), "%v: got %v", tc.src, got)
		if !got.IsZero() {
			assert.Equal(t, time.UTC, got.Location())
		}
	}
	var got time.Time
	assert.Error(t, timeCol{&got}.Scan(3.5))
	assert.Error(t, timeCol{&got}.Scan("yesterday"))

	assert.Nil(t, SQLite.timeArg(time.Time{}))
	assert.Nil(t, Postgres.timeArg(time.Time{}))
	assert.Equal(t, at.UnixMicro(), SQLite.timeArg(at.Add(999)))
	assert.Equal(t, at, Postgres.timeArg(at.Add(999).In(time.FixedZone("X", 3600))))

	var s string
	require.NoError(t, strCol{&s}.Scan(nil))
	assert.Empty(t, s)
	require.NoError(t, strCol{&s}.Scan([]byte("x")))
	assert.Equal(t, "x", s)
	assert.Error(t, strCol{&s}.Scan(1))
}

func TestLoadMigrations(t *testing.T) {
	ms, err := loadMigrations(fstest.MapFS{
		"d/0002_b.sql":  {Data: []byte("B")},
		"d/0010_c.sql":  {Data: []byte("C")},
		"d/0001_a.sql":  {Data: []byte("A")},
		"d/README.md":   {Data: []byte("ignored")},
		"d/sub/x.sql":   {Data: []byte("ignored")},
		"other/9_x.sql": {Data: []byte("ignored")},
	}, "d")
	require.NoError(t, err)
	require.Len(t, ms, 3)
	assert.Equal(t, []int{1, 2, 10}, []int{ms[0].version, ms[1].version, ms[2].version})
	assert.Equal(t, "A", ms[0].sql)

	for name, fsys := range map[string]fstest.MapFS{
		"no underscore": {"d/0001.sql": {}},
		"not a number":  {"d/abc_x.sql": {}},
		"zero":          {"d/0000_x.sql": {}},
		"duplicate":     {"d/0001_a.sql": {}, "d/1_b.sql": {}},
		"missing dir":   {},
	} {
		_, err := loadMigrations(fsys, "d")
		assert.Error(t, err, name)
	}

	// The embedded sets of both dialects load and have the same versions.
	s, err := New(&sql.DB{}, SQLite)
	require.NoError(t, err)
	lite, err := loadMigrations(s.migrations, SQLite.dir())
	require.NoError(t, err)
	pg, err := loadMigrations(s.migrations, Postgres.dir())
	require.NoError(t, err)
	require.NotEmpty(t, lite)
	require.Equal(t, len(lite), len(pg))
	for i := range lite {
		assert.Equal(t, lite[i].version, pg[i].version)
		assert.Equal(t, lite[i].name, pg[i].name)
	}
}

// A failing migration leaves the database as it was: nothing applied, nothing recorded.
// A later fixed set applies cleanly and an older build's Migrate ignores newer versions.
func TestMigrateIsAtomic(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "m.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	s, err := New(db, SQLite)
	require.NoError(t, err)

	s.migrations = fstest.MapFS{
		"sqlite/0001_a.sql": {Data: []byte("CREATE TABLE billkey_a (x INTEGER);")},
		"sqlite/0002_b.sql": {Data: []byte("CREATE TABLE billkey_b (x INTEGER); THIS IS NOT SQL;")},
	}
	require.Error(t, s.Migrate(ctx))
	v, err := s.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, v)
	var n int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM sqlite_master WHERE name LIKE 'billkey_%'").Scan(&n))
	assert.Zero(t, n, "no table survives the failed run")

	s.migrations = fstest.MapFS{
		"sqlite/0001_a.sql": {Data: []byte("CREATE TABLE billkey_a (x INTEGER);")},
		"sqlite/0002_b.sql": {Data: []byte("CREATE TABLE billkey_b (x INTEGER);\nCREATE INDEX billkey_b_x ON billkey_b (x);")},
	}
	require.NoError(t, s.Migrate(ctx))
	v, err = s.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, v)

	s.migrations = fstest.MapFS{"sqlite/0001_a.sql": {Data: []byte("CREATE TABLE billkey_a (x INTEGER);")}}
	require.NoError(t, s.Migrate(ctx), "an older build starts against a newer schema")
	v, err = s.SchemaVersion(ctx)
	require.NoError(t, err)
	assert.Equal(t, 2, v)
}

// SQLite's clock for leases reads the same instant as unixepoch('subsec') (3.42+), in
// whole milliseconds, and the lease's end adds exactly the lease.
func TestSQLiteClock(t *testing.T) {
	db, err := sqlitedb.Open(sqlitedb.Memory)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	s, err := New(db, SQLite)
	require.NoError(t, err)
	for range 20 {
		expr, args := s.clockPlus(1500 * time.Millisecond)
		var got, want int64
		require.NoError(t, db.QueryRowContext(t.Context(),
			"SELECT "+expr+", CAST(round(unixepoch('subsec') * 1000) AS INTEGER) * 1000", args...).Scan(&got, &want))
		assert.Equal(t, want+1_500_000, got)
		assert.Zero(t, got%1000, "whole milliseconds")
	}
}
