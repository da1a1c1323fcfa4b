package pgdb

import (
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Open parses dsn (a postgres:// URL or key=value string, as pgx accepts) and returns a
// pooled *sql.DB. Like sql.Open it does not connect; call PingContext to check the server.
// The tables go to the first schema of the connection's search_path (set it with the
// search_path run-time parameter in the DSN to keep them in their own schema). The
// caller closes the *sql.DB. Errors do not repeat the DSN, which may hold a password.
func Open(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("pgdb: invalid DSN (not repeated here: it may hold a password)")
	}
	return stdlib.OpenDB(*cfg), nil
}
