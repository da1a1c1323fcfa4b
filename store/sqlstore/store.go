package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"time"

	"github.com/billkey/billkey/store"
)

// Dialect selects the SQL flavour of the database behind the *sql.DB.
type Dialect int

// Supported dialects.
const (
	// SQLite is SQLite 3.35 or later (RETURNING), e.g. modernc.org/sqlite as opened by
	// package sqlitedb. For one process only.
	SQLite Dialect = iota + 1
	// Postgres is PostgreSQL 12 or later, e.g. through github.com/jackc/pgx/v5/stdlib as
	// opened by package pgdb. Safe for several instances sharing one database.
	Postgres
)

// String returns "sqlite" or "postgres".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	default:
		return fmt.Sprintf("Dialect(%d)", int(d))
	}
}

// Option configures a Store.
type Option func(*Store)

// WithClock makes the store measure leases on clock instead of the database's clock. For
// tests that move time; a store shared by several instances must keep the database's.
func WithClock(clock func() time.Time) Option {
	return func(s *Store) { s.clock = clock }
}

// WithLogger makes Migrate log each migration it applies. The default is silent.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// Store is a store.Store on database/sql. Create it with New and call Migrate once at
// start-up. It is safe for concurrent use, and on PostgreSQL across processes.
type Store struct {
	db      *sql.DB
	dialect Dialect
	log     *slog.Logger
	clock   func() time.Time // nil: the database's clock
	group   *groupCommit     // SQLite's write path; nil on PostgreSQL
	// migrations holds the directories sqlite/ and postgres/ of NNNN_name.sql files.
	migrations fs.FS
}

var _ store.Store = (*Store)(nil)

// New returns a Store over db. It neither opens nor migrates anything: the caller owns db
// (and closes it) and calls Migrate before first use.
func New(db *sql.DB, dialect Dialect, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: nil *sql.DB")
	}
	if dialect != SQLite && dialect != Postgres {
		return nil, fmt.Errorf("sqlstore: unknown dialect %v", dialect)
	}
	s := &Store{
		db:      db,
		dialect: dialect,
		log:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: embedded migrations: %w", err)
	}
	s.migrations = sub
	if dialect == SQLite {
		s.group = &groupCommit{db: db}
	}
	for _, o := range opts {
		if o != nil {
			o(s)
		}
	}
	return s, nil
}

// Dialect returns the store's dialect.
func (s *Store) Dialect() Dialect { return s.dialect }

// q rebinds a query written with '?' placeholders for the store's dialect.
func (s *Store) q(query string) string { return s.dialect.rebind(query) }

// write runs fn, whose statements write but need not be atomic together, on the
// store's write path: on PostgreSQL straight on the pool, each statement its own
// transaction; on SQLite in the next group commit (groupcommit.go), returning once that is
// on disk. fn must use ctx and q only: on SQLite q is the group's transaction, and the pool
// may have no other connection to give (an in-memory database has one).
func (s *Store) write(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	if s.group != nil {
		return s.group.do(ctx, fn)
	}
	return fn(ctx, s.db)
}

// inTx runs fn atomically on the store's write path: on PostgreSQL in a transaction of
// its own, on SQLite in a savepoint of the next group commit. fn must use ctx and q only.
func (s *Store) inTx(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	if s.group != nil {
		return s.group.do(ctx, fn)
	}
	return txOn(ctx, s.db, fn)
}

// txOn runs fn in a transaction of its own on db, committing when fn returns nil.
func txOn(ctx context.Context, db *sql.DB, fn func(ctx context.Context, q querier) error) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

// missOrConflict explains why a compare-and-set UPDATE of the row of table whose column
// keyCol is key matched no row: ErrConflict if the row exists (its state differed),
// ErrNotFound otherwise.
func (s *Store) missOrConflict(ctx context.Context, q querier, table, keyCol, key string) error {
	var one int
	err := q.QueryRowContext(ctx, s.q("SELECT 1 FROM "+table+" WHERE "+keyCol+" = ?"), key).Scan(&one)
	switch {
	case err == nil:
		return store.ErrConflict
	case errors.Is(err, sql.ErrNoRows):
		return store.ErrNotFound
	default:
		return err
	}
}

// clockPlus is SQL for the store's clock plus d (a lease's end), with its arguments: the
// database's clock, so that instances whose own clocks differ agree on every lease.
func (s *Store) clockPlus(d time.Duration) (string, []any) {
	return s.clockAt()(d)
}

// clockAt returns clockPlus for one statement: with WithClock's clock, read once, so that
// the instants a statement compares with and the lease it takes are the same "now".
func (s *Store) clockAt() func(d time.Duration) (string, []any) {
	if s.clock != nil {
		now := s.clock()
		return func(d time.Duration) (string, []any) { return "?", []any{s.dialect.timeArg(now.Add(d))} }
	}
	if s.dialect == Postgres {
		return func(d time.Duration) (string, []any) {
			return "(clock_timestamp() + ? * interval '1 microsecond')", []any{d.Microseconds()}
		}
	}
	return func(d time.Duration) (string, []any) { return "(" + sqliteNowMicros + " + ?)", []any{d.Microseconds()} }
}

// sqliteNowMicros is SQLite's clock in microseconds since the Unix epoch (to the
// millisecond), in integers only and with functions every supported version has:
// unixepoch('subsec') needs 3.42, and older versions answer NULL for it, a lease that
// never holds. Both 'now's of one statement are the same instant.
const sqliteNowMicros = "(CAST(strftime('%s', 'now') AS INTEGER) * 1000000 + CAST(substr(strftime('%f', 'now'), 4) AS INTEGER) * 1000)"

// boolLit is a boolean literal of the dialect (SQLite keeps booleans as 0 and 1).
func (s *Store) boolLit(b bool) string {
	switch {
	case s.dialect == Postgres && b:
		return "TRUE"
	case s.dialect == Postgres:
		return "FALSE"
	case b:
		return "1"
	}
	return "0"
}

// forUpdate is the row-locking suffix for SELECTs inside write transactions; SQLite's
// write transactions are exclusive already.
func (s *Store) forUpdate() string {
	if s.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}
