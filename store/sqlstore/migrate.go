package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFiles embed.FS

// migrationsTable records which migrations have been applied.
const migrationsTable = "billkey_schema_migrations"

// pgMigrateLockKey is the first key of the PostgreSQL advisory lock Migrate holds; the
// second is a hash of the current schema, so stores in different schemas do not wait for
// each other.
const pgMigrateLockKey = 0x626b6d67 // "bkmg"

// migration is one embedded schema change.
type migration struct {
	version int
	name    string // file name
	sql     string
}

// dir returns the embedded migrations directory of the dialect.
func (d Dialect) dir() string {
	if d == Postgres {
		return "postgres"
	}
	return "sqlite"
}

// loadMigrations reads the dialect's migrations, ordered by version. Files are named
// NNNN_description.sql; versions are unique and positive.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: read migrations: %w", err)
	}
	var ms []migration
	seen := map[int]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".sql") {
			continue
		}
		prefix, _, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("sqlstore: migration %q: want NNNN_description.sql", name)
		}
		v, err := strconv.Atoi(prefix)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("sqlstore: migration %q: bad version", name)
		}
		if other, dup := seen[v]; dup {
			return nil, fmt.Errorf("sqlstore: migrations %q and %q share version %d", other, name, v)
		}
		seen[v] = name
		body, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("sqlstore: read migration %q: %w", name, err)
		}
		ms = append(ms, migration{version: v, name: name, sql: string(body)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	return ms, nil
}

// Migrate creates or upgrades the billkey tables to the schema this build embeds. It is
// idempotent: migrations already recorded in billkey_schema_migrations are skipped. All
// pending migrations are applied in one transaction, so a failure leaves the schema as it
// was. On PostgreSQL the transaction holds an advisory lock, so several instances may call
// Migrate at the same time; on SQLite the write transaction serialises callers. Versions
// recorded by a newer build are left alone, so an older instance keeps starting during a
// rolling upgrade.
func (s *Store) Migrate(ctx context.Context) error {
	ms, err := loadMigrations(s.migrations, s.dialect.dir())
	if err != nil {
		return err
	}
	applied := 0
	err = txOn(ctx, s.db, func(ctx context.Context, tx querier) error {
		if s.dialect == Postgres {
			// current_schema() is NULL when no schema on the search_path exists; the
			// CREATE TABLE below then fails with a clear error, so only the lock needs a value.
			if _, err := tx.ExecContext(ctx, fmt.Sprintf(
				"SELECT pg_advisory_xact_lock(%d, hashtext(coalesce(current_schema(), '')))", pgMigrateLockKey)); err != nil {
				return fmt.Errorf("lock: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.migrationsDDL()); err != nil {
			return fmt.Errorf("create %s: %w", migrationsTable, err)
		}
		done, err := appliedVersions(ctx, tx)
		if err != nil {
			return err
		}
		for _, m := range ms {
			if done[m.version] {
				continue
			}
			if _, err := tx.ExecContext(ctx, m.sql); err != nil {
				return fmt.Errorf("apply %s: %w", m.name, err)
			}
			if _, err := tx.ExecContext(ctx,
				s.q("INSERT INTO "+migrationsTable+" (version, name, applied_at) VALUES (?, ?, ?)"),
				m.version, m.name, s.dialect.timeArg(time.Now())); err != nil {
				return fmt.Errorf("record %s: %w", m.name, err)
			}
			applied++
			s.log.InfoContext(ctx, "sqlstore: applied migration", "dialect", s.dialect.String(), "version", m.version, "name", m.name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	if applied == 0 {
		s.log.DebugContext(ctx, "sqlstore: schema up to date", "dialect", s.dialect.String())
	}
	return nil
}

// SchemaVersion returns the highest migration version applied to the database, 0 if
// none (Migrate never ran).
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var exists int
	var err error
	if s.dialect == Postgres {
		err = s.db.QueryRowContext(ctx, "SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = current_schema() AND tablename = $1", migrationsTable).Scan(&exists)
	} else {
		err = s.db.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", migrationsTable).Scan(&exists)
	}
	if err != nil {
		return 0, fmt.Errorf("sqlstore: schema version: %w", err)
	}
	if exists == 0 {
		return 0, nil
	}
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, "SELECT max(version) FROM "+migrationsTable).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlstore: schema version: %w", err)
	}
	return int(v.Int64), nil
}

func (s *Store) migrationsDDL() string {
	timeType := "INTEGER"
	if s.dialect == Postgres {
		timeType = "TIMESTAMPTZ"
	}
	return "CREATE TABLE IF NOT EXISTS " + migrationsTable + ` (
    version    INTEGER NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at ` + timeType + `
)`
}

func appliedVersions(ctx context.Context, tx querier) (map[int]bool, error) {
	rows, err := tx.QueryContext(ctx, "SELECT version FROM "+migrationsTable)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", migrationsTable, err)
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		done[v] = true
	}
	return done, rows.Err()
}
