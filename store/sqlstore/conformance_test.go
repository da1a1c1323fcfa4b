package sqlstore_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
	"github.com/billkey/billkey/store/sqlstore"
	"github.com/billkey/billkey/store/sqlstore/sqlitedb"
	"github.com/billkey/billkey/store/storetest"
)

// The file run keeps one database for all subtests, as a process does (each subtest gets
// a Store over it that measures leases on the subtest's clock); the memory run below
// gives every subtest an empty database.
func TestConformanceSQLiteFile(t *testing.T) {
	t.Parallel()
	db := openSQLiteFile(t)
	storetest.Run(t, func(t *testing.T, clock func() time.Time) store.Store {
		return newStore(t, db, sqlstore.SQLite, sqlstore.WithClock(clock))
	})
}

func TestConformanceSQLiteMemory(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T, clock func() time.Time) store.Store {
		return newStore(t, openSQLiteMemory(t), sqlstore.SQLite, sqlstore.WithClock(clock))
	})
}

// The PostgreSQL run shares one schema (dropped at the end) between all subtests, as
// instances share a database; the suite's random ids keep the subtests apart.
func TestConformancePostgres(t *testing.T) {
	t.Parallel()
	db := openPG(t, pgSchemaDSN(t))
	storetest.Run(t, func(t *testing.T, clock func() time.Time) store.Store {
		return newStore(t, db, sqlstore.Postgres, sqlstore.WithClock(clock))
	})
}

// Three *sql.DB handles on one schema stand for three instances of a service; their
// leases are measured on the database's clock.
func TestConformancePostgresConcurrentInstances(t *testing.T) {
	t.Parallel()
	dsn := pgSchemaDSN(t)
	stores := make([]store.Store, 3)
	for i := range stores {
		stores[i] = newStore(t, openPG(t, dsn), sqlstore.Postgres)
	}
	storetest.RunConcurrentInstances(t, stores)
}

// Several handles on one SQLite file (several pools in one process) also stay
// consistent: immediate transactions and the busy timeout serialise the writers.
func TestConformanceSQLiteFileConcurrentHandles(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "billkey.db")
	stores := make([]store.Store, 3)
	for i := range stores {
		db, err := sqlitedb.Open(path)
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		stores[i] = newStore(t, db, sqlstore.SQLite)
	}
	storetest.RunConcurrentInstances(t, stores)
}
