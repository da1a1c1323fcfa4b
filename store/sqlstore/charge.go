package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/billkey/billkey/store"
)

const chargeCols = "merchant_uid, user_id, idempotency_key, customer_uid, plan_id, name, amount, status, " +
	"imp_uid, fail_reason, fail_code, subscription_id, period, attempts, created_at, updated_at, paid_at, " +
	"refunded, receipt_url, notes, claimed_by, claimed_until"

// selectCharge is a charge SELECT up to its WHERE condition.
const selectCharge = "SELECT " + chargeCols + " FROM billkey_charges WHERE "

// selectChargeByIdem finds a user's charge by idempotency key, through the unique
// (user_id, idempotency_key) index.
const selectChargeByIdem = selectCharge + "user_id = ? AND idempotency_key = ?"

func scanCharge(r rowScanner) (*store.Charge, error) {
	var c store.Charge
	var status string
	if err := r.Scan(&c.MerchantUID, &c.UserID, &c.IdempotencyKey, &c.CustomerUID, &c.PlanID, &c.Name,
		&c.Amount, &status, strCol{&c.ImpUID}, &c.FailReason, &c.FailCode, &c.SubscriptionID, &c.Period, &c.Attempts,
		timeCol{&c.CreatedAt}, timeCol{&c.UpdatedAt}, timeCol{&c.PaidAt},
		&c.Refunded, &c.ReceiptURL, noteCol{&c.Notes}, &c.ClaimedBy, timeCol{&c.ClaimedUntil}); err != nil {
		return nil, err
	}
	c.Status = store.ChargeStatus(status)
	return &c, nil
}

// CreateCharge implements store.Store. The insert does nothing when the user's
// idempotency key is taken (ON CONFLICT on the unique (user_id, idempotency_key)), and
// the existing row is then read back, so any number of concurrent callers agree on one row.
// The lease is measured on the database's clock.
func (s *Store) CreateCharge(ctx context.Context, c *store.Charge, hold store.Lease) (*store.Charge, bool, error) {
	insert, args, err := s.chargeInsert("create charge", c, hold, false)
	if err != nil {
		return nil, false, err
	}
	return insertOrExisting(ctx, s, "create charge", scanCharge, insert, args, errRowVanished,
		selectChargeByIdem, c.UserID, c.IdempotencyKey)
}

// CreateKeyedCharge implements store.Store like CreateCharge, with one INSERT ... SELECT
// that takes the customer_uid from the user's row in billkey_billing_keys: no row, no
// insert. A charge is then created, found or refused for a missing key in two statements,
// one when it is created.
func (s *Store) CreateKeyedCharge(ctx context.Context, c *store.Charge, hold store.Lease) (*store.Charge, bool, error) {
	insert, args, err := s.chargeInsert("create keyed charge", c, hold, true)
	if err != nil {
		return nil, false, err
	}
	return insertOrExisting(ctx, s, "create keyed charge", scanCharge, insert, args, store.ErrNotFound,
		selectChargeByIdem, c.UserID, c.IdempotencyKey)
}

