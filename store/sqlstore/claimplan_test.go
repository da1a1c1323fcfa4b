package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
	"github.com/billkey/billkey/store/sqlstore"
)

// seedSub is what one seeded subscription differs in.
type seedSub struct {
	next         time.Time // NextActionAt; zero: nothing to do
	claimedUntil time.Time // zero: no lease
}

// seedSubscriptions inserts n active subscriptions of one plan, with ids prefix + i and
// each i-th as row(i) says, in one transaction: a large table in a moment, for the
// benchmark and the plan test.
func seedSubscriptions(tb testing.TB, db *sql.DB, d sqlstore.Dialect, prefix string, n int, row func(i int) seedSub) {
	tb.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(tb, err)
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, rebindTest(d, `INSERT INTO billkey_subscriptions
(subscription_id, user_id, idempotency_key, plan_id, slot, status, next_action_at, created_at, updated_at,
 version, claimed_by, claimed_until)
VALUES (?, ?, 'start', 'basic', 'basic', 'active', ?, ?, ?, 1, ?, ?)`))
	require.NoError(tb, err)
	defer stmt.Close()
	created := time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)
	for i := range n {
		r := row(i)
		owner := ""
		if !r.claimedUntil.IsZero() {
			owner = "elsewhere"
		}
		id := fmt.Sprintf("%s%06d", prefix, i)
		_, err := stmt.ExecContext(ctx, id, "u"+id, timeValue(d, r.next), timeValue(d, created), timeValue(d, created),
			owner, timeValue(d, r.claimedUntil))
		require.NoError(tb, err)
	}
	require.NoError(tb, stmt.Close())
	require.NoError(tb, tx.Commit())
}

// A claim is bounded: its plan walks the next-action index from the earliest due
// subscription and stops at the limit, never scanning or sorting the table, so its cost
// does not grow with the subscriptions that are not due, have nothing to do or ended.
// On PostgreSQL EXPLAIN ANALYZE also counts the rows the walk read: the claimed ones and
// the due ones whose lease holds, nothing else.
func TestClaimSubscriptionsIsBounded(t *testing.T) {
	const (
		total, held, due, notDue = 5000, 50, 1000, 1950 // the rest have nothing to do
		limit                    = 100
	)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t)
			s := newStore(t, db, b.dialect)
			at := time.Date(2030, 1, 31, 0, 0, 0, 0, time.UTC)
			leaseEnd := time.Now().Add(time.Hour)
			seedSubscriptions(t, db, b.dialect, "sb", total, func(i int) seedSub {
				switch {
				case i < held: // the earliest due, and another instance is at work on them
					return seedSub{next: at.Add(-time.Hour + time.Duration(i)*time.Millisecond), claimedUntil: leaseEnd}
				case i < held+due:
					return seedSub{next: at.Add(time.Duration(i) * time.Millisecond)}
				case i < held+due+notDue:
					return seedSub{next: at.Add(time.Duration(i) * time.Hour)}
				default:
					return seedSub{}
				}
			})
			req := store.SubscriptionClaim{Due: at.Add(time.Minute), Lease: store.Lease{Owner: "plan", For: time.Minute}, Limit: limit}
			query, args := s.ClaimSubscriptionsQuery(req)
			if b.dialect == sqlstore.Postgres {
				// As autovacuum keeps it: before its first ANALYZE a table this small is
				// cheaper to scan whole, by PostgreSQL's estimate.
				_, err := db.ExecContext(t.Context(), "ANALYZE billkey_subscriptions")
				require.NoError(t, err)
				requireBoundedPostgresPlan(t, db, query, args, limit+held)
			} else {
				// SQLite has statistics only when someone runs ANALYZE: both plans count.
				requireBoundedSQLitePlan(t, db, query, args, "without statistics")
				_, err := db.ExecContext(t.Context(), "ANALYZE")
				require.NoError(t, err)
				requireBoundedSQLitePlan(t, db, query, args, "analyzed")
			}

			// The plan claims what it should.
			got, err := s.ClaimSubscriptions(t.Context(), req)
			require.NoError(t, err)
			require.Len(t, got, limit)
			for i, sub := range got {
				assert.Equal(t, fmt.Sprintf("sb%06d", held+i), sub.ID)
			}
		})
	}
}

// sqlitePlan returns the steps of SQLite's plan for query.
func sqlitePlan(t *testing.T, db *sql.DB, query string, args []any) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+query, args...)
	require.NoError(t, err)
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Err())
	require.NoError(t, rows.Close())
	return plan
}

// requireNoTableScan checks that no step of plan scans table whole.
func requireNoTableScan(t *testing.T, plan []string, table, stats string) {
	t.Helper()
	for _, step := range plan {
		assert.False(t, step == "SCAN "+table || strings.HasPrefix(step, "SCAN "+table+" "),
			"%s: a scan of the table\n%s", stats, strings.Join(plan, "\n"))
	}
}

// requireBoundedSQLitePlan checks SQLite's plan for query: a search of the next-action
// index, no full scan of the table and no sort.
func requireBoundedSQLitePlan(t *testing.T, db *sql.DB, query string, args []any, stats string) {
	t.Helper()
	plan := sqlitePlan(t, db, query, args)
	text := strings.Join(plan, "\n")
	walked := false
	for _, step := range plan {
		walked = walked || strings.HasPrefix(step, "SEARCH billkey_subscriptions USING ") &&
			strings.HasSuffix(step, "INDEX billkey_subscriptions_next_action_idx (next_action_at<?)")
	}
	assert.True(t, walked, "%s: the next-action index is not searched\n%s", stats, text)
	assert.NotContains(t, text, "TEMP B-TREE", "%s: a sort\n%s", stats, text)
	requireNoTableScan(t, plan, "billkey_subscriptions", stats)
}

