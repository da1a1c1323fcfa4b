package sqlitedb

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cached returns the statements the pool's connection keeps, by text.
func cached(t *testing.T, db *sql.DB) map[string]*cachedStmt {
	t.Helper()
	conn, err := db.Conn(context.Background())
	require.NoError(t, err)
	defer conn.Close()
	out := map[string]*cachedStmt{}
	require.NoError(t, conn.Raw(func(dc any) error {
		c := dc.(*cachingConn)
		c.mu.Lock()
		defer c.mu.Unlock()
		for k, v := range c.cache {
			out[k] = v
		}
		return nil
	}))
	return out
}

func openMemory(t *testing.T) *sql.DB {
	t.Helper()
	db, err := Open(Memory)
	require.NoError(t, err)
	t.Cleanup(func() { assert.NoError(t, db.Close()) })
	_, err = db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
	require.NoError(t, err)
	return db
}

// A statement sent again, alone or in a transaction, runs on the statement prepared the
// first time.
func TestStatementsAreKeptPrepared(t *testing.T) {
	db := openMemory(t)
	const insert = "INSERT INTO t (v) VALUES (?)"
	_, err := db.Exec(insert, "a")
	require.NoError(t, err)
	first := cached(t, db)[insert]
	require.NotNil(t, first, "kept after its first use")

	tx, err := db.Begin()
	require.NoError(t, err)
	_, err = tx.Exec(insert, "b")
	require.NoError(t, err)
	require.NoError(t, tx.Commit())
	_, err = db.Exec(insert, "c")
	require.NoError(t, err)
	assert.Same(t, first.stmt, cached(t, db)[insert].stmt, "prepared once")

	var n int
	for range 3 {
		require.NoError(t, db.QueryRow("SELECT count(*) FROM t WHERE v <> ?", "").Scan(&n))
	}
	assert.Equal(t, 3, n)
	assert.False(t, cached(t, db)[insert].busy, "given back once closed")
}

// While a query's rows are open, the same text gets a statement of its own, and both
// read what they should.
func TestStatementInUseIsNotShared(t *testing.T) {
	db := openMemory(t)
	for i := range 3 {
		_, err := db.Exec("INSERT INTO t (v) VALUES (?)", fmt.Sprint(i))
		require.NoError(t, err)
	}
	const sel = "SELECT v FROM t WHERE id >= ? ORDER BY id"
	tx, err := db.Begin()
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	rows, err := tx.Query(sel, 1)
	require.NoError(t, err)
	var outer, inner []string
	for rows.Next() {
		var v string
		require.NoError(t, rows.Scan(&v))
		outer = append(outer, v)
		var w string
		require.NoError(t, tx.QueryRow(sel, 3).Scan(&w))
		inner = append(inner, w)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	assert.Equal(t, []string{"0", "1", "2"}, outer)
	assert.Equal(t, []string{"2", "2", "2"}, inner)
}

// The cache is bounded; statements beyond it still run (and are finalized after use).
func TestStatementCacheIsBounded(t *testing.T) {
	db := openMemory(t)
	for i := range stmtCacheSize + 20 {
		var n int
		require.NoError(t, db.QueryRow(fmt.Sprintf("SELECT %d + count(*) FROM t", i)).Scan(&n))
		require.Equal(t, i, n)
	}
	assert.LessOrEqual(t, len(cached(t, db)), stmtCacheSize)
}

// A statement that fails, or whose context ends, leaves the cached one usable.
func TestCachedStatementSurvivesErrors(t *testing.T) {
	db := openMemory(t)
	const insert = "INSERT INTO t (id, v) VALUES (?, ?)"
	_, err := db.Exec(insert, 1, "a")
	require.NoError(t, err)
	_, err = db.Exec(insert, 1, "b")
	require.Error(t, err, "duplicate key")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = db.ExecContext(ctx, insert, 2, "c")
	require.Error(t, err)
	_, err = db.Exec(insert, 3, "d")
	require.NoError(t, err)
	var vs []string
	rows, err := db.Query("SELECT v FROM t ORDER BY id")
	require.NoError(t, err)
	defer rows.Close()
	for rows.Next() {
		var v string
		require.NoError(t, rows.Scan(&v))
		vs = append(vs, v)
	}
	assert.Equal(t, []string{"a", "d"}, vs)
}
