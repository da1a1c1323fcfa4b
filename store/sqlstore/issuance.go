package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/billkey/billkey/store"
)

const issuanceCols = "merchant_uid, customer_uid, user_id, plan_id, amount, status, imp_uid, fail_reason, " +
	"card_name, card_number, charge_merchant_uid, created_at, expires_at, updated_at, key_removed"

// selectIssuance is an issuance SELECT up to its WHERE condition.
const selectIssuance = "SELECT " + issuanceCols + " FROM billkey_issuances WHERE "

func scanIssuance(r rowScanner) (*store.Issuance, error) {
	var is store.Issuance
	var status string
	if err := r.Scan(&is.MerchantUID, &is.CustomerUID, &is.UserID, &is.PlanID, &is.Amount, &status,
		strCol{&is.ImpUID}, &is.FailReason, &is.CardName, &is.CardNumber, &is.ChargeMerchantUID,
		timeCol{&is.CreatedAt}, timeCol{&is.ExpiresAt}, timeCol{&is.UpdatedAt}, &is.KeyRemoved); err != nil {
		return nil, err
	}
	is.Status = store.IssuanceStatus(status)
	return &is, nil
}

// CreateIssuance implements store.Store.
func (s *Store) CreateIssuance(ctx context.Context, is *store.Issuance) error {
	if is == nil {
		return errors.New("sqlstore: create issuance: nil issuance")
	}
	if is.MerchantUID == "" || is.CustomerUID == "" {
		return errors.New("sqlstore: create issuance: merchant_uid and customer_uid are required")
	}
	d := s.dialect
	_, err := writeExec(ctx, s, "create issuance", "INSERT INTO billkey_issuances ("+issuanceCols+
		") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		is.MerchantUID, is.CustomerUID, is.UserID, is.PlanID, is.Amount, string(is.Status),
		nullString(is.ImpUID), is.FailReason, is.CardName, is.CardNumber, is.ChargeMerchantUID,
		d.timeArg(is.CreatedAt), d.timeArg(is.ExpiresAt), d.timeArg(is.UpdatedAt), is.KeyRemoved)
	return err
}

// GetIssuance implements store.Store.
func (s *Store) GetIssuance(ctx context.Context, merchantUID string) (*store.Issuance, error) {
	return queryOne(ctx, s, "get issuance", scanIssuance, selectIssuance+"merchant_uid = ?", merchantUID)
}

// GetIssuanceByCustomerUID implements store.Store.
func (s *Store) GetIssuanceByCustomerUID(ctx context.Context, customerUID string) (*store.Issuance, error) {
	return queryOne(ctx, s, "get issuance by customer_uid", scanIssuance, selectIssuance+"customer_uid = ?", customerUID)
}

// GetIssuanceByImpUID implements store.Store. "" is ErrNotFound without a query: an
// unknown imp_uid is stored as NULL.
func (s *Store) GetIssuanceByImpUID(ctx context.Context, impUID string) (*store.Issuance, error) {
	if impUID == "" {
		return nil, fmt.Errorf("sqlstore: get issuance by imp_uid: %w", store.ErrNotFound)
	}
	return queryOne(ctx, s, "get issuance by imp_uid", scanIssuance, selectIssuance+"imp_uid = ?", impUID)
}

// SettleIssuance implements store.Store. The compare-and-set UPDATE and the billing-key
// replacement run in one transaction. Empty strings and a zero UpdatedAt in to leave the
// stored values as they are.
func (s *Store) SettleIssuance(ctx context.Context, merchantUID string, to *store.Issuance, key *store.BillingKey) (*store.BillingKey, error) {
	if to == nil {
		return nil, errors.New("sqlstore: settle issuance: nil target")
	}
	switch to.Status {
	case store.IssuanceIssued, store.IssuanceFailed, store.IssuanceExpired:
	default:
		return nil, fmt.Errorf("sqlstore: settle issuance: target status %q is not final", to.Status)
	}
	if key != nil && to.Status == store.IssuanceIssued && key.CustomerUID == "" {
		return nil, errors.New("sqlstore: settle issuance: billing key without customer_uid")
	}
	// Empty strings and a zero UpdatedAt leave the stored values.
	var a assignments
	a.add("status = ?", string(to.Status))
	a.str("imp_uid", to.ImpUID)
	a.str("fail_reason", to.FailReason)
	a.str("card_name", to.CardName)
	a.str("card_number", to.CardNumber)
	a.str("charge_merchant_uid", to.ChargeMerchantUID)
	a.time(s.dialect, "updated_at", to.UpdatedAt)
	args := append(a.args, merchantUID, string(store.IssuancePending))
	var replaced *store.BillingKey
	err := s.inTx(ctx, func(ctx context.Context, tx querier) error {
		var userID string
		err := tx.QueryRowContext(ctx, s.q("UPDATE billkey_issuances SET "+a.clause()+
			" WHERE merchant_uid = ? AND status = ? RETURNING user_id"), args...).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			return s.missOrConflict(ctx, tx, "billkey_issuances", "merchant_uid", merchantUID)
		}
		if err != nil {
			return err
		}
		if to.Status != store.IssuanceIssued || key == nil {
			return nil
		}
		k := *key
		if k.UserID == "" {
			k.UserID = userID
		} else if k.UserID != userID {
			return errors.New("billing key belongs to another user than the issuance")
		}
		old, err := s.putBillingKey(ctx, tx, &k)
		if err != nil {
			return err
		}
		if old != nil && old.CustomerUID != k.CustomerUID {
			replaced = old
		}
		return nil
	})
	if err != nil {
		return nil, mapErr("settle issuance", err)
	}
	return replaced, nil
}

