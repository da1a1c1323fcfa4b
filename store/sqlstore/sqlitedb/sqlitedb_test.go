package sqlitedb_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store/sqlstore/sqlitedb"
)

func TestOpenFileSettings(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "s.db"))
	require.NoError(t, err)
	defer db.Close()

	var mode string
	var busy, fk, syncMode int
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode))
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&syncMode))
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&busy))
	require.NoError(t, db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk))
	assert.Equal(t, "wal", mode)
	assert.Equal(t, 5000, busy)
	assert.Equal(t, 1, fk)
	assert.Equal(t, 2, syncMode, "synchronous FULL: a commit is on disk when it returns")
	assert.Equal(t, sqlitedb.FileConns, db.Stats().MaxOpenConnections)

	var version string
	require.NoError(t, db.QueryRowContext(ctx, "SELECT sqlite_version()").Scan(&version))
	t.Logf("SQLite %s", version)
}

// A read runs while a write transaction is open on another connection of the same pool,
// and sees what was committed before it, not the open transaction's rows.
func TestOpenReadsBesideAWrite(t *testing.T) {
	ctx := context.Background()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "r.db"))
	require.NoError(t, err)
	defer db.Close()
	_, err = db.ExecContext(ctx, "CREATE TABLE t (v INTEGER)")
	require.NoError(t, err)
	_, err = db.ExecContext(ctx, "INSERT INTO t (v) VALUES (1)")
	require.NoError(t, err)

	tx, err := db.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	_, err = tx.ExecContext(ctx, "INSERT INTO t (v) VALUES (2)")
	require.NoError(t, err)

	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var n int
	require.NoError(t, db.QueryRowContext(rctx, "SELECT count(*) FROM t").Scan(&n), "the read did not wait for the writer")
	assert.Equal(t, 1, n)
}

func TestOpenMemoryHasOneConnection(t *testing.T) {
	db, err := sqlitedb.Open(sqlitedb.Memory)
	require.NoError(t, err)
	defer db.Close()
	assert.Equal(t, 1, db.Stats().MaxOpenConnections, "a private in-memory database lives on its one connection")
}

// Transactions begin IMMEDIATE: a second handle cannot even begin one while the first
// holds its transaction open, instead of failing later on a lock upgrade.
func TestOpenImmediateTransactions(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	a, err := sqlitedb.Open(path)
	require.NoError(t, err)
	defer a.Close()
	b, err := sqlitedb.Open(path)
	require.NoError(t, err)
	defer b.Close()
	_, err = a.ExecContext(ctx, "CREATE TABLE t (x INTEGER)")
	require.NoError(t, err)
	b.SetMaxOpenConns(1)                                   // so that the pragma below is that of b's transactions
	_, err = b.ExecContext(ctx, "PRAGMA busy_timeout = 0") // fail fast
	require.NoError(t, err)

	txA, err := a.BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = txA.Rollback() }()

	txB, err := b.BeginTx(ctx, nil)
	if err == nil {
		_ = txB.Rollback()
		t.Fatal("a second writer began a transaction while the first held one: not BEGIN IMMEDIATE")
	}
	assert.Contains(t, err.Error(), "locked")

	require.NoError(t, txA.Rollback())
	txB, err = b.BeginTx(ctx, nil)
	require.NoError(t, err)
	require.NoError(t, txB.Rollback())
}

func TestOpenMemoryIsPrivateAndKept(t *testing.T) {
	ctx := context.Background()
	a, err := sqlitedb.Open(sqlitedb.Memory)
	require.NoError(t, err)
	defer a.Close()
	b, err := sqlitedb.Open(sqlitedb.Memory)
	require.NoError(t, err)
	defer b.Close()

	_, err = a.ExecContext(ctx, "CREATE TABLE t (x INTEGER)")
	require.NoError(t, err)
	// Every later use, from any goroutine, sees the same database.
	done := make(chan error)
	for range 4 {
		go func() {
			_, err := a.ExecContext(ctx, "INSERT INTO t VALUES (1)")
			done <- err
		}()
	}
	for range 4 {
		require.NoError(t, <-done)
	}
	var n int
	require.NoError(t, a.QueryRowContext(ctx, "SELECT count(*) FROM t").Scan(&n))
	assert.Equal(t, 4, n)

	_, err = b.ExecContext(ctx, "SELECT count(*) FROM t")
	require.Error(t, err, "another Open gets its own database")
}

func TestOpenRejectsBadPaths(t *testing.T) {
	for _, p := range []string{"", "x.db?mode=ro", "x#y.db"} {
		_, err := sqlitedb.Open(p)
		assert.Error(t, err, p)
	}
	_, err := sqlitedb.Open(filepath.Join(t.TempDir(), "missing-dir", "x.db"))
	assert.Error(t, err)
}
