package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/billkey/billkey/core"
)

const chargeCols = "merchant_uid, user_id, idempotency_key, customer_uid, plan_id, name, amount, status, " +
	"imp_uid, fail_reason, attempts, created_at, updated_at, paid_at, claimed_by, claimed_until"

// selectCharge is a charge SELECT up to its WHERE condition.
const selectCharge = "SELECT " + chargeCols + " FROM billkey_charges WHERE "

// selectChargeByIdem finds a user's charge by idempotency key, through the unique
// (user_id, idempotency_key) index.
const selectChargeByIdem = selectCharge + "user_id = ? AND idempotency_key = ?"

func scanCharge(r rowScanner) (*core.Charge, error) {
	var c core.Charge
	var status string
	if err := r.Scan(&c.MerchantUID, &c.UserID, &c.IdempotencyKey, &c.CustomerUID, &c.PlanID, &c.Name,
		&c.Amount, &status, strCol{&c.ImpUID}, &c.FailReason, &c.Attempts,
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt}, timeCol{&c.PaidAt},
		&c.ClaimedBy, timeCol{&c.ClaimedUntil}); err != nil {
		return nil, err
	}
	c.Status = core.ChargeStatus(status)
	return &c, nil
}

// CreateCharge implements core.Store. The insert does nothing when the user's
// idempotency key is taken (ON CONFLICT on the unique (user_id, idempotency_key)), and
// the existing row is then read back, so any number of concurrent callers agree on one row.
func (s *Store) CreateCharge(ctx context.Context, c *core.Charge) (*core.Charge, bool, error) {
	if c == nil {
		return nil, false, errors.New("sqlstore: create charge: nil charge")
	}
	if c.MerchantUID == "" {
		return nil, false, errors.New("sqlstore: create charge: merchant_uid is required")
	}
	d := s.dialect
	stored, err := scanCharge(s.db.QueryRowContext(ctx, s.q(`INSERT INTO billkey_charges (`+chargeCols+`)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (user_id, idempotency_key) DO NOTHING
RETURNING `+chargeCols),
		c.MerchantUID, c.UserID, c.IdempotencyKey, c.CustomerUID, c.PlanID, c.Name, c.Amount,
		string(c.Status), nullString(c.ImpUID), c.FailReason, c.Attempts,
		d.timeArg(c.CreatedAt), d.timeArg(c.UpdatedAt), d.timeArg(c.PaidAt),
		c.ClaimedBy, d.timeArg(c.ClaimedUntil)))
	if err == nil {
		return stored, true, nil
	}
	// No row: the idempotency key is taken. A unique violation: another constraint
	// (merchant_uid, imp_uid) fired, possibly while a concurrent insert of the same
	// idempotency key was in flight; the key's row, if any, is the answer then too.
	if !errors.Is(err, sql.ErrNoRows) && !isUniqueViolation(err) {
		return nil, false, mapErr("create charge", err)
	}
	existing, gerr := scanCharge(s.db.QueryRowContext(ctx, s.q(selectChargeByIdem), c.UserID, c.IdempotencyKey))
	switch {
	case gerr == nil:
		return existing, false, nil
	case errors.Is(gerr, sql.ErrNoRows) && isUniqueViolation(err):
		return nil, false, mapErr("create charge", core.ErrDuplicate)
	default:
		return nil, false, mapErr("create charge", gerr)
	}
}

// GetCharge implements core.Store.
func (s *Store) GetCharge(ctx context.Context, merchantUID string) (*core.Charge, error) {
	return queryOne(ctx, s, "get charge", scanCharge, selectCharge+"merchant_uid = ?", merchantUID)
}

// GetChargeByIdempotencyKey implements core.Store.
func (s *Store) GetChargeByIdempotencyKey(ctx context.Context, userID, key string) (*core.Charge, error) {
	return queryOne(ctx, s, "get charge by idempotency key", scanCharge, selectChargeByIdem, userID, key)
}

// GetChargeByImpUID implements core.Store. "" is ErrNotFound without a query: an unknown
// imp_uid is stored as NULL.
func (s *Store) GetChargeByImpUID(ctx context.Context, impUID string) (*core.Charge, error) {
	if impUID == "" {
		return nil, fmt.Errorf("sqlstore: get charge by imp_uid: %w", core.ErrNotFound)
	}
	return queryOne(ctx, s, "get charge by imp_uid", scanCharge, selectCharge+"imp_uid = ?", impUID)
}

