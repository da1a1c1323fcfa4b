package pgdb_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/internal/pgtest"
	"github.com/billkey/billkey/internal/skipnote"
	"github.com/billkey/billkey/store/sqlstore/pgdb"
)

func TestOpenInvalidDSNHidesIt(t *testing.T) {
	_, err := pgdb.Open("postgres://user:hunter2@host:notaport/db")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
	assert.NotContains(t, err.Error(), "user")
}

func TestOpenPoolSettings(t *testing.T) {
	const url = "postgres://billing:hunter2@db.internal:5432/shop?sslmode=disable"
	const kv = "host=db.internal user=billing password=hunter2 dbname=shop sslmode=disable"
	tests := []struct {
		name     string
		dsn      string
		opts     []pgdb.Option
		maxConns int
	}{
		{"defaults", url, nil, pgdb.DefaultMaxConns},
		{"URL parameter", url + "&pool_max_conns=5&pool_max_conn_lifetime=1h&pool_max_conn_idle_time=0", nil, 5},
		{"key=value parameter", kv + " pool_max_conns=7", nil, 7},
		{"option over parameter", url + "&pool_max_conns=5", []pgdb.Option{pgdb.WithMaxConns(9)}, 9},
		{"ignored option values", url, []pgdb.Option{pgdb.WithMaxConns(0), pgdb.WithConnMaxLifetime(-1), nil}, pgdb.DefaultMaxConns},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := pgdb.Open(tt.dsn, tt.opts...)
			require.NoError(t, err)
			defer db.Close()
			assert.Equal(t, tt.maxConns, db.Stats().MaxOpenConnections)
		})
	}
}

func TestOpenRejectsBadPoolParameters(t *testing.T) {
	const base = "postgres://billing:hunter2@db.internal:5432/shop?sslmode=disable&"
	for _, p := range []string{
		"pool_max_conns=0", "pool_max_conns=-3", "pool_max_conns=many",
		"pool_max_conn_lifetime=forever", "pool_max_conn_lifetime=-1m", "pool_max_conn_idle_time=5",
	} {
		t.Run(p, func(t *testing.T) {
			_, err := pgdb.Open(base + p)
			require.Error(t, err)
			name, _, _ := strings.Cut(p, "=")
			assert.Contains(t, err.Error(), name)
			assert.NotContains(t, err.Error(), "hunter2")
		})
	}
}

func baseDSN(t *testing.T) string {
	dsn := os.Getenv(pgtest.Env)
	if dsn == "" {
		skipnote.Skip(t, "PostgreSQL", skipnote.EnablePostgres, "the PostgreSQL pool tests")
	}
	return dsn
}

func TestOpenConnects(t *testing.T) {
	db, err := pgdb.Open(baseDSN(t))
	require.NoError(t, err)
	defer db.Close()
	var one int
	require.NoError(t, db.QueryRowContext(context.Background(), "SELECT 1").Scan(&one))
	assert.Equal(t, 1, one)
}

// The pool_* parameters are Open's: sent to the server as run-time parameters they
// would fail the connection ("unrecognized configuration parameter").
func TestOpenKeepsPoolParametersFromServer(t *testing.T) {
	dsn, err := pgtest.WithSearchPath(baseDSN(t), "public")
	require.NoError(t, err)
	db, err := pgdb.Open(dsn + "&pool_max_conns=2&pool_max_conn_lifetime=10m&pool_max_conn_idle_time=1m")
	require.NoError(t, err)
	defer db.Close()
	require.NoError(t, db.PingContext(context.Background()))
	assert.Equal(t, 2, db.Stats().MaxOpenConnections)
}

// The default pool leaves most of the server's connections to other instances.
func TestDefaultMaxConnsBelowServerLimit(t *testing.T) {
	db, err := pgdb.Open(baseDSN(t))
	require.NoError(t, err)
	defer db.Close()
	var s string
	require.NoError(t, db.QueryRowContext(context.Background(), "SHOW max_connections").Scan(&s))
	limit, err := strconv.Atoi(s)
	require.NoError(t, err)
	t.Logf("server max_connections = %d, pool limit = %d", limit, pgdb.DefaultMaxConns)
	assert.Less(t, pgdb.DefaultMaxConns, limit/2)
}

// Under more concurrent callers than the pool holds, the pool neither grows past its
// limit nor closes connections it just used: every query runs on one of at most
// DefaultMaxConns backends, and none is dropped for want of an idle slot.
func TestOpenPoolUnderLoad(t *testing.T) {
	db, err := pgdb.Open(baseDSN(t))
	require.NoError(t, err)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	const workers, queries = 3 * pgdb.DefaultMaxConns, 10
	var mu sync.Mutex
	backends := map[int]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			for range queries {
				var pid int
				if err := db.QueryRowContext(ctx, "SELECT pg_backend_pid() FROM pg_sleep(0.002)").Scan(&pid); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				backends[pid] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	st := db.Stats()
	assert.LessOrEqual(t, len(backends), pgdb.DefaultMaxConns, "distinct server backends used")
	assert.Zero(t, st.MaxIdleClosed, "connections closed because the idle pool was full")
	assert.Positive(t, st.WaitCount, "callers queued for a connection instead of opening more")
}
