package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/billkey/billkey/store"
)

// rebind rewrites the '?' placeholders of q for the dialect: PostgreSQL gets $1, $2, ...
// Queries in this package never contain '?' inside string literals.
func (d Dialect) rebind(q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 16)
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(q[i])
	}
	return b.String()
}

// placeholders returns "?, ?, ..." with n entries (n >= 1).
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// timeArg converts t to what the dialect stores: NULL for the zero time, INTEGER
// microseconds since the Unix epoch for SQLite, a UTC time.Time for PostgreSQL. Both
// dialects keep microsecond precision; finer digits are truncated.
func (d Dialect) timeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond)
	if d == Postgres {
		return t
	}
	return t.UnixMicro()
}

// nullString stores "" as NULL (for columns where UNIQUE must ignore unknown values).
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// timeCol scans a time column of either dialect into a UTC time.Time; NULL is the zero time.
type timeCol struct{ t *time.Time }

// Scan implements sql.Scanner.
func (c timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	case time.Time:
		*c.t = v.UTC()
	case []byte:
		return c.scanText(string(v))
	case string:
		return c.scanText(v)
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a time", src)
	}
	return nil
}

func (c timeCol) scanText(s string) error {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		*c.t = time.UnixMicro(n).UTC()
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return fmt.Errorf("sqlstore: cannot scan %q into a time", s)
	}
	*c.t = t.UTC()
	return nil
}

// strCol scans a nullable text column into a string; NULL is "".
type strCol struct{ s *string }

// Scan implements sql.Scanner.
func (c strCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.s = ""
	case string:
		*c.s = v
	case []byte:
		*c.s = string(v)
	default:
		return fmt.Errorf("sqlstore: cannot scan %T into a string", src)
	}
	return nil
}

// sqlStater is implemented by PostgreSQL driver errors such as pgx's *pgconn.PgError.
type sqlStater interface{ SQLState() string }

// coder is implemented by modernc.org/sqlite's *Error (extended result code).
type coder interface{ Code() int }

// SQLite extended result codes for uniqueness violations.
const (
	sqliteConstraintPrimaryKey = 1555
	sqliteConstraintUnique     = 2067
)

// isUniqueViolation reports whether err is a unique-constraint violation in either
// dialect, without importing a driver.
func isUniqueViolation(err error) bool {
	if err == nil {
		return false
	}
	var st sqlStater
	if errors.As(err, &st) && st.SQLState() == "23505" {
		return true
	}
	var c coder
	if errors.As(err, &c) {
		if code := c.Code(); code == sqliteConstraintUnique || code == sqliteConstraintPrimaryKey {
			return true
		}
	}
	msg := err.Error()
	return strings.Contains(msg, "UNIQUE constraint failed") ||
		strings.Contains(msg, "SQLSTATE 23505") ||
		strings.Contains(msg, "duplicate key value violates unique constraint")
}

// mapErr turns driver errors into the core sentinels where one applies.
func mapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrNotFound)
	case isUniqueViolation(err):
		return fmt.Errorf("sqlstore: %s: %w", op, store.ErrDuplicate)
	case errors.Is(err, store.ErrNotFound), errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrDuplicate):
		return err
	default:
		return fmt.Errorf("sqlstore: %s: %w", op, err)
	}
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface {
	Scan(dest ...any) error
}

// querier is *sql.DB or *sql.Tx.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// queryOne runs a single-row query (one that only reads) on the database and scans it; errors are mapped for op
// (no row is ErrNotFound).
func queryOne[T any](ctx context.Context, s *Store, op string, scan func(rowScanner) (*T, error), query string, args ...any) (*T, error) {
	v, err := scan(s.db.QueryRowContext(ctx, s.q(query), args...))
	if err != nil {
		return nil, mapErr(op, err)
	}
	return v, nil
}

