package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/billkey/billkey/store"
)

// Listings run newest first: the time column descending, ties by the record's id
// descending, and a NULL time (the zero time, the earliest instant) after every other.
// Each listing has an index in exactly that order (see migration 0004), so a page walks
// the index from the cursor and stops at its limit.

// chargeOrder, subscriptionOrder and inboxOrder are the listings' ORDER BY terms.
const (
	chargeOrder       = "created_at DESC NULLS LAST, merchant_uid DESC"
	subscriptionOrder = "created_at DESC NULLS LAST, subscription_id DESC"
	inboxOrder        = "received_at DESC, notification_id DESC"
)

// listing is one page of a keyset-paged listing, before it becomes SQL.
type listing struct {
	op      string // for errors
	table   string
	cols    string
	timeCol string
	idCol   string
	order   string
	// nullable says whether timeCol may be NULL (the zero time): then the rows without a
	// time, after all the others, are read by a statement of their own.
	nullable bool
	// where are the filters, AND-ed, with their arguments in args.
	where []string
	args  []any
	// branches, when there are two or more, are alternatives (each an equality with its
	// argument): each is read in index order up to the page, and the branches merged.
	branches   []string
	branchArgs []any
	from, to   time.Time // timeCol in [from, to); zero = unbounded
	after      store.Cursor
	limit      int
}

// filter adds "col = v" unless v is "".
func (l *listing) filter(col, v string) {
	if v != "" {
		l.where = append(l.where, col+" = ?")
		l.args = append(l.args, v)
	}
}

// oneOf filters col on vs: one value is a filter, several are branches (so that each
// walks its own index range in order), none is no filter.
func (l *listing) oneOf(col string, vs []string) {
	switch len(vs) {
	case 0:
	case 1:
		l.filter(col, vs[0])
	default:
		for _, v := range vs {
			l.branches = append(l.branches, col+" = ?")
			l.branchArgs = append(l.branchArgs, v)
		}
	}
}

// segment is one statement of a listing: the extra conditions on the time and id
// columns, with their arguments.
type segment struct {
	conds []string
	args  []any
}

// segments are the statements a page needs, in listing order: the rows with a time
// (bounded by the range and the cursor) and then, when the time column may be NULL and
// the range allows it, the rows without one. A page with neither a cursor nor an upper
// bound reads both in one statement: the index holds the NULLs last.
func (s *Store) segments(l *listing) []segment {
	d := s.dialect
	var dated segment
	if !l.from.IsZero() {
		dated.conds = append(dated.conds, l.timeCol+" >= ?")
		dated.args = append(dated.args, d.timeArg(l.from))
	}
	undatedToo := l.nullable && l.from.IsZero()
	switch {
	case !l.after.IsZero() && l.after.CreatedAt.IsZero():
		// The cursor is on a row without a time: only such rows follow.
		if !undatedToo {
			return nil
		}
		return []segment{{conds: []string{l.timeCol + " IS NULL", l.idCol + " < ?"}, args: []any{l.after.ID}}}
	case l.after.IsZero() && l.to.IsZero():
		return []segment{dated}
	}
	if !l.to.IsZero() {
		dated.conds = append(dated.conds, l.timeCol+" < ?")
		dated.args = append(dated.args, d.timeArg(l.to))
	}
	if !l.after.IsZero() {
		dated.conds = append(dated.conds, "("+l.timeCol+", "+l.idCol+") < (?, ?)")
		dated.args = append(dated.args, d.timeArg(l.after.CreatedAt), l.after.ID)
	}
	if !undatedToo {
		return []segment{dated}
	}
	return []segment{dated, {conds: []string{l.timeCol + " IS NULL"}}}
}

// statement is the SQL of one segment reading at most n rows, with its arguments.
func (s *Store) statement(l *listing, seg segment, n int) (string, []any) {
	where := append(append([]string{}, l.where...), seg.conds...)
	args := append(append([]any{}, l.args...), seg.args...)
	selectWhere := func(extra string) string {
		conds := where
		if extra != "" {
			conds = append(append([]string{}, where...), extra)
		}
		q := "SELECT " + l.cols + " FROM " + l.table
		if len(conds) > 0 {
			q += " WHERE " + strings.Join(conds, " AND ")
		}
		return q
	}
	if len(l.branches) < 2 {
		return selectWhere("") + " ORDER BY " + l.order + " LIMIT ?", append(args, n)
	}
	var parts []string
	var all []any
	for i, b := range l.branches {
		all = append(append(all, args...), l.branchArgs[i])
		if s.dialect == Postgres {
			// Each branch stops at the page; the merge sorts at most branches × n rows.
			parts = append(parts, "("+selectWhere(b)+" ORDER BY "+l.order+" LIMIT ?)")
			all = append(all, n)
		} else {
			// SQLite merges the branches of a compound SELECT in the ORDER BY's order, each
			// read from its index in that order: nothing is sorted.
			parts = append(parts, selectWhere(b))
		}
	}
	return strings.Join(parts, " UNION ALL ") + " ORDER BY " + l.order + " LIMIT ?", append(all, n)
}

