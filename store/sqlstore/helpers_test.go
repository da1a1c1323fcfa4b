package sqlstore_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/internal/pgtest"
	"github.com/billkey/billkey/store/sqlstore"
	"github.com/billkey/billkey/store/sqlstore/pgdb"
	"github.com/billkey/billkey/store/sqlstore/sqlitedb"
)

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
func newStore(t testing.TB, db *sql.DB, d sqlstore.Dialect, opts ...sqlstore.Option) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.New(db, d, opts...)
	require.NoError(t, err)
	require.NoError(t, s.Migrate(context.Background()))
	return s
}

// pgSchemaDSN skips the test unless BILLKEY_TEST_POSTGRES_DSN is set; otherwise it
// returns a DSN on a schema of the test's own (see pgtest.SchemaDSN).
func pgSchemaDSN(t testing.TB) string {
	t.Helper()
	return pgtest.SchemaDSN(t, "billkey_test_", "PostgreSQL store tests")
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
