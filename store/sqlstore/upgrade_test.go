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

// v1Charge is a charge row as schema version 1 stored it.
type v1Charge struct {
	merchantUID  string
	status       store.ChargeStatus
	updatedAt    time.Time
	claimedBy    string
	claimedUntil time.Time
}

// A database that only migration 0001 created, holding charges in every state, upgrades
// in place: the active charges it holds (which version 1 wrote without a lease) hold one
// counted from their updated_at, so that no instance takes up a charge whose `again` may
// be in flight, and everything else reads as before.
func TestUpgradeFromVersion1(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			db := b.open(t)
			old, err := sqlstore.New(db, b.dialect)
			require.NoError(t, err)
			require.NoError(t, old.MigrateTo(ctx, 1))
			v, err := old.SchemaVersion(ctx)
			require.NoError(t, err)
			require.Equal(t, 1, v)

			u := time.Date(2024, 5, 6, 7, 8, 9, 123456000, time.UTC)
			inFlight := time.Now().UTC().Truncate(time.Microsecond) // written just before the upgrade
			rows := []v1Charge{
				{"mpending", store.ChargePending, u, "", time.Time{}},
				{"mcharging", store.ChargeCharging, u.Add(time.Second), "", time.Time{}},
				{"munknown", store.ChargeUnknown, u.Add(2 * time.Second), "", time.Time{}},
				{"mclaimed", store.ChargeUnknown, u, "instance-a", u.Add(-time.Hour)}, // a v1 claim stays as it was
				{"mpaid", store.ChargePaid, u, "", time.Time{}},
				{"mfailed", store.ChargeFailed, u, "", time.Time{}},
				{"minflight", store.ChargeCharging, inFlight, "", time.Time{}},
			}
			for i, r := range rows {
				insertV1Charge(t, db, b.dialect, i, r)
			}
			insertV1Issuance(t, db, b.dialect, "mis-failed", "cu-failed", store.IssuanceFailed, u)
			insertV1Issuance(t, db, b.dialect, "mis-pending", "cu-pending", store.IssuancePending, u)

			// The upgrade, by a store on the database's clock.
			live := newStore(t, db, b.dialect)
			v, err = live.SchemaVersion(ctx)
			require.NoError(t, err)
			require.Equal(t, latestVersion, v)

			wantUntil := map[string]time.Time{
				"mpending":  u.Add(2 * time.Minute),
				"mcharging": u.Add(time.Second + 2*time.Minute),
				"munknown":  u.Add(2*time.Second + 2*time.Minute),
				"mclaimed":  u.Add(-time.Hour),
				"minflight": inFlight.Add(2 * time.Minute),
			}
			for _, r := range rows {
				c, err := live.GetCharge(ctx, r.merchantUID)
				require.NoError(t, err, r.merchantUID)
				assert.Equal(t, r.status, c.Status, r.merchantUID)
				assert.True(t, r.updatedAt.Equal(c.UpdatedAt), "%s: UpdatedAt %v", r.merchantUID, c.UpdatedAt)
				assert.Equal(t, r.claimedBy, c.ClaimedBy, r.merchantUID)
				assert.True(t, wantUntil[r.merchantUID].Equal(c.ClaimedUntil), "%s: ClaimedUntil %v, want %v",
					r.merchantUID, c.ClaimedUntil, wantUntil[r.merchantUID])
				assert.Empty(t, c.FailCode, r.merchantUID)
				assert.Empty(t, c.SubscriptionID, r.merchantUID)
				assert.Zero(t, c.Period, r.merchantUID)
			}
			for _, mu := range []string{"mis-failed", "mis-pending"} {
				is, err := live.GetIssuance(ctx, mu)
				require.NoError(t, err)
				assert.False(t, is.KeyRemoved, mu)
			}

			// On a clock set just before and after each lease's end, each is taken in turn;
			// the v1 claim had run out already.
			var now time.Time
			moved := newStore(t, db, b.dialect, sqlstore.WithClock(func() time.Time { return now }))
			now = u.Add(2*time.Minute - time.Millisecond)
			assert.Equal(t, []string{"mclaimed"}, claimedUIDs(t, moved, time.Hour))
			now = u.Add(2*time.Minute + time.Second)
			assert.Equal(t, []string{"mcharging", "mpending"}, claimedUIDs(t, moved, time.Hour))
			now = u.Add(2*time.Minute + 2*time.Second)
			assert.Equal(t, []string{"munknown"}, claimedUIDs(t, moved, time.Hour))

			// On the database's clock those leases ran out long ago, but the charge written
			// just before the upgrade is held.
			assert.Equal(t, []string{"mcharging", "mclaimed", "mpending", "munknown"}, claimedUIDs(t, live, time.Hour))

			// The upgraded rows take the new fields.
			c, err := live.UpdateCharge(ctx, "mcharging", []store.ChargeStatus{store.ChargeCharging},
				store.ChargeUpdate{Status: store.ChargeFailed, FailCode: "card_declined", IfAttempts: 1})
			require.NoError(t, err)
			assert.Equal(t, "card_declined", c.FailCode)
			require.NoError(t, live.MarkKeyRemoved(ctx, "mis-failed"))
		})
	}
}

