package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/billkey/billkey/store"
)

const refundCols = "refund_id, merchant_uid, user_id, idempotency_key, amount, checksum, reason, operator, " +
	"status, fail_reason, created_at, updated_at, claimed_by, claimed_until"

// selectRefund is a refund SELECT up to its WHERE condition.
const selectRefund = "SELECT " + refundCols + " FROM billkey_refunds WHERE "

func scanRefund(r rowScanner) (*store.Refund, error) {
	var rf store.Refund
	var status string
	if err := r.Scan(&rf.ID, &rf.MerchantUID, &rf.UserID, &rf.IdempotencyKey, &rf.Amount, &rf.Checksum,
		&rf.Reason, &rf.Operator, &status, &rf.FailReason, timeCol{&rf.CreatedAt}, timeCol{&rf.UpdatedAt},
		&rf.ClaimedBy, timeCol{&rf.ClaimedUntil}); err != nil {
		return nil, err
	}
	rf.Status = store.RefundStatus(status)
	return &rf, nil
}

// validRefundStatus reports whether st is one of the refund states.
func validRefundStatus(st store.RefundStatus) bool {
	switch st {
	case store.RefundSending, store.RefundSucceeded, store.RefundFailed, store.RefundUnknown:
		return true
	}
	return false
}

// CreateRefund implements store.Store like CreateCharge: one INSERT ... ON CONFLICT
// (merchant_uid, idempotency_key) DO NOTHING RETURNING, and the key's row read back when
// it stored nothing. The lease is measured on the database's clock.
func (s *Store) CreateRefund(ctx context.Context, r *store.Refund, hold store.Lease) (*store.Refund, bool, error) {
	switch {
	case r == nil:
		return nil, false, errors.New("sqlstore: create refund: nil refund")
	case r.ID == "":
		return nil, false, errors.New("sqlstore: create refund: id is required")
	case !validRefundStatus(r.Status):
		return nil, false, fmt.Errorf("sqlstore: create refund: unknown status %q", r.Status)
	}
	d := s.dialect
	until, untilArgs := "NULL", []any(nil)
	owner := ""
	if hold.For > 0 {
		until, untilArgs = s.clockPlus(hold.For)
		owner = hold.Owner
	}
	args := []any{r.ID, r.MerchantUID, r.UserID, r.IdempotencyKey, r.Amount, r.Checksum, r.Reason, r.Operator,
		string(r.Status), r.FailReason, d.timeArg(r.CreatedAt), d.timeArg(r.UpdatedAt), owner}
	insert := `INSERT INTO billkey_refunds (` + refundCols + `)
VALUES (` + placeholders(len(args)) + `, ` + until + `)
ON CONFLICT (merchant_uid, idempotency_key) DO NOTHING
RETURNING ` + refundCols
	return insertOrExisting(ctx, s, "create refund", scanRefund, insert, append(args, untilArgs...), errRowVanished,
		selectRefund+"merchant_uid = ? AND idempotency_key = ?", r.MerchantUID, r.IdempotencyKey)
}

// GetRefund implements store.Store.
func (s *Store) GetRefund(ctx context.Context, id string) (*store.Refund, error) {
	return queryOne(ctx, s, "get refund", scanRefund, selectRefund+"refund_id = ?", id)
}

// ListRefunds implements store.Store: oldest CreatedAt first (a zero one first of all),
// ties by the smaller id, from the index on (merchant_uid, created_at, refund_id).
func (s *Store) ListRefunds(ctx context.Context, merchantUID string) ([]*store.Refund, error) {
	return queryAll(ctx, s, "list refunds", scanRefund,
		selectRefund+"merchant_uid = ? ORDER BY created_at NULLS FIRST, refund_id", merchantUID)
}

// UpdateRefund implements store.Store as one UPDATE ... WHERE refund_id = ? AND status IN
// (from) RETURNING. Refunds are never deleted, so when it matches nothing a lookup
// afterwards tells ErrConflict from ErrNotFound.
func (s *Store) UpdateRefund(ctx context.Context, id string, from []store.RefundStatus, u store.RefundUpdate) (*store.Refund, error) {
	if u.Status != "" && !validRefundStatus(u.Status) {
		return nil, fmt.Errorf("sqlstore: update refund: unknown status %q", u.Status)
	}
	if len(from) == 0 {
		return nil, mapErr("update refund", s.missOrConflict(ctx, s.db, "billkey_refunds", "refund_id", id))
	}
	var a assignments
	a.str("status", string(u.Status))
	a.str("fail_reason", u.FailReason)
	a.time(s.dialect, "updated_at", u.At)
	switch {
	case u.ReleaseClaim:
		a.sets = append(a.sets, "claimed_by = ''", "claimed_until = NULL")
	case u.Hold != nil && u.Hold.For > 0:
		until, args := s.clockPlus(u.Hold.For)
		a.add("claimed_by = ?", u.Hold.Owner)
		a.sets = append(a.sets, "claimed_until = "+until)
		a.args = append(a.args, args...)
	}
	if len(a.sets) == 0 {
		a.sets = append(a.sets, "status = status")
	}
	args := append(a.args, id)
	for _, st := range from {
		args = append(args, string(st))
	}
	return updateOne(ctx, s, "update refund", scanRefund, "billkey_refunds", "refund_id", id,
		"UPDATE billkey_refunds SET "+a.clause()+" WHERE refund_id = ? AND status IN ("+
			placeholders(len(from))+") RETURNING "+refundCols, args...)
}

// ClaimRefunds implements store.Store like ClaimCharges: one statement picks the refunds
// in statuses whose lease ran out by the database's clock (or that hold none; those
// first, then the lease that ended first, ties by id) through the index on (status,
// claimed_until), with FOR UPDATE SKIP LOCKED on PostgreSQL, and takes lease on each.
func (s *Store) ClaimRefunds(ctx context.Context, statuses []store.RefundStatus, lease store.Lease, limit int) ([]*store.Refund, error) {
	if lease.Owner == "" || lease.For <= 0 {
		return nil, errors.New("sqlstore: claim refunds: no owner or lease")
	}
	if limit <= 0 || len(statuses) == 0 {
		return []*store.Refund{}, nil
	}
	clock := s.clockAt()
	now, nowArgs := clock(0)
	var pickArgs []any
	for _, st := range statuses {
		pickArgs = append(pickArgs, string(st))
	}
	pick := `SELECT id FROM billkey_refunds
WHERE status IN (` + placeholders(len(statuses)) + `) AND (claimed_until IS NULL OR claimed_until <= ` + now + `)
ORDER BY claimed_until NULLS FIRST, refund_id LIMIT ?`
	pickArgs = append(append(pickArgs, nowArgs...), limit)
	until, untilArgs := clock(lease.For)
	query, args := s.updatePicked("billkey_refunds", "claimed_by = ?, claimed_until = "+until,
		append([]any{lease.Owner}, untilArgs...), pick, pickArgs, refundCols)
	return writeAll(ctx, s, "claim refunds", scanRefund, query, args...)
}
