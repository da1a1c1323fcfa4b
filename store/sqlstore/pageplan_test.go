package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
	"github.com/billkey/billkey/store/sqlstore"
)

// seedUserChargesTx inserts n paid charges of user, one second apart from at, in one
// transaction; it returns their merchant_uids, oldest first.
func seedUserChargesTx(tb testing.TB, db *sql.DB, d sqlstore.Dialect, user, prefix string, n int, at time.Time) []string {
	tb.Helper()
	ctx := context.Background()
	tx, err := db.BeginTx(ctx, nil)
	require.NoError(tb, err)
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, rebindTest(d, `INSERT INTO billkey_charges
(merchant_uid, user_id, idempotency_key, amount, status, attempts, created_at, updated_at)
VALUES (?, ?, ?, 9900, 'paid', 1, ?, ?)`))
	require.NoError(tb, err)
	defer stmt.Close()
	uids := make([]string, n)
	for i := range n {
		uids[i] = fmt.Sprintf("%s%06d", prefix, i)
		t := at.Add(time.Duration(i) * time.Second)
		_, err := stmt.ExecContext(ctx, uids[i], user, uids[i], timeValue(d, t), timeValue(d, t))
		require.NoError(tb, err)
	}
	require.NoError(tb, stmt.Close())
	require.NoError(tb, tx.Commit())
	return uids
}

// A page of one user's charges (GET /charges, the admin search by user) costs the same
// however many charges the user has: the first page and a page deep into the history both
// walk the (user_id, created_at, merchant_uid) index from the cursor and stop at the page,
// with no sort of the user's rows. The plans are logged (go test -v).
func TestChargePagesAreBounded(t *testing.T) {
	const mine, others, limit = 5000, 3000, 50
	start := time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			db := b.open(t)
			s := newStore(t, db, b.dialect)
			uids := seedUserChargesTx(t, db, b.dialect, "heavy", "hv", mine, start)
			seedCharges(t, db, b.dialect, "ot", others, func(int) store.ChargeStatus { return store.ChargePaid })
			deep := mine / 2
			pages := map[string]store.ChargeQuery{
				"first page": {UserID: "heavy", Limit: limit},
				"deep page": {UserID: "heavy", Limit: limit,
					After: store.Cursor{CreatedAt: start.Add(time.Duration(deep) * time.Second), ID: uids[deep]}},
				"deep page, paid only": {UserID: "heavy", Limit: limit, Statuses: []store.ChargeStatus{store.ChargePaid},
					After: store.Cursor{CreatedAt: start.Add(time.Duration(deep) * time.Second), ID: uids[deep]}},
			}
			if b.dialect == sqlstore.Postgres {
				_, err := db.ExecContext(t.Context(), "ANALYZE billkey_charges")
				require.NoError(t, err)
			}
			for name, q := range pages {
				page, err := s.SearchCharges(t.Context(), q)
				require.NoError(t, err, name)
				require.Len(t, page.Charges, limit, name)
				if !q.After.IsZero() {
					assert.Equal(t, uids[deep-1], page.Charges[0].MerchantUID, "%s: the page starts right after the cursor", name)
				}
				queries, args := s.ChargePageQueries(q)
				for i, query := range queries {
					if b.dialect == sqlstore.Postgres {
						requireBoundedPagePostgres(t, name, db, query, args[i], limit+1)
					} else {
						requireBoundedPageSQLite(t, name, db, query, args[i])
					}
				}
			}
		})
	}
}

// requireBoundedPageSQLite checks SQLite's plan for one page: an index search, no sort,
// no scan of the table.
func requireBoundedPageSQLite(t *testing.T, name string, db *sql.DB, query string, args []any) {
	t.Helper()
	plan := sqlitePlan(t, db, query, args)
	text := strings.Join(plan, "\n")
	t.Logf("%s, EXPLAIN QUERY PLAN:\n%s", name, text)
	assert.Contains(t, text, "SEARCH billkey_charges USING INDEX", "%s: no index search\n%s", name, text)
	assert.NotContains(t, text, "TEMP B-TREE", "%s: a sort\n%s", name, text)
	requireNoTableScan(t, plan, "billkey_charges", name)
}

// requireBoundedPagePostgres checks PostgreSQL's plan for one page: an index scan in
// order that read at most maxRead rows, no sort, no sequential scan.
func requireBoundedPagePostgres(t *testing.T, name string, db *sql.DB, query string, args []any, maxRead int) {
	t.Helper()
	plan, raw := explainPostgres(t, db, query, args)
	var steps []string
	indexed := false
	plan.walk(func(n pgPlanNode) {
		steps = append(steps, fmt.Sprintf("%s %s %s rows=%.0f", n.NodeType, n.RelationName, n.IndexName, n.read()))
		assert.NotContains(t, n.NodeType, "Sort", "%s: a sort\n%s", name, raw)
		assert.False(t, n.NodeType == "Seq Scan" && n.RelationName == "billkey_charges", "%s: a scan of the table\n%s", name, raw)
		if strings.HasPrefix(n.IndexName, "billkey_charges_") {
			indexed = true
			assert.Contains(t, []string{"Index Scan", "Index Only Scan"}, n.NodeType, "%s: no walk in order\n%s", name, raw)
			assert.LessOrEqual(t, n.read(), float64(maxRead), "%s: rows read\n%s", name, raw)
		}
	})
	t.Logf("%s, EXPLAIN ANALYZE: %s", name, strings.Join(steps, " → "))
	assert.True(t, indexed, "%s: no index used\n%s", name, raw)
}
