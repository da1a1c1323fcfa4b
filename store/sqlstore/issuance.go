package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/billkey/billkey/core"
)

const issuanceCols = "merchant_uid, customer_uid, user_id, plan_id, amount, status, imp_uid, fail_reason, " +
	"card_name, card_number, charge_merchant_uid, created_at, expires_at, updated_at"

// selectIssuance is an issuance SELECT up to its WHERE condition.
const selectIssuance = "SELECT " + issuanceCols + " FROM billkey_issuances WHERE "

func scanIssuance(r rowScanner) (*core.Issuance, error) {
	var is core.Issuance
	var status string
	if err := r.Scan(&is.MerchantUID, &is.CustomerUID, &is.UserID, &is.PlanID, &is.Amount, &status,
		strCol{&is.ImpUID}, &is.FailReason, &is.CardName, &is.CardNumber, &is.ChargeMerchantUID,
		timeCol{&is.CreatedAt}, timeCol{&is.ExpiresAt}, timeCol{&is.UpdatedAt}); err != nil {
		return nil, err
	}
	is.Status = core.IssuanceStatus(status)
	return &is, nil
}

// CreateIssuance implements core.Store.
func (s *Store) CreateIssuance(ctx context.Context, is *core.Issuance) error {
	if is == nil {
		return errors.New("sqlstore: create issuance: nil issuance")
	}
	if is.MerchantUID == "" || is.CustomerUID == "" {
		return errors.New("sqlstore: create issuance: merchant_uid and customer_uid are required")
	}
	d := s.dialect
	_, err := s.db.ExecContext(ctx, s.q("INSERT INTO billkey_issuances ("+issuanceCols+
		") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"),
		is.MerchantUID, is.CustomerUID, is.UserID, is.PlanID, is.Amount, string(is.Status),
		nullString(is.ImpUID), is.FailReason, is.CardName, is.CardNumber, is.ChargeMerchantUID,
		d.timeArg(is.CreatedAt), d.timeArg(is.ExpiresAt), d.timeArg(is.UpdatedAt))
	return mapErr("create issuance", err)
}

// GetIssuance implements core.Store.
func (s *Store) GetIssuance(ctx context.Context, merchantUID string) (*core.Issuance, error) {
	return queryOne(ctx, s, "get issuance", scanIssuance, selectIssuance+"merchant_uid = ?", merchantUID)
}

// GetIssuanceByCustomerUID implements core.Store.
func (s *Store) GetIssuanceByCustomerUID(ctx context.Context, customerUID string) (*core.Issuance, error) {
	return queryOne(ctx, s, "get issuance by customer_uid", scanIssuance, selectIssuance+"customer_uid = ?", customerUID)
}

// GetIssuanceByImpUID implements core.Store. "" is ErrNotFound without a query: an
// unknown imp_uid is stored as NULL.
func (s *Store) GetIssuanceByImpUID(ctx context.Context, impUID string) (*core.Issuance, error) {
	if impUID == "" {
		return nil, fmt.Errorf("sqlstore: get issuance by imp_uid: %w", core.ErrNotFound)
	}
	return queryOne(ctx, s, "get issuance by imp_uid", scanIssuance, selectIssuance+"imp_uid = ?", impUID)
}

// SettleIssuance implements core.Store. The compare-and-set UPDATE and the billing-key
// replacement run in one transaction. Empty strings and a zero UpdatedAt in to leave the
// stored values as they are.
func (s *Store) SettleIssuance(ctx context.Context, merchantUID string, to *core.Issuance, key *core.BillingKey) (*core.BillingKey, error) {
	if to == nil {
		return nil, errors.New("sqlstore: settle issuance: nil target")
	}
	switch to.Status {
	case core.IssuanceIssued, core.IssuanceFailed, core.IssuanceExpired:
	default:
		return nil, fmt.Errorf("sqlstore: settle issuance: target status %q is not final", to.Status)
	}
	if key != nil && to.Status == core.IssuanceIssued && key.CustomerUID == "" {
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
	args := append(a.args, merchantUID, string(core.IssuancePending))
	var replaced *core.BillingKey
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var userID string
		err := tx.QueryRowContext(ctx, s.q("UPDATE billkey_issuances SET "+a.clause()+
			" WHERE merchant_uid = ? AND status = ? RETURNING user_id"), args...).Scan(&userID)
		if errors.Is(err, sql.ErrNoRows) {
			return s.missOrConflict(ctx, tx, "billkey_issuances", merchantUID)
		}
		if err != nil {
			return err
		}
		if to.Status != core.IssuanceIssued || key == nil {
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

// ExpirePendingIssuances implements core.Store. UpdatedAt of each expired issuance
// becomes now. Oldest expiry first.
func (s *Store) ExpirePendingIssuances(ctx context.Context, now time.Time, limit int) ([]*core.Issuance, error) {
	if limit <= 0 {
		return []*core.Issuance{}, nil
	}
	d := s.dialect
	pick := `SELECT id FROM billkey_issuances
WHERE status = ? AND (expires_at IS NULL OR expires_at <= ?)
ORDER BY expires_at NULLS FIRST, id LIMIT ?`
	query, args := s.updatePicked("billkey_issuances", "status = ?, updated_at = ?",
		[]any{string(core.IssuanceExpired), d.timeArg(now)},
		pick, []any{string(core.IssuancePending), d.timeArg(now), limit}, issuanceCols)
	out, err := queryAll(ctx, s, "expire issuances", scanIssuance, query, args...)
	if err != nil {
		return nil, err
	}
	sortByTime(out, func(is *core.Issuance) (time.Time, string) { return is.ExpiresAt, is.MerchantUID })
	return out, nil
}