// A database at version 2, holding charges (one held by an instance's lease) and
// issuances, upgrades in place (through version 3): what it holds reads as before,
// outside any subscription, and subscriptions can be kept from then on.
func TestUpgradeFromVersion2(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			db := b.open(t)
			old, err := sqlstore.New(db, b.dialect)
			require.NoError(t, err)
			require.NoError(t, old.MigrateTo(ctx, 2))
			v, err := old.SchemaVersion(ctx)
			require.NoError(t, err)
			require.Equal(t, 2, v)
			_, err = db.ExecContext(ctx, "SELECT count(*) FROM billkey_subscriptions")
			require.Error(t, err, "billkey_subscriptions at version 2")

			u := time.Date(2025, 11, 30, 23, 59, 59, 250000000, time.UTC)
			held := time.Now().UTC().Add(time.Hour).Truncate(time.Microsecond) // an instance is at work on it
			rows := []v2Charge{
				{v1Charge{"mv2charging", store.ChargeCharging, u, "instance-a", held}, ""},
				{v1Charge{"mv2failed", store.ChargeFailed, u.Add(time.Second), "", time.Time{}}, "card_declined"},
				{v1Charge{"mv2paid", store.ChargePaid, u.Add(2 * time.Second), "", time.Time{}}, ""},
			}
			for i, r := range rows {
				insertV2Charge(t, db, b.dialect, i, r)
			}
			insertV1Issuance(t, db, b.dialect, "mv2is", "cu-v2", store.IssuanceFailed, u)

			live := newStore(t, db, b.dialect)
			v, err = live.SchemaVersion(ctx)
			require.NoError(t, err)
			require.Equal(t, latestVersion, v)
			for _, r := range rows {
				c, err := live.GetCharge(ctx, r.merchantUID)
				require.NoError(t, err, r.merchantUID)
				assert.Equal(t, r.status, c.Status, r.merchantUID)
				assert.Equal(t, r.failCode, c.FailCode, r.merchantUID)
				assert.True(t, r.updatedAt.Equal(c.UpdatedAt), "%s: UpdatedAt %v", r.merchantUID, c.UpdatedAt)
				assert.Equal(t, r.claimedBy, c.ClaimedBy, r.merchantUID)
				assert.True(t, r.claimedUntil.Equal(c.ClaimedUntil), "%s: ClaimedUntil %v", r.merchantUID, c.ClaimedUntil)
				assert.Empty(t, c.SubscriptionID, r.merchantUID)
				assert.Zero(t, c.Period, r.merchantUID)
			}
			is, err := live.GetIssuance(ctx, "mv2is")
			require.NoError(t, err)
			assert.Equal(t, store.IssuanceFailed, is.Status)

			// The instance's lease still holds on the database's clock.
			assert.Empty(t, claimedUIDs(t, live, time.Minute))

			// Subscriptions and the charges of their periods are kept from now on.
			sub, created, err := live.CreateSubscription(ctx, &store.Subscription{
				ID: "sv2", UserID: "u1", IdempotencyKey: "start-1", PlanID: "basic", Slot: "basic",
				Status: store.SubscriptionActive, NextActionAt: u, CreatedAt: u, UpdatedAt: u,
			})
			require.NoError(t, err)
			require.True(t, created)
			assert.Equal(t, 1, sub.Version)
			c, created, err := live.CreateCharge(ctx, &store.Charge{
				MerchantUID: "mv2renewal", UserID: "u1", IdempotencyKey: "sv2-1", Amount: 9900,
				Status: store.ChargePending, SubscriptionID: sub.ID, Period: 1, CreatedAt: u, UpdatedAt: u,
			}, store.Lease{})
			require.NoError(t, err)
			require.True(t, created)
			assert.Equal(t, "sv2", c.SubscriptionID)
			assert.Equal(t, 1, c.Period)
			claimed, err := live.ClaimSubscriptions(ctx, store.SubscriptionClaim{Due: u, Lease: store.Lease{Owner: "upgraded", For: time.Minute}, Limit: 10})
			require.NoError(t, err)
			require.Len(t, claimed, 1)
			claimed[0].Period, claimed[0].ChargeMerchantUID = 1, c.MerchantUID
			sub, err = live.UpdateSubscription(ctx, claimed[0], true)
			require.NoError(t, err)
			assert.Equal(t, 2, sub.Version)

			// Migrating again changes nothing.
			require.NoError(t, live.Migrate(ctx))
			var n int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM billkey_schema_migrations").Scan(&n))
			assert.Equal(t, latestVersion, n)
			got, err := live.GetSubscription(ctx, "sv2")
			require.NoError(t, err)
			assert.Equal(t, 2, got.Version)
		})
	}
}