// queryAll runs query, which only reads, on the database and scans every row; no rows is an empty, non-nil
// slice. Errors are mapped for op.
func queryAll[T any](ctx context.Context, s *Store, op string, scan func(rowScanner) (*T, error), query string, args ...any) ([]*T, error) {
	out, err := scanAll(ctx, s.db, s.q(query), scan, args...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// scanAll runs query on q and scans every row; no rows is an empty, non-nil slice.
func scanAll[T any](ctx context.Context, q querier, query string, scan func(rowScanner) (*T, error), args ...any) ([]*T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*T{}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// writeOne runs a single-row statement that writes (INSERT or UPDATE ... RETURNING) on
// the store's write path and scans its row; errors are mapped for op (no row is
// ErrNotFound).
func writeOne[T any](ctx context.Context, s *Store, op string, scan func(rowScanner) (*T, error), query string, args ...any) (*T, error) {
	var v *T
	err := s.write(ctx, func(ctx context.Context, q querier) (err error) {
		v, err = scan(q.QueryRowContext(ctx, s.q(query), args...))
		return err
	})
	if err != nil {
		return nil, mapErr(op, err)
	}
	return v, nil
}

// updateOne runs update, a compare-and-set UPDATE ... RETURNING of the row of table whose
// keyCol is key, on the store's write path and scans the row. When it matches nothing, a
// lookup in the same write tells ErrConflict (the row's state differed) from ErrNotFound.
// Errors are mapped for op.
func updateOne[T any](ctx context.Context, s *Store, op string, scan func(rowScanner) (*T, error),
	table, keyCol, key, update string, args ...any) (*T, error) {
	var v *T
	err := s.write(ctx, func(ctx context.Context, q querier) (err error) {
		v, err = scan(q.QueryRowContext(ctx, s.q(update), args...))
		if errors.Is(err, sql.ErrNoRows) {
			err = s.missOrConflict(ctx, q, table, keyCol, key)
		}
		return err
	})
	if err != nil {
		return nil, mapErr(op, err)
	}
	return v, nil
}

// writeAll runs a statement that writes (UPDATE ... RETURNING) on the store's write path
// and scans every row; no rows is an empty, non-nil slice. Errors are mapped for op.
func writeAll[T any](ctx context.Context, s *Store, op string, scan func(rowScanner) (*T, error), query string, args ...any) ([]*T, error) {
	var out []*T
	err := s.write(ctx, func(ctx context.Context, q querier) (err error) {
		out, err = scanAll(ctx, q, s.q(query), scan, args...)
		return err
	})
	if err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// writeExec runs a statement that writes and returns no rows on the store's write path,
// answering how many rows it changed. Errors are mapped for op.
func writeExec(ctx context.Context, s *Store, op string, query string, args ...any) (int64, error) {
	var n int64
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		res, err := q.ExecContext(ctx, s.q(query), args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return 0, mapErr(op, err)
	}
	return n, nil
}

// sortByTime orders rows by the time key returns, then by the merchant_uid, stably.
func sortByTime[T any](rows []*T, key func(*T) (time.Time, string)) {
	sort.SliceStable(rows, func(i, j int) bool {
		ti, ui := key(rows[i])
		tj, uj := key(rows[j])
		if !ti.Equal(tj) {
			return ti.Before(tj)
		}
		return ui < uj
	})
}

// updatePicked builds one statement that sets set (with setArgs) on the rows of table
// whose ids pick selects (with pickArgs) and returns cols of each: on PostgreSQL the
// picked rows are locked with FOR UPDATE SKIP LOCKED, so concurrent callers take
// different rows instead of waiting; on SQLite one statement is one write transaction, so
// nothing interleaves. Either way the picked rows are then found by primary key: a join
// with the picked ids lets PostgreSQL's planner hash them and scan the whole table.
func (s *Store) updatePicked(table, set string, setArgs []any, pick string, pickArgs []any, cols string) (string, []any) {
	if s.dialect == Postgres {
		return `WITH picked AS (` + pick + ` FOR UPDATE SKIP LOCKED)
UPDATE ` + table + ` SET ` + set + `
WHERE id = ANY (ARRAY(SELECT id FROM picked))
RETURNING ` + cols, append(append([]any{}, pickArgs...), setArgs...)
	}
	return `UPDATE ` + table + ` SET ` + set + `
WHERE id IN (` + pick + `)
RETURNING ` + cols, append(append([]any{}, setArgs...), pickArgs...)
}

// assignments collects the "col = ?" parts of an UPDATE's SET clause and their arguments.
type assignments struct {
	sets []string
	args []any
}

// add appends "expr" with its argument (expr holds one '?').
func (a *assignments) add(expr string, arg any) {
	a.sets = append(a.sets, expr)
	a.args = append(a.args, arg)
}

// str sets col to v unless v is "".
func (a *assignments) str(col, v string) {
	if v != "" {
		a.add(col+" = ?", v)
	}
}

// time sets col to t (as the dialect stores it) unless t is zero.
func (a *assignments) time(d Dialect, col string, t time.Time) {
	if !t.IsZero() {
		a.add(col+" = ?", d.timeArg(t))
	}
}

// clause is the SET clause.
func (a *assignments) clause() string { return strings.Join(a.sets, ", ") }