// pgPlanNode is one node of PostgreSQL's EXPLAIN (FORMAT JSON).
type pgPlanNode struct {
	NodeType        string       `json:"Node Type"`
	RelationName    string       `json:"Relation Name"`
	IndexName       string       `json:"Index Name"`
	ActualRows      float64      `json:"Actual Rows"`
	ActualLoops     float64      `json:"Actual Loops"`
	RemovedByFilter float64      `json:"Rows Removed by Filter"`
	Plans           []pgPlanNode `json:"Plans"`
}

// read is how many rows the node read: passed on or filtered out, in all its loops.
func (n pgPlanNode) read() float64 { return (n.ActualRows + n.RemovedByFilter) * max(n.ActualLoops, 1) }

func (n pgPlanNode) walk(fn func(pgPlanNode)) {
	fn(n)
	for _, c := range n.Plans {
		c.walk(fn)
	}
}

// explainPostgres runs query under EXPLAIN ANALYZE in a transaction it rolls back and
// returns the plan, and its JSON for messages.
func explainPostgres(t *testing.T, db *sql.DB, query string, args []any) (pgPlanNode, []byte) {
	t.Helper()
	tx, err := db.BeginTx(t.Context(), nil)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback() }()
	var raw []byte
	require.NoError(t, tx.QueryRowContext(t.Context(), "EXPLAIN (ANALYZE, FORMAT JSON) "+query, args...).Scan(&raw))
	require.NoError(t, tx.Rollback())
	var out []struct {
		Plan pgPlanNode `json:"Plan"`
	}
	require.NoError(t, json.Unmarshal(raw, &out))
	require.Len(t, out, 1)
	return out[0].Plan, raw
}

// requireBoundedPostgresPlan checks PostgreSQL's plan for query: an index scan of the
// next-action index that read at most maxRead rows (passed on or filtered out), no
// sequential scan of the table, no sort.
func requireBoundedPostgresPlan(t *testing.T, db *sql.DB, query string, args []any, maxRead int) {
	t.Helper()
	plan, raw := explainPostgres(t, db, query, args)
	walked := false
	plan.walk(func(n pgPlanNode) {
		assert.NotContains(t, n.NodeType, "Sort", "a sort\n%s", raw)
		assert.False(t, n.NodeType == "Seq Scan" && n.RelationName == "billkey_subscriptions",
			"a scan of the table\n%s", raw)
		if n.IndexName == "billkey_subscriptions_next_action_idx" {
			walked = true
			// A bitmap scan would read every due row before the limit applies.
			assert.Contains(t, []string{"Index Scan", "Index Only Scan"}, n.NodeType, "no walk in order\n%s", raw)
			assert.LessOrEqual(t, n.read(), float64(maxRead), "rows read\n%s", raw)
		}
	})
	assert.True(t, walked, "the next-action index is not used\n%s", raw)
}

// seedCharges inserts n charges with merchant_uids prefix + i, the i-th in status(i) and
// holding no lease, in one transaction.
func seedCharges(tb testing.TB, db *sql.DB, d sqlstore.Dialect, prefix string, n int, status func(i int) store.ChargeStatus) {
	tb.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(tb, err)
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, rebindTest(d, `INSERT INTO billkey_charges
(merchant_uid, user_id, idempotency_key, amount, status, attempts, created_at, updated_at)
VALUES (?, ?, ?, 9900, ?, 1, ?, ?)`))
	require.NoError(tb, err)
	defer stmt.Close()
	at := time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)
	for i := range n {
		mu := fmt.Sprintf("%s%06d", prefix, i)
		_, err := stmt.ExecContext(ctx, mu, "u"+mu, mu, string(status(i)), timeValue(d, at), timeValue(d, at))
		require.NoError(tb, err)
	}
	require.NoError(tb, stmt.Close())
	require.NoError(tb, tx.Commit())
}

// A reconciler's claim reads the charges it may take (pending, charging, unknown, held
// failures), never the settled history, which is most of the table: the claimed rows are
// found by primary key, not by a scan of the table.
func TestClaimChargesSkipsSettledHistory(t *testing.T) {
	const settled, active, limit = 5000, 200, 100
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t)
			s := newStore(t, db, b.dialect)
			seedCharges(t, db, b.dialect, "mh", settled+active, func(i int) store.ChargeStatus {
				if i < settled {
					return store.ChargePaid
				}
				return store.ChargeCharging
			})
			req := store.ClaimRequest{
				Statuses: []store.ChargeStatus{store.ChargePending, store.ChargeCharging, store.ChargeUnknown},
				Held:     []store.ChargeStatus{store.ChargeFailed},
				Lease:    store.Lease{Owner: "plan", For: time.Minute}, Limit: limit,
			}
			query, args := s.ClaimChargesQuery(req)
			if b.dialect != sqlstore.Postgres {
				requireNoTableScan(t, sqlitePlan(t, db, query, args), "billkey_charges", "without statistics")
				return
			}
			_, err := db.ExecContext(t.Context(), "ANALYZE billkey_charges")
			require.NoError(t, err)
			plan, raw := explainPostgres(t, db, query, args)
			plan.walk(func(n pgPlanNode) {
				if n.RelationName == "billkey_charges" || strings.HasPrefix(n.IndexName, "billkey_charges_") {
					assert.NotEqual(t, "Seq Scan", n.NodeType, "a scan of the table\n%s", raw)
					assert.LessOrEqual(t, n.read(), float64(active), "rows read\n%s", raw)
				}
			})
		})
	}
}