// v2Charge is a charge row as schema version 2 stored it.
type v2Charge struct {
	v1Charge
	failCode string
}

func insertV2Charge(t *testing.T, db *sql.DB, d sqlstore.Dialect, i int, r v2Charge) {
	t.Helper()
	_, err := db.ExecContext(t.Context(), rebindTest(d, `INSERT INTO billkey_charges
(merchant_uid, user_id, idempotency_key, customer_uid, plan_id, name, amount, status,
 imp_uid, fail_reason, fail_code, attempts, created_at, updated_at, paid_at, claimed_by, claimed_until)
VALUES (?, ?, ?, ?, 'basic', 'Basic monthly', 9900, ?, NULL, '', ?, 1, ?, ?, NULL, ?, ?)`),
		r.merchantUID, "u1", fmt.Sprintf("k%d", i), "cu1", string(r.status), r.failCode,
		timeValue(d, r.updatedAt.Add(-time.Minute)), timeValue(d, r.updatedAt), r.claimedBy, timeValue(d, r.claimedUntil))
	require.NoError(t, err)
}

// claimedUIDs claims every active or held charge it can for a lease of d and returns
// their merchant_uids, sorted.
func claimedUIDs(t *testing.T, s *sqlstore.Store, d time.Duration) []string {
	t.Helper()
	got, err := s.ClaimCharges(context.Background(), store.ClaimRequest{
		Statuses: []store.ChargeStatus{store.ChargePending, store.ChargeCharging, store.ChargeUnknown},
		Held:     []store.ChargeStatus{store.ChargeFailed},
		Lease:    store.Lease{Owner: "upgraded", For: d}, Limit: 100,
	})
	require.NoError(t, err)
	return merchantUIDs(got)
}

