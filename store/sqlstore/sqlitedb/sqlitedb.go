package sqlitedb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"modernc.org/sqlite"
)

// Memory is the path of a private in-memory database.
const Memory = ":memory:"

// Pragmas is the DSN query Open appends to the path. synchronous(FULL) is SQLite's
// default, spelled out because a charge row must be on disk before iamport is asked to
// charge (docs/guarantees.md, R18): in WAL mode NORMAL may lose the last commits on power
// loss.
const Pragmas = "_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_txlock=immediate"

// FileConns is how many connections Open keeps to a database file. In WAL mode readers
// run beside the one writer, so lookups need not queue behind a commit; package sqlstore
// sends all of a Store's writes through one transaction at a time.
const FileConns = 4

// Open opens (creating if needed) the SQLite database at path and checks it can be used.
// path is a file name, or Memory (":memory:") for a database that lives as long as the
// returned *sql.DB and is private to it.
//
// A file gets a pool of FileConns connections, never closed while the *sql.DB is open:
// reads run on them side by side, and writes take SQLite's write lock one at a time (a
// sqlstore.Store queues its own writes; a writer from elsewhere waits up to the busy
// timeout). An in-memory database gets a single connection, which is also what keeps it
// alive; concurrent callers queue for it. Each connection keeps the statements it
// prepared, so a statement sent again is not parsed again. The caller closes the *sql.DB.
func Open(path string) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("sqlitedb: empty path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, errors.New("sqlitedb: path must not contain '?' or '#'")
	}
	connector, err := sqlite.NewConnector(DSN(path))
	if err != nil {
		return nil, fmt.Errorf("sqlitedb: open: %w", err)
	}
	conns := FileConns
	if path == Memory {
		conns = 1
	}
	db := sql.OpenDB(cachingConnector{connector})
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(context.Background()); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("sqlitedb: open: %w", err)
	}
	return db, nil
}

// DSN returns the modernc.org/sqlite data source name Open uses for path.
func DSN(path string) string {
	return path + "?" + Pragmas
}