// chargeInsert is the INSERT ... ON CONFLICT (user_id, idempotency_key) DO NOTHING
// RETURNING of c, with its arguments; keyed, its customer_uid is read from the user's
// billing key in the same statement.
func (s *Store) chargeInsert(op string, c *store.Charge, hold store.Lease, keyed bool) (string, []any, error) {
	if c == nil {
		return "", nil, fmt.Errorf("sqlstore: %s: nil charge", op)
	}
	if c.MerchantUID == "" {
		return "", nil, fmt.Errorf("sqlstore: %s: merchant_uid is required", op)
	}
	d := s.dialect
	until, untilArgs := "NULL", []any(nil)
	owner := ""
	if hold.For > 0 {
		until, untilArgs = s.clockPlus(hold.For)
		owner = hold.Owner
	}
	notes, err := notesArg(c.Notes)
	if err != nil {
		return "", nil, fmt.Errorf("sqlstore: %s: %w", op, err)
	}
	customer, customerArg := "?", []any{c.CustomerUID}
	if keyed {
		customer, customerArg = "k.customer_uid", nil
	}
	args := append(append([]any{c.MerchantUID, c.UserID, c.IdempotencyKey}, customerArg...),
		c.PlanID, c.Name, c.Amount, string(c.Status), nullString(c.ImpUID), c.FailReason, c.FailCode,
		c.SubscriptionID, c.Period, c.Attempts, d.timeArg(c.CreatedAt), d.timeArg(c.UpdatedAt), d.timeArg(c.PaidAt),
		c.Refunded, c.ReceiptURL, notes, owner)
	values := "?, ?, ?, " + customer + ", " + placeholders(len(args)-3-len(customerArg)) + ", " + until
	args = append(args, untilArgs...)
	rows := "VALUES (" + values + ")"
	if keyed {
		// SQLite needs the WHERE to read ON CONFLICT as the upsert clause.
		rows = "SELECT " + values + " FROM billkey_billing_keys k WHERE k.user_id = ?"
		args = append(args, c.UserID)
	}
	return `INSERT INTO billkey_charges (` + chargeCols + `)
` + rows + `
ON CONFLICT (user_id, idempotency_key) DO NOTHING
RETURNING ` + chargeCols, args, nil
}

// GetCharge implements store.Store.
func (s *Store) GetCharge(ctx context.Context, merchantUID string) (*store.Charge, error) {
	return queryOne(ctx, s, "get charge", scanCharge, selectCharge+"merchant_uid = ?", merchantUID)
}

// GetChargeByIdempotencyKey implements store.Store.
func (s *Store) GetChargeByIdempotencyKey(ctx context.Context, userID, key string) (*store.Charge, error) {
	return queryOne(ctx, s, "get charge by idempotency key", scanCharge, selectChargeByIdem, userID, key)
}

// GetChargeByImpUID implements store.Store. "" is ErrNotFound without a query: an unknown
// imp_uid is stored as NULL.
func (s *Store) GetChargeByImpUID(ctx context.Context, impUID string) (*store.Charge, error) {
	if impUID == "" {
		return nil, fmt.Errorf("sqlstore: get charge by imp_uid: %w", store.ErrNotFound)
	}
	return queryOne(ctx, s, "get charge by imp_uid", scanCharge, selectCharge+"imp_uid = ?", impUID)
}

// ListCharges implements store.Store: newest CreatedAt first, ties by the greater
// merchant_uid, a zero CreatedAt last, read from the index on (user_id, created_at DESC
// NULLS LAST, merchant_uid DESC) in its order, so the cost is the limit's whatever the
// user's history.
func (s *Store) ListCharges(ctx context.Context, userID string, limit int) ([]*store.Charge, error) {
	if limit <= 0 {
		return []*store.Charge{}, nil
	}
	return queryAll(ctx, s, "list charges", scanCharge,
		selectCharge+"user_id = ? ORDER BY "+chargeOrder+" LIMIT ?", userID, limit)
}

// UpdateCharge implements store.Store as one UPDATE ... WHERE status IN (from) [AND
// attempts = ?] RETURNING, its own transaction; when it matches nothing, a lookup tells
// ErrConflict from ErrNotFound (rows are never deleted, so the lookup needs no
// transaction with the UPDATE). A lease is taken on the database's clock.
func (s *Store) UpdateCharge(ctx context.Context, merchantUID string, from []store.ChargeStatus, u store.ChargeUpdate) (*store.Charge, error) {
	a, err := s.chargeAssignments(u)
	if err != nil {
		return nil, mapErr("update charge", err)
	}
	if len(from) == 0 {
		return nil, mapErr("update charge", s.missOrConflict(ctx, s.db, "billkey_charges", "merchant_uid", merchantUID))
	}
	args := append(a.args, merchantUID)
	for _, st := range from {
		args = append(args, string(st))
	}
	cond := ""
	if u.IfAttempts != 0 {
		cond = " AND attempts = ?"
		args = append(args, u.IfAttempts)
	}
	return updateOne(ctx, s, "update charge", scanCharge, "billkey_charges", "merchant_uid", merchantUID,
		"UPDATE billkey_charges SET "+a.clause()+" WHERE merchant_uid = ? AND status IN ("+
			placeholders(len(from))+")"+cond+" RETURNING "+chargeCols, args...)
}