// checkLimit rejects a page size outside 1..store.MaxPageLimit.
func (l *listing) checkLimit() error {
	if l.limit < 1 || l.limit > store.MaxPageLimit {
		return fmt.Errorf("sqlstore: %s: the limit must be 1 to %d", l.op, store.MaxPageLimit)
	}
	return nil
}

// runListing reads one page of l: up to l.limit rows and, when more follow, the cursor
// of the last one. key gives a row's time and id.
func runListing[T any](ctx context.Context, s *Store, l *listing, scan func(rowScanner) (*T, error),
	key func(*T) (time.Time, string)) ([]*T, store.Cursor, error) {
	if err := l.checkLimit(); err != nil {
		return nil, store.Cursor{}, err
	}
	// One row past the page says whether another page follows.
	want := l.limit + 1
	rows := []*T{}
	for _, seg := range s.segments(l) {
		query, args := s.statement(l, seg, want-len(rows))
		got, err := queryAll(ctx, s, l.op, scan, query, args...)
		if err != nil {
			return nil, store.Cursor{}, err
		}
		rows = append(rows, got...)
		if len(rows) >= want {
			break
		}
	}
	if len(rows) <= l.limit {
		return rows, store.Cursor{}, nil
	}
	rows = rows[:l.limit]
	at, id := key(rows[l.limit-1])
	return rows, store.Cursor{CreatedAt: at, ID: id}, nil
}

// chargeListing is the listing q asks for.
func chargeListing(q store.ChargeQuery) *listing {
	l := &listing{op: "search charges", table: "billkey_charges", cols: chargeCols,
		timeCol: "created_at", idCol: "merchant_uid", order: chargeOrder, nullable: true,
		from: q.From, to: q.To, after: q.After, limit: q.Limit}
	l.filter("merchant_uid", q.MerchantUID)
	l.filter("imp_uid", q.ImpUID)
	l.filter("subscription_id", q.SubscriptionID)
	l.filter("user_id", q.UserID)
	statuses := make([]string, len(q.Statuses))
	for i, st := range q.Statuses {
		statuses[i] = string(st)
	}
	l.oneOf("status", statuses)
	return l
}

// SearchCharges implements store.Store. Each filter has an index in the listing's
// order (user, status, subscription; merchant_uid and imp_uid are unique), so a page
// reads the rows it returns, plus those a second filter drops.
func (s *Store) SearchCharges(ctx context.Context, q store.ChargeQuery) (store.ChargePage, error) {
	rows, next, err := runListing(ctx, s, chargeListing(q), scanCharge,
		func(c *store.Charge) (time.Time, string) { return c.CreatedAt, c.MerchantUID })
	if err != nil {
		return store.ChargePage{}, err
	}
	return store.ChargePage{Charges: rows, Next: next}, nil
}

// subscriptionListing is the listing q asks for.
func subscriptionListing(q store.SubscriptionQuery) *listing {
	l := &listing{op: "search subscriptions", table: "billkey_subscriptions", cols: subscriptionCols,
		timeCol: "created_at", idCol: "subscription_id", order: subscriptionOrder, nullable: true,
		after: q.After, limit: q.Limit}
	l.filter("user_id", q.UserID)
	statuses := make([]string, len(q.Statuses))
	for i, st := range q.Statuses {
		statuses[i] = string(st)
	}
	l.oneOf("status", statuses)
	return l
}

// SearchSubscriptions implements store.Store, from the indexes on (created_at, id),
// (status, created_at, id) and (user_id, created_at, id), each in the listing's order.
func (s *Store) SearchSubscriptions(ctx context.Context, q store.SubscriptionQuery) (store.SubscriptionPage, error) {
	rows, next, err := runListing(ctx, s, subscriptionListing(q), scanSubscription,
		func(sub *store.Subscription) (time.Time, string) { return sub.CreatedAt, sub.ID })
	if err != nil {
		return store.SubscriptionPage{}, err
	}
	return store.SubscriptionPage{Subscriptions: rows, Next: next}, nil
}
