package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/billkey/billkey/store"
)

// subscriptionFields are the columns UpdateSubscription writes, in the order of
// subscriptionArgs: every field but the subscription's identity, CreatedAt, Version and
// the lease.
var subscriptionFields = []string{"plan_id", "next_plan_id", "slot", "status", "anchor", "period",
	"period_start", "period_end", "trial_end", "cancel_at_period_end", "canceled_at", "ended_at",
	"end_reason", "retries", "charge_merchant_uid", "next_action_at", "notices", "updated_at"}

// subscriptionCols are all the columns of a subscription, in the order scanSubscription reads.
var subscriptionCols = "subscription_id, user_id, idempotency_key, " + strings.Join(subscriptionFields, ", ") +
	", created_at, version, claimed_by, claimed_until"

// subscriptionInsertCols are the columns CreateSubscription writes; the lease starts empty.
var subscriptionInsertCols = "subscription_id, user_id, idempotency_key, " + strings.Join(subscriptionFields, ", ") +
	", created_at, version"

// subscriptionSet is UpdateSubscription's SET clause, but for the lease.
var subscriptionSet = strings.Join(subscriptionFields, " = ?, ") + " = ?, version = version + 1"

// selectSubscription is a subscription SELECT up to its WHERE condition.
var selectSubscription = "SELECT " + subscriptionCols + " FROM billkey_subscriptions WHERE "

func scanSubscription(r rowScanner) (*store.Subscription, error) {
	var sub store.Subscription
	var status string
	if err := r.Scan(&sub.ID, &sub.UserID, &sub.IdempotencyKey,
		&sub.PlanID, &sub.NextPlanID, strCol{&sub.Slot}, &status, timeCol{&sub.Anchor}, &sub.Period,
		timeCol{&sub.PeriodStart}, timeCol{&sub.PeriodEnd}, timeCol{&sub.TrialEnd}, &sub.CancelAtPeriodEnd,
		timeCol{&sub.CanceledAt}, timeCol{&sub.EndedAt}, &sub.EndReason, &sub.Retries, &sub.ChargeMerchantUID,
		timeCol{&sub.NextActionAt}, &sub.Notices, timeCol{&sub.UpdatedAt},
		timeCol{&sub.CreatedAt}, &sub.Version, &sub.ClaimedBy, timeCol{&sub.ClaimedUntil}); err != nil {
		return nil, err
	}
	sub.Status = store.SubscriptionStatus(status)
	return &sub, nil
}

// subscriptionArgs are the values of subscriptionFields for sub. A slot of "" is NULL, so
// that the unique (user_id, slot) index leaves subscriptions without one alone.
func (d Dialect) subscriptionArgs(sub *store.Subscription) []any {
	return []any{sub.PlanID, sub.NextPlanID, nullString(sub.Slot), string(sub.Status), d.timeArg(sub.Anchor), sub.Period,
		d.timeArg(sub.PeriodStart), d.timeArg(sub.PeriodEnd), d.timeArg(sub.TrialEnd), sub.CancelAtPeriodEnd,
		d.timeArg(sub.CanceledAt), d.timeArg(sub.EndedAt), sub.EndReason, sub.Retries, sub.ChargeMerchantUID,
		d.timeArg(sub.NextActionAt), sub.Notices, d.timeArg(sub.UpdatedAt)}
}

// CreateSubscription implements store.Store like CreateCharge: one INSERT ... ON
// CONFLICT (user_id, idempotency_key) DO NOTHING, and the key's row read back when it
// stored nothing. The new row holds no lease, whatever sub says.
func (s *Store) CreateSubscription(ctx context.Context, sub *store.Subscription) (*store.Subscription, bool, error) {
	if sub == nil {
		return nil, false, errors.New("sqlstore: create subscription: nil subscription")
	}
	if sub.ID == "" {
		return nil, false, errors.New("sqlstore: create subscription: id is required")
	}
	d := s.dialect
	args := append([]any{sub.ID, sub.UserID, sub.IdempotencyKey}, d.subscriptionArgs(sub)...)
	args = append(args, d.timeArg(sub.CreatedAt))
	insert := `INSERT INTO billkey_subscriptions (` + subscriptionInsertCols + `)
VALUES (` + placeholders(len(args)) + `, 1)
ON CONFLICT (user_id, idempotency_key) DO NOTHING
RETURNING ` + subscriptionCols
	return insertOrExisting(ctx, s, "create subscription", scanSubscription,
		insert, args, errRowVanished, selectSubscription+"user_id = ? AND idempotency_key = ?", sub.UserID, sub.IdempotencyKey)
}

// GetSubscription implements store.Store.
func (s *Store) GetSubscription(ctx context.Context, id string) (*store.Subscription, error) {
	return queryOne(ctx, s, "get subscription", scanSubscription, selectSubscription+"subscription_id = ?", id)
}

// ListSubscriptions implements store.Store. Subscriptions created at the same instant are
// listed by id, the greatest first; the index on (user_id, created_at DESC NULLS LAST,
// subscription_id DESC) holds them in that order.
func (s *Store) ListSubscriptions(ctx context.Context, userID string) ([]*store.Subscription, error) {
	return queryAll(ctx, s, "list subscriptions", scanSubscription,
		selectSubscription+"user_id = ? ORDER BY "+subscriptionOrder, userID)
}