// chargeAssignments is the SET clause of u; a note is appended by the same UPDATE.
func (s *Store) chargeAssignments(u store.ChargeUpdate) (assignments, error) {
	d := s.dialect
	var a assignments
	a.str("status", string(u.Status))
	a.str("imp_uid", u.ImpUID)
	a.str("fail_reason", u.FailReason)
	a.str("fail_code", u.FailCode)
	a.time(d, "paid_at", u.PaidAt)
	if u.AddAttempts != 0 {
		a.add("attempts = attempts + ?", u.AddAttempts)
	}
	a.time(d, "updated_at", u.At)
	if u.Refunded != nil {
		a.add("refunded = ?", *u.Refunded)
	}
	a.str("receipt_url", u.ReceiptURL)
	if u.Note != "" {
		expr, arg, err := s.noteAppend(store.Note{At: u.At, Text: u.Note})
		if err != nil {
			return assignments{}, err
		}
		a.add(expr, arg)
	}
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
		a.sets = append(a.sets, "status = status") // a pure compare: still locks and returns the row
	}
	return a, nil
}

// ClaimCharges implements store.Store. A row is free when its lease has run out by the
// database's clock; the limit takes the rows whose lease ended first (none first), and
// the batch comes back in no particular order. On PostgreSQL the candidate rows are
// locked with FOR UPDATE SKIP LOCKED, so instances claiming at once take disjoint rows
// without waiting; a row whose lease was taken meanwhile fails the re-checked condition.
// On SQLite the claim is one UPDATE statement, which runs as one write transaction.
func (s *Store) ClaimCharges(ctx context.Context, req store.ClaimRequest) ([]*store.Charge, error) {
	if req.Lease.Owner == "" || req.Lease.For <= 0 {
		return nil, errors.New("sqlstore: claim charges: no owner or lease")
	}
	if req.Limit <= 0 || len(req.Statuses)+len(req.Held) == 0 {
		return []*store.Charge{}, nil
	}
	query, args := s.claimChargesQuery(req)
	return writeAll(ctx, s, "claim charges", scanCharge, query, args...)
}

// claimChargesQuery is ClaimCharges' one statement, with its arguments.
func (s *Store) claimChargesQuery(req store.ClaimRequest) (string, []any) {
	clock := s.clockAt()
	now, nowArgs := clock(0)
	var which []string
	var pickArgs []any
	if len(req.Statuses) > 0 {
		which = append(which, "status IN ("+placeholders(len(req.Statuses))+")")
		for _, st := range req.Statuses {
			pickArgs = append(pickArgs, string(st))
		}
	}
	if len(req.Held) > 0 {
		which = append(which, "(status IN ("+placeholders(len(req.Held))+") AND claimed_until IS NOT NULL)")
		for _, st := range req.Held {
			pickArgs = append(pickArgs, string(st))
		}
	}
	pick := `SELECT id FROM billkey_charges
WHERE (` + strings.Join(which, " OR ") + `)
AND (claimed_until IS NULL OR claimed_until <= ` + now + `)
ORDER BY claimed_until NULLS FIRST, id LIMIT ?`
	pickArgs = append(append(pickArgs, nowArgs...), req.Limit)
	until, untilArgs := clock(req.Lease.For)
	return s.updatePicked("billkey_charges", "claimed_by = ?, claimed_until = "+until,
		append([]any{req.Lease.Owner}, untilArgs...), pick, pickArgs, chargeCols)
}
