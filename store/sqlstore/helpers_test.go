package sqlstore_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store/sqlstore"
	"github.com/billkey/billkey/store/sqlstore/pgdb"
	"github.com/billkey/billkey/store/sqlstore/sqlitedb"
)

const pgEnv = "BILLKEY_TEST_POSTGRES_DSN"

// openSQLiteFile opens a fresh SQLite file database in a temporary directory.
func openSQLiteFile(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "billkey.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// openSQLiteMemory opens a fresh private in-memory SQLite database.
func openSQLiteMemory(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sqlitedb.Open(sqlitedb.Memory)
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// newStore wraps db and migrates it.
func newStore(t testing.TB, db *sql.DB, d sqlstore.Dialect) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.New(db, d)
	require.NoError(t, err)
	require.NoError(t, s.Migrate(context.Background()))
	return s
}

// pgSchemaDSN skips the test unless BILLKEY_TEST_POSTGRES_DSN is set; otherwise it
// creates a schema of its own (dropped at cleanup) and returns a DSN whose search_path
// is that schema, so parallel runs and reruns never see each other's tables.
func pgSchemaDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(pgEnv)
	if base == "" {
		t.Skip(pgEnv + " not set: skipping PostgreSQL store tests")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "billkey_test_" + hex.EncodeToString(b[:])

	admin, err := pgdb.Open(base)
	require.NoError(t, err)
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = admin.ExecContext(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err, "create schema (is PostgreSQL running at %s?)", pgEnv)
	t.Cleanup(func() {
		db, err := pgdb.Open(base)
		if err != nil {
			t.Errorf("drop schema: %v", err)
			return
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, base, schema)
}

// withSearchPath sets the search_path run-time parameter in a URL or key=value DSN.
func withSearchPath(t testing.TB, dsn, schema string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		require.NoError(t, err)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// pgPoolSize caps each test pool: the server's connection limit (100 by default) is
// shared with other packages' tests running at the same time.
const pgPoolSize = 4

// openPG opens a pool on dsn, closed at cleanup (before the schema is dropped).
func openPG(t testing.TB, dsn string) *sql.DB {
	t.Helper()
	db, err := pgdb.Open(dsn)
	require.NoError(t, err)
	db.SetMaxOpenConns(pgPoolSize)
	t.Cleanup(func() { _ = db.Close() })
	return db
}
