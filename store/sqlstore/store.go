package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"

	"github.com/billkey/billkey/core"
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

// WithLogger makes Migrate log each migration it applies. The default is silent.
func WithLogger(l *slog.Logger) Option {
	return func(s *Store) {
		if l != nil {
			s.log = l
		}
	}
}

// Store is a core.Store on database/sql. Create it with New and call Migrate once at
// start-up. It is safe for concurrent use, and on PostgreSQL across processes.
type Store struct {
	db      *sql.DB
	dialect Dialect
	log     *slog.Logger
	// migrations holds the directories sqlite/ and postgres/ of NNNN_name.sql files.
	migrations fs.FS
}

var _ core.Store = (*Store)(nil)

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

// inTx runs fn in a transaction, committing when fn returns nil.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) (err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// missOrConflict explains why a compare-and-set UPDATE on table matched no row:
// ErrConflict if the row exists (its state differed), ErrNotFound otherwise.
func (s *Store) missOrConflict(ctx context.Context, q querier, table, merchantUID string) error {
	var one int
	err := q.QueryRowContext(ctx, s.q("SELECT 1 FROM "+table+" WHERE merchant_uid = ?"), merchantUID).Scan(&one)
	switch {
	case err == nil:
		return core.ErrConflict
	case errors.Is(err, sql.ErrNoRows):
		return core.ErrNotFound
	default:
		return err
	}
}

// forUpdate is the row-locking suffix for SELECTs inside write transactions; SQLite's
// write transactions are exclusive already.
func (s *Store) forUpdate() string {
	if s.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}
