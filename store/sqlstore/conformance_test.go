package sqlstore_test

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/store/sqlstore"
	"github.com/billkey/billkey/store/sqlstore/sqlitedb"
	"github.com/billkey/billkey/store/storetest"
)

// The file run keeps one database for all subtests, as a process does; the memory run
// below gives every subtest an empty store.
func TestConformanceSQLiteFile(t *testing.T) {
	t.Parallel()
	st := newStore(t, openSQLiteFile(t), sqlstore.SQLite)
	storetest.Run(t, func(*testing.T) core.Store { return st })
}

func TestConformanceSQLiteMemory(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) core.Store {
		return newStore(t, openSQLiteMemory(t), sqlstore.SQLite)
	})
}

// The PostgreSQL run shares one schema (dropped at the end) between all subtests, as
// instances share a database; the suite's random ids keep the subtests apart.
func TestConformancePostgres(t *testing.T) {
	t.Parallel()
	st := newStore(t, openPG(t, pgSchemaDSN(t)), sqlstore.Postgres)
	storetest.Run(t, func(*testing.T) core.Store { return st })
}

// Three *sql.DB handles on one schema stand for three instances of a service.
func TestConformancePostgresConcurrentInstances(t *testing.T) {
	t.Parallel()
	dsn := pgSchemaDSN(t)
	stores := make([]core.Store, 3)
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
	stores := make([]core.Store, 3)
	for i := range stores {
		db, err := sqlitedb.Open(path)
		require.NoError(t, err)
		t.Cleanup(func() { _ = db.Close() })
		stores[i] = newStore(t, db, sqlstore.SQLite)
	}
	storetest.RunConcurrentInstances(t, stores)
}