func insertV1Charge(t *testing.T, db *sql.DB, d sqlstore.Dialect, i int, r v1Charge) {
	t.Helper()
	_, err := db.ExecContext(t.Context(), rebindTest(d, `INSERT INTO billkey_charges
(merchant_uid, user_id, idempotency_key, customer_uid, plan_id, name, amount, status,
 imp_uid, fail_reason, attempts, created_at, updated_at, paid_at, claimed_by, claimed_until)
VALUES (?, ?, ?, ?, 'basic', 'Basic monthly', 9900, ?, NULL, '', 1, ?, ?, NULL, ?, ?)`),
		r.merchantUID, "u1", fmt.Sprintf("k%d", i), "cu1", string(r.status),
		timeValue(d, r.updatedAt.Add(-time.Minute)), timeValue(d, r.updatedAt), r.claimedBy, timeValue(d, r.claimedUntil))
	require.NoError(t, err)
}

func insertV1Issuance(t *testing.T, db *sql.DB, d sqlstore.Dialect, merchantUID, customerUID string, status store.IssuanceStatus, at time.Time) {
	t.Helper()
	_, err := db.ExecContext(t.Context(), rebindTest(d, `INSERT INTO billkey_issuances
(merchant_uid, customer_uid, user_id, plan_id, amount, status, created_at, expires_at, updated_at)
VALUES (?, ?, 'u1', 'basic', 9900, ?, ?, ?, ?)`),
		merchantUID, customerUID, string(status), timeValue(d, at), timeValue(d, at.Add(30*time.Minute)), timeValue(d, at))
	require.NoError(t, err)
}

// timeValue is t as the dialect stores it (NULL for the zero time).
func timeValue(d sqlstore.Dialect, t time.Time) any {
	switch {
	case t.IsZero():
		return nil
	case d == sqlstore.Postgres:
		return t.UTC()
	default:
		return t.UnixMicro()
	}
}