// ListCharges implements core.Store. Charges created at the same instant are listed
// in reverse insertion order.
func (s *Store) ListCharges(ctx context.Context, userID string, limit int) ([]*core.Charge, error) {
	if limit <= 0 {
		return []*core.Charge{}, nil
	}
	return queryAll(ctx, s, "list charges", scanCharge,
		selectCharge+"user_id = ? ORDER BY created_at DESC NULLS LAST, id DESC LIMIT ?", userID, limit)
}

// UpdateCharge implements core.Store as one UPDATE ... WHERE status IN (from) RETURNING;
// when it matches nothing, a lookup in the same transaction tells ErrConflict from
// ErrNotFound.
func (s *Store) UpdateCharge(ctx context.Context, merchantUID string, from []core.ChargeStatus, u core.ChargeUpdate) (*core.Charge, error) {
	d := s.dialect
	var a assignments
	a.str("status", string(u.Status))
	a.str("imp_uid", u.ImpUID)
	a.str("fail_reason", u.FailReason)
	a.time(d, "paid_at", u.PaidAt)
	if u.AddAttempts != 0 {
		a.add("attempts = attempts + ?", u.AddAttempts)
	}
	a.time(d, "updated_at", u.At)
	if u.ReleaseClaim {
		a.sets = append(a.sets, "claimed_by = ''", "claimed_until = NULL")
	}
	if len(a.sets) == 0 {
		a.sets = append(a.sets, "status = status") // a pure compare: still locks and returns the row
	}
	var out *core.Charge
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if len(from) == 0 {
			return s.missOrConflict(ctx, tx, "billkey_charges", merchantUID)
		}
		args := append(a.args, merchantUID)
		for _, st := range from {
			args = append(args, string(st))
		}
		c, err := scanCharge(tx.QueryRowContext(ctx, s.q("UPDATE billkey_charges SET "+a.clause()+
			" WHERE merchant_uid = ? AND status IN ("+placeholders(len(from))+") RETURNING "+chargeCols), args...))
		if errors.Is(err, sql.ErrNoRows) {
			return s.missOrConflict(ctx, tx, "billkey_charges", merchantUID)
		}
		if err != nil {
			return err
		}
		out = c
		return nil
	})
	if err != nil {
		return nil, mapErr("update charge", err)
	}
	return out, nil
}

// ClaimCharges implements core.Store. On PostgreSQL the candidate rows are locked with
// FOR UPDATE SKIP LOCKED, so instances claiming at once take disjoint rows without waiting;
// a row whose claim was taken meanwhile fails the re-checked condition. On SQLite the
// claim is one UPDATE statement, which runs as one write transaction.
func (s *Store) ClaimCharges(ctx context.Context, req core.ClaimRequest) ([]*core.Charge, error) {
	if req.Owner == "" {
		return nil, errors.New("sqlstore: claim charges: empty owner")
	}
	if req.Limit <= 0 || len(req.Statuses) == 0 || req.UpdatedBefore.IsZero() {
		// Nothing is older than the zero time.
		return []*core.Charge{}, nil
	}
	d := s.dialect
	pick := `SELECT id FROM billkey_charges
WHERE status IN (` + placeholders(len(req.Statuses)) + `)
AND (updated_at IS NULL OR updated_at < ?)
AND (claimed_until IS NULL OR claimed_until <= ?)
ORDER BY updated_at NULLS FIRST, id LIMIT ?`
	var pickArgs []any
	for _, st := range req.Statuses {
		pickArgs = append(pickArgs, string(st))
	}
	pickArgs = append(pickArgs, d.timeArg(req.UpdatedBefore), d.timeArg(req.Now), req.Limit)
	query, args := s.updatePicked("billkey_charges", "claimed_by = ?, claimed_until = ?",
		[]any{req.Owner, d.timeArg(req.Now.Add(req.Lease))}, pick, pickArgs, chargeCols)
	out, err := queryAll(ctx, s, "claim charges", scanCharge, query, args...)
	if err != nil {
		return nil, err
	}
	sortByTime(out, func(c *core.Charge) (time.Time, string) { return c.UpdatedAt, c.MerchantUID })
	return out, nil
}