// ExpirePendingIssuances implements store.Store. UpdatedAt of each expired issuance
// becomes now. Oldest expiry first.
func (s *Store) ExpirePendingIssuances(ctx context.Context, now time.Time, limit int) ([]*store.Issuance, error) {
	if limit <= 0 {
		return []*store.Issuance{}, nil
	}
	d := s.dialect
	pick := `SELECT id FROM billkey_issuances
WHERE status = ? AND (expires_at IS NULL OR expires_at <= ?)
ORDER BY expires_at NULLS FIRST, id LIMIT ?`
	query, args := s.updatePicked("billkey_issuances", "status = ?, updated_at = ?",
		[]any{string(store.IssuanceExpired), d.timeArg(now)},
		pick, []any{string(store.IssuancePending), d.timeArg(now), limit}, issuanceCols)
	out, err := writeAll(ctx, s, "expire issuances", scanIssuance, query, args...)
	if err != nil {
		return nil, err
	}
	sortByTime(out, func(is *store.Issuance) (time.Time, string) { return is.ExpiresAt, is.MerchantUID })
	return out, nil
}

// PendingIssuance implements store.Store, through the (user_id, plan_id, status,
// created_at) index.
func (s *Store) PendingIssuance(ctx context.Context, userID, planID string, notBefore time.Time) (*store.Issuance, error) {
	return queryOne(ctx, s, "pending issuance", scanIssuance, selectIssuance+
		"user_id = ? AND plan_id = ? AND status = ? AND expires_at > ? ORDER BY created_at DESC NULLS LAST, id DESC LIMIT 1",
		userID, planID, string(store.IssuancePending), s.dialect.timeArg(notBefore))
}

// endedStatuses are the issuance states an orphan key can be left in.
var endedStatuses = []any{string(store.IssuanceFailed), string(store.IssuanceExpired)}

// OrphanIssuances implements store.Store. A NULL updated_at (the zero time) is the
// oldest.
func (s *Store) OrphanIssuances(ctx context.Context, before time.Time, limit int) ([]*store.Issuance, error) {
	if limit <= 0 {
		return []*store.Issuance{}, nil
	}
	args := append(append([]any{}, endedStatuses...), s.dialect.timeArg(before), limit)
	return queryAll(ctx, s, "orphan issuances", scanIssuance, selectIssuance+
		`status IN (?, ?) AND key_removed = `+s.boolLit(false)+` AND (updated_at IS NULL OR updated_at < ?)
AND NOT EXISTS (SELECT 1 FROM billkey_billing_keys k WHERE k.customer_uid = billkey_issuances.customer_uid)
ORDER BY updated_at NULLS FIRST, id LIMIT ?`, args...)
}

// MarkKeyRemoved implements store.Store.
func (s *Store) MarkKeyRemoved(ctx context.Context, merchantUID string) error {
	err := s.inTx(ctx, func(ctx context.Context, tx querier) error {
		res, err := tx.ExecContext(ctx, s.q("UPDATE billkey_issuances SET key_removed = "+s.boolLit(true)+
			" WHERE merchant_uid = ? AND status IN (?, ?)"), append([]any{merchantUID}, endedStatuses...)...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		return s.missOrConflict(ctx, tx, "billkey_issuances", "merchant_uid", merchantUID)
	})
	return mapErr("mark key removed", err)
}

// PurgeIssuances implements store.Store. A NULL updated_at (the zero time) is the oldest.
func (s *Store) PurgeIssuances(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	args := append(append([]any{}, endedStatuses...), s.dialect.timeArg(before), limit)
	n, err := writeExec(ctx, s, "purge issuances", `DELETE FROM billkey_issuances WHERE id IN (
SELECT id FROM billkey_issuances
WHERE status IN (?, ?) AND key_removed = `+s.boolLit(true)+` AND (updated_at IS NULL OR updated_at < ?)
ORDER BY updated_at NULLS FIRST, id LIMIT ?)`, args...)
	return int(n), err
}