// rebindTest writes the '?' placeholders of q as PostgreSQL's $1, $2, ...
func rebindTest(d sqlstore.Dialect, q string) string {
	if d != sqlstore.Postgres {
		return q
	}
	var b strings.Builder
	n := 0
	for _, r := range q {
		if r == '?' {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// A database at version 3, holding charges and a subscription, upgrades to version 4 in
// place: the charges read as before with nothing refunded, no receipt and no history,
// take the new fields from then on, the listings' indexes replace the ones that ran the
// wrong way, and refunds and the inbox can be kept.
func TestUpgradeFromVersion3(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := t.Context()
			db := b.open(t)
			old, err := sqlstore.New(db, b.dialect)
			require.NoError(t, err)
			require.NoError(t, old.MigrateTo(ctx, 3))
			_, err = db.ExecContext(ctx, "SELECT count(*) FROM billkey_refunds")
			require.Error(t, err, "billkey_refunds at version 3")

			u := time.Date(2025, 12, 1, 9, 0, 0, 500000000, time.UTC)
			rows := []v2Charge{
				{v1Charge{"mv3paid", store.ChargePaid, u, "", time.Time{}}, ""},
				{v1Charge{"mv3failed", store.ChargeFailed, u.Add(time.Second), "", time.Time{}}, "card_declined"},
				{v1Charge{"mv3charging", store.ChargeCharging, u.Add(2 * time.Second), "instance-a", u.Add(time.Hour)}, ""},
			}
			for i, r := range rows {
				insertV2Charge(t, db, b.dialect, i, r)
			}
			sub, created, err := old.CreateSubscription(ctx, &store.Subscription{
				ID: "sv3", UserID: "u1", IdempotencyKey: "start-1", PlanID: "basic", Status: store.SubscriptionActive,
				CreatedAt: u, UpdatedAt: u,
			})
			require.NoError(t, err)
			require.True(t, created)

			live := newStore(t, db, b.dialect)
			v, err := live.SchemaVersion(ctx)
			require.NoError(t, err)
			require.Equal(t, 4, v)
			for _, r := range rows {
				c, err := live.GetCharge(ctx, r.merchantUID)
				require.NoError(t, err, r.merchantUID)
				assert.Equal(t, r.status, c.Status, r.merchantUID)
				assert.Equal(t, r.failCode, c.FailCode, r.merchantUID)
				assert.True(t, r.claimedUntil.Equal(c.ClaimedUntil), "%s: ClaimedUntil %v", r.merchantUID, c.ClaimedUntil)
				assert.Zero(t, c.Refunded, r.merchantUID)
				assert.Empty(t, c.ReceiptURL, r.merchantUID)
				assert.Nil(t, c.Notes, r.merchantUID)
			}
			list, err := live.ListCharges(ctx, "u1", 10)
			require.NoError(t, err)
			var order []string
			for _, c := range list {
				order = append(order, c.MerchantUID)
			}
			assert.Equal(t, []string{"mv3charging", "mv3failed", "mv3paid"}, order, "newest first")
			got, err := live.GetSubscription(ctx, "sv3")
			require.NoError(t, err)
			assert.Equal(t, sub.Version, got.Version)

			// The upgraded rows take the new fields.
			refunded := int64(4000)
			c, err := live.UpdateCharge(ctx, "mv3paid", []store.ChargeStatus{store.ChargePaid}, store.ChargeUpdate{
				Refunded: &refunded, ReceiptURL: "https://receipt.example/r1", Note: "refunded 4000", At: u.Add(time.Hour)})
			require.NoError(t, err)
			assert.Equal(t, refunded, c.Refunded)
			assert.Equal(t, "https://receipt.example/r1", c.ReceiptURL)
			require.Len(t, c.Notes, 1)
			assert.Equal(t, "refunded 4000", c.Notes[0].Text)
			assert.True(t, u.Add(time.Hour).Equal(c.Notes[0].At))
			_, created, err = live.CreateRefund(ctx, &store.Refund{ID: "rv3", MerchantUID: "mv3paid", UserID: "u1",
				IdempotencyKey: "r1", Amount: 4000, Checksum: 9900, Status: store.RefundSending, CreatedAt: u}, store.Lease{})
			require.NoError(t, err)
			assert.True(t, created)
			_, created, err = live.RecordNotification(ctx, &store.InboxEntry{ID: "wv3", Key: "k1", ReceivedAt: u,
				MerchantUID: "mv3paid", Status: "cancelled"})
			require.NoError(t, err)
			assert.True(t, created)

			indexes := indexNames(t, db, b.dialect)
			for _, gone := range []string{"billkey_charges_user_created_idx", "billkey_subscriptions_user_created_idx"} {
				assert.NotContains(t, indexes, gone)
			}
			for _, idx := range []string{"billkey_charges_user_newest_idx", "billkey_charges_newest_idx",
				"billkey_charges_status_newest_idx", "billkey_charges_subscription_newest_idx",
				"billkey_subscriptions_user_newest_idx", "billkey_subscriptions_newest_idx",
				"billkey_subscriptions_status_newest_idx", "billkey_refunds_charge_created_idx",
				"billkey_refunds_status_claimed_idx", "billkey_inbox_newest_idx", "billkey_inbox_charge_newest_idx",
				"billkey_inbox_payment_newest_idx", "billkey_inbox_last_idx"} {
				assert.Contains(t, indexes, idx)
			}

			// Migrating again changes nothing.
			require.NoError(t, live.Migrate(ctx))
			var n int
			require.NoError(t, db.QueryRowContext(ctx, "SELECT count(*) FROM billkey_schema_migrations").Scan(&n))
			assert.Equal(t, 4, n)
			c, err = live.GetCharge(ctx, "mv3paid")
			require.NoError(t, err)
			assert.Len(t, c.Notes, 1)
		})
	}
}

// indexNames lists the indexes of the billkey tables.
func indexNames(t *testing.T, db *sql.DB, d sqlstore.Dialect) []string {
	t.Helper()
	query := "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name LIKE 'billkey_%'"
	if d == sqlstore.Postgres {
		query = "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename LIKE 'billkey_%'"
	}
	rows, err := db.QueryContext(t.Context(), query)
	require.NoError(t, err)
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		names = append(names, name)
	}
	require.NoError(t, rows.Err())
	return names
}
