package pgdb

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Pool defaults. PostgreSQL's own default max_connections is 100 (3 of them reserved for
// superusers), and every instance of a service brings its own pool: 16 leaves room for
// several instances, migrations and a psql session. A charge holds a connection only for
// its SQL statements, never while iamport answers, so 16 serve far more than 16
// concurrent requests.
const (
	DefaultMaxConns        = 16
	DefaultConnMaxLifetime = 30 * time.Minute
	DefaultConnMaxIdleTime = 5 * time.Minute
)

// DSN parameters Open reads (and removes before connecting, so the server never sees
// them). They take the names pgxpool uses for the same settings.
const (
	ParamMaxConns        = "pool_max_conns"          // integer > 0
	ParamConnMaxLifetime = "pool_max_conn_lifetime"  // duration such as "30m"; "0" = no limit
	ParamConnMaxIdleTime = "pool_max_conn_idle_time" // duration such as "5m"; "0" = no limit
)

// Option changes a pool setting; an Option wins over the DSN parameter of the same
// setting, which wins over the default.
type Option func(*poolSettings)

// WithMaxConns sets how many connections the pool opens at most, and keeps as many idle.
// Values below 1 are ignored.
func WithMaxConns(n int) Option {
	return func(p *poolSettings) {
		if n > 0 {
			p.maxConns = n
		}
	}
}

// WithConnMaxLifetime sets how long a connection is used before it is replaced (0 = no
// limit). Negative values are ignored.
func WithConnMaxLifetime(d time.Duration) Option {
	return func(p *poolSettings) {
		if d >= 0 {
			p.lifetime = d
		}
	}
}

// WithConnMaxIdleTime sets how long a connection may sit idle before it is closed (0 =
// no limit). Negative values are ignored.
func WithConnMaxIdleTime(d time.Duration) Option {
	return func(p *poolSettings) {
		if d >= 0 {
			p.idleTime = d
		}
	}
}

type poolSettings struct {
	maxConns           int
	lifetime, idleTime time.Duration
}

// Open parses dsn (a postgres:// URL or key=value string, as pgx accepts) and returns a
// pooled *sql.DB. Like sql.Open it does not connect; call PingContext to check the server.
//
// The pool opens at most DefaultMaxConns connections and keeps all of them idle between
// requests (database/sql would keep 2, so a busy service would open a new connection for
// a large share of its queries and could exhaust the server's max_connections). Each
// connection is replaced after DefaultConnMaxLifetime and closed after
// DefaultConnMaxIdleTime unused. Change them with the pool_* DSN parameters or the
// options; keep MaxConns times the number of instances below the server's
// max_connections.
//
// The tables go to the first schema of the connection's search_path (set it with the
// search_path run-time parameter in the DSN to keep them in their own schema). The
// caller closes the *sql.DB. Errors do not repeat the DSN, which may hold a password.
func Open(dsn string, opts ...Option) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("pgdb: invalid DSN (not repeated here: it may hold a password)")
	}
	ps, err := poolFromParams(cfg.RuntimeParams)
	if err != nil {
		return nil, err
	}
	for _, o := range opts {
		if o != nil {
			o(&ps)
		}
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(ps.maxConns)
	db.SetMaxIdleConns(ps.maxConns)
	db.SetConnMaxLifetime(ps.lifetime)
	db.SetConnMaxIdleTime(ps.idleTime)
	return db, nil
}

// poolFromParams takes the pool_* parameters out of params (pgx would send them to the
// server as run-time parameters) and returns the settings they give over the defaults.
func poolFromParams(params map[string]string) (poolSettings, error) {
	ps := poolSettings{maxConns: DefaultMaxConns, lifetime: DefaultConnMaxLifetime, idleTime: DefaultConnMaxIdleTime}
	if v, ok := params[ParamMaxConns]; ok {
		delete(params, ParamMaxConns)
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return ps, fmt.Errorf("pgdb: DSN parameter %s must be an integer of at least 1", ParamMaxConns)
		}
		ps.maxConns = n
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{{ParamConnMaxLifetime, &ps.lifetime}, {ParamConnMaxIdleTime, &ps.idleTime}} {
		v, ok := params[d.name]
		if !ok {
			continue
		}
		delete(params, d.name)
		t, err := time.ParseDuration(v)
		if err != nil || t < 0 {
			return ps, fmt.Errorf("pgdb: DSN parameter %s must be a duration such as 30m (0 = no limit)", d.name)
		}
		*d.dst = t
	}
	return ps, nil
}
