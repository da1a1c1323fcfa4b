package sqlitedb

import (
	"context"
	"database/sql/driver"
	"errors"
	"sync"
)

// stmtCacheSize bounds the statements one connection keeps prepared. sqlstore sends a
// few dozen texts (its searches vary by filter), so the bound is only a guard.
const stmtCacheSize = 256

// cachingConnector opens connections that keep their prepared statements. The store
// sends the same statements over and over, and SQLite spent about a fifth of its CPU per
// charge preparing and finalizing them again (BENCHMARKS.md).
type cachingConnector struct{ driver.Connector }

func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return newCachingConn(conn)
}

// The driver's connection must offer what database/sql needs of a modern one; the
// wrapper offers exactly that. It does not offer ExecerContext or QueryerContext, so
// database/sql prepares every statement through PrepareContext (which answers from the
// cache) and closes it when done (which gives it back).
type baseConn interface {
	driver.Conn
	driver.ConnPrepareContext
	driver.ConnBeginTx
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

type cachingConn struct {
	base baseConn

	mu    sync.Mutex
	cache map[string]*cachedStmt
}

func newCachingConn(c driver.Conn) (driver.Conn, error) {
	base, ok := c.(baseConn)
	if !ok {
		_ = c.Close()
		return nil, errors.New("sqlitedb: the SQLite driver's connection lacks a method the statement cache needs")
	}
	return &cachingConn{base: base, cache: make(map[string]*cachedStmt)}, nil
}

// cachedStmt is a statement prepared once; busy while database/sql holds it (a query's
// rows are open), when a second use of the same text gets a statement of its own.
type cachedStmt struct {
	stmt driver.Stmt
	busy bool
}

func (c *cachingConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	c.mu.Lock()
	e, ok := c.cache[query]
	if ok && !e.busy {
		e.busy = true
		c.mu.Unlock()
		return &heldStmt{stmt: e.stmt, release: func() { c.release(e) }}, nil
	}
	cacheIt := !ok && len(c.cache) < stmtCacheSize
	c.mu.Unlock()

	st, err := c.base.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if !cacheIt {
		return &heldStmt{stmt: st, release: func() { _ = st.Close() }}, nil
	}
	e = &cachedStmt{stmt: st, busy: true}
	c.mu.Lock()
	c.cache[query] = e
	c.mu.Unlock()
	return &heldStmt{stmt: st, release: func() { c.release(e) }}, nil
}

func (c *cachingConn) release(e *cachedStmt) {
	c.mu.Lock()
	e.busy = false
	c.mu.Unlock()
}

// Close finalizes every cached statement, then closes the connection.
func (c *cachingConn) Close() error {
	c.mu.Lock()
	cache := c.cache
	c.cache = nil
	c.mu.Unlock()
	var errs []error
	for _, e := range cache {
		errs = append(errs, e.stmt.Close())
	}
	errs = append(errs, c.base.Close())
	return errors.Join(errs...)
}

func (c *cachingConn) Begin() (driver.Tx, error) { //nolint:staticcheck // required by driver.Conn
	return c.base.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.base.BeginTx(ctx, opts)
}

func (c *cachingConn) Ping(ctx context.Context) error         { return c.base.Ping(ctx) }
func (c *cachingConn) ResetSession(ctx context.Context) error { return c.base.ResetSession(ctx) }
func (c *cachingConn) IsValid() bool                          { return c.base.IsValid() }

// heldStmt is what database/sql holds: the statement, given back to the cache (or, for
// one not cached, finalized) when database/sql closes it.
type heldStmt struct {
	stmt    driver.Stmt
	release func()
	once    sync.Once
}

// The driver's statements must run with a context.
type contextStmt interface {
	driver.StmtExecContext
	driver.StmtQueryContext
}

func (s *heldStmt) Close() error {
	s.once.Do(s.release)
	return nil
}

func (s *heldStmt) NumInput() int { return s.stmt.NumInput() }

func (s *heldStmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

func (s *heldStmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

func (s *heldStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	cs, ok := s.stmt.(contextStmt)
	if !ok {
		return nil, errors.New("sqlitedb: the SQLite driver's statement cannot run with a context")
	}
	return cs.ExecContext(ctx, args)
}

func (s *heldStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	cs, ok := s.stmt.(contextStmt)
	if !ok {
		return nil, errors.New("sqlitedb: the SQLite driver's statement cannot run with a context")
	}
	return cs.QueryContext(ctx, args)
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}