// UpdateSubscription implements store.Store as one UPDATE ... WHERE subscription_id = ?
// AND version = ? RETURNING. Subscriptions are never deleted, so when it matches nothing
// a lookup afterwards tells ErrConflict from ErrNotFound without a transaction. A stale
// version is a conflict before any slot check: the UPDATE then writes nothing.
func (s *Store) UpdateSubscription(ctx context.Context, sub *store.Subscription, release bool) (*store.Subscription, error) {
	if sub == nil {
		return nil, errors.New("sqlstore: update subscription: nil subscription")
	}
	set := subscriptionSet
	if release {
		set += ", claimed_by = '', claimed_until = NULL"
	}
	args := append(s.dialect.subscriptionArgs(sub), sub.ID, sub.Version)
	return updateOne(ctx, s, "update subscription", scanSubscription, "billkey_subscriptions", "subscription_id", sub.ID,
		"UPDATE billkey_subscriptions SET "+set+" WHERE subscription_id = ? AND version = ? RETURNING "+subscriptionCols, args...)
}

// ClaimSubscriptions implements store.Store. It walks the index on (next_action_at,
// subscription_id), which holds only subscriptions with a next action, from the earliest
// up to req.Due, skipping those whose lease holds by the database's clock, and stops at
// req.Limit: it reads the claimed rows and the due rows other claimers hold, never the
// rest of the table. On PostgreSQL the picked rows are locked with FOR UPDATE SKIP LOCKED,
// so instances claiming at once take disjoint rows without waiting; on SQLite the claim is
// one UPDATE statement. The batch comes back earliest NextActionAt first (ties: the
// smaller id), the order it was picked in.
func (s *Store) ClaimSubscriptions(ctx context.Context, req store.SubscriptionClaim) ([]*store.Subscription, error) {
	if req.Lease.Owner == "" || req.Lease.For <= 0 {
		return nil, errors.New("sqlstore: claim subscriptions: no owner or lease")
	}
	if req.Limit <= 0 || req.Due.IsZero() {
		return []*store.Subscription{}, nil
	}
	query, args := s.claimSubscriptionsQuery(req)
	got, err := writeAll(ctx, s, "claim subscriptions", scanSubscription, query, args...)
	if err != nil {
		return nil, err
	}
	sortByTime(got, func(sub *store.Subscription) (t time.Time, id string) { return sub.NextActionAt, sub.ID })
	return got, nil
}

// claimSubscriptionsQuery is ClaimSubscriptions' one statement, with its arguments.
func (s *Store) claimSubscriptionsQuery(req store.SubscriptionClaim) (string, []any) {
	clock := s.clockAt()
	now, nowArgs := clock(0)
	pick := `SELECT id FROM billkey_subscriptions
WHERE next_action_at <= ? AND (claimed_until IS NULL OR claimed_until <= ` + now + `)
ORDER BY next_action_at, subscription_id LIMIT ?`
	pickArgs := append(append([]any{s.dialect.timeArg(req.Due)}, nowArgs...), req.Limit)
	until, untilArgs := clock(req.Lease.For)
	return s.updatePicked("billkey_subscriptions", "claimed_by = ?, claimed_until = "+until,
		append([]any{req.Lease.Owner}, untilArgs...), pick, pickArgs, subscriptionCols)
}

// insertOrExisting runs insert, an INSERT ... ON CONFLICT (the idempotency key's unique
// columns) DO NOTHING RETURNING, and reports the stored row with created=true; when it
// stored nothing, the row the idempotency key already names (read with existing) is the
// answer, with created=false. A unique violation of another constraint (an id, an
// imp_uid, a slot) may come from a concurrent insert of the same key that was in flight:
// the key's row, if any, is the answer then too, and ErrDuplicate otherwise. When insert
// stored nothing and the key names no row, the error is none.
func insertOrExisting[T any](ctx context.Context, s *Store, op string, scan func(rowScanner) (*T, error),
	insert string, insertArgs []any, none error, existing string, existingArgs ...any) (*T, bool, error) {
	var row *T
	var created bool
	err := s.write(ctx, func(ctx context.Context, q querier) (err error) {
		row, created, err = insertOn(ctx, q, s, scan, insert, insertArgs, none, existing, existingArgs)
		return err
	})
	if err != nil {
		return nil, false, mapErr(op, err)
	}
	return row, created, nil
}

// errRowVanished is insertOrExisting's none for an INSERT that always stores a row unless
// the idempotency key is taken: ON CONFLICT saw the key taken, yet its row is gone. Rows
// are never deleted, so this is a bug, not a state to retry.
var errRowVanished = errors.New("the idempotency key's row vanished")

// insertOn is insertOrExisting's two statements on q.
func insertOn[T any](ctx context.Context, q querier, s *Store, scan func(rowScanner) (*T, error),
	insert string, insertArgs []any, none error, existing string, existingArgs []any) (*T, bool, error) {
	stored, err := scan(q.QueryRowContext(ctx, s.q(insert), insertArgs...))
	if err == nil {
		return stored, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) && !isUniqueViolation(err) {
		return nil, false, err
	}
	found, gerr := scan(q.QueryRowContext(ctx, s.q(existing), existingArgs...))
	switch {
	case gerr == nil:
		return found, false, nil
	case errors.Is(gerr, sql.ErrNoRows) && isUniqueViolation(err):
		return nil, false, store.ErrDuplicate
	case errors.Is(gerr, sql.ErrNoRows):
		return nil, false, none
	default:
		return nil, false, gerr
	}
}
