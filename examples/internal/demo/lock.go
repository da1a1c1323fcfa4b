package demo

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// upstreamLockKey is the first key of the PostgreSQL advisory lock that keeps a sandbox
// example with a private in-process fake alone on its database; the second key is a hash
// of the schema the tables live in, so examples in different schemas never meet.
const upstreamLockKey = 0x626b6475 // "bkdu"

// lockTimeout bounds taking (or giving up) the lock at start.
const lockTimeout = 10 * time.Second

// upstreamLock is the advisory lock an example on PostgreSQL holds for its whole life, on
// a connection of its own (a session-level lock lives as long as its connection):
// exclusively when it runs a private fake, shared otherwise. Records on one database are
// reconciled by every example on it, so they must all talk to the same iamport: a
// private fake knows only its own payments. An exclusive holder keeps every other example
// out, and any shared holder keeps a private fake out, while any number of examples using
// one shared fake (or the real iamport) share the lock.
type upstreamLock struct {
	conn *sql.Conn
}

// lockUpstream takes the lock on a dedicated connection of db, exclusively when
// privateFake is set, and fails with advice when another example holds it the other way.
func lockUpstream(ctx context.Context, db *sql.DB, privateFake bool) (*upstreamLock, error) {
	ctx, cancel := context.WithTimeout(ctx, lockTimeout)
	defer cancel()
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	fn := "pg_try_advisory_lock_shared"
	if privateFake {
		fn = "pg_try_advisory_lock"
	}
	var (
		taken  bool
		schema string
	)
	q := fmt.Sprintf("SELECT %s(%d, hashtext(coalesce(current_schema(), ''))), coalesce(current_schema(), '')", fn, upstreamLockKey)
	if err := conn.QueryRowContext(ctx, q).Scan(&taken, &schema); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("take the example's lock on PostgreSQL: %w", err)
	}
	if !taken {
		_ = conn.Close()
		return nil, errDatabaseInUse(privateFake, schema)
	}
	return &upstreamLock{conn: conn}, nil
}

// errDatabaseInUse says why the lock was refused and what to do.
func errDatabaseInUse(privateFake bool, schema string) error {
	const fix = "Run one shared fake (go run ./cmd/fakeiamport) and start every example with -iamport-url " +
		"set to its base URL (env " + EnvIAMPortURL + "), or give each example a database or schema of " +
		"its own (search_path in the DSN)."
	if privateFake {
		return errors.New("another billkey example already uses this PostgreSQL database (schema " + schema + "): " +
			"a sandbox example with its own in-process fake of iamport cannot share it, since every example " +
			"settles the charges it finds there against its own iamport, and a private fake knows only its own " +
			"payments. " + fix)
	}
	return errors.New("a sandbox example with its own in-process fake of iamport already uses this PostgreSQL " +
		"database (schema " + schema + "): this example would settle that example's charges against another " +
		"iamport. Stop it and restart it with -iamport-url, or use another database. " + fix)
}

// ping checks that the lock's connection is still open: a lost connection is a lost lock.
func (l *upstreamLock) ping(ctx context.Context) error {
	return l.conn.PingContext(ctx)
}

// release gives the lock up and closes its connection.
func (l *upstreamLock) release() {
	ctx, cancel := context.WithTimeout(context.Background(), lockTimeout)
	defer cancel()
	// Closing a sql.Conn returns it to the pool, lock and all: unlock first.
	_, _ = l.conn.ExecContext(ctx, "SELECT pg_advisory_unlock_all()")
	_ = l.conn.Close()
}
