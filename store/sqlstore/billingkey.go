package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/billkey/billkey/store"
)

const billingKeyCols = "user_id, customer_uid, issuance_merchant_uid, card_name, card_number, pg_provider, issued_at"

// selectBillingKey is the SELECT of a user's billing key.
const selectBillingKey = "SELECT " + billingKeyCols + " FROM billkey_billing_keys WHERE user_id = ?"

func scanBillingKey(r rowScanner) (*store.BillingKey, error) {
	var k store.BillingKey
	if err := r.Scan(&k.UserID, &k.CustomerUID, &k.IssuanceMerchantUID, &k.CardName, &k.CardNumber,
		&k.PGProvider, timeCol{&k.IssuedAt}); err != nil {
		return nil, err
	}
	return &k, nil
}

// GetBillingKey implements store.Store.
func (s *Store) GetBillingKey(ctx context.Context, userID string) (*store.BillingKey, error) {
	return queryOne(ctx, s, "get billing key", scanBillingKey, selectBillingKey, userID)
}

// DeleteBillingKey implements store.Store.
func (s *Store) DeleteBillingKey(ctx context.Context, userID, customerUID string) error {
	n, err := writeExec(ctx, s, "delete billing key",
		"DELETE FROM billkey_billing_keys WHERE user_id = ? AND customer_uid = ?", userID, customerUID)
	if err != nil {
		return err
	}
	if n == 0 {
		return mapErr("delete billing key", store.ErrNotFound)
	}
	return nil
}

// putBillingKey makes k the key of k.UserID inside the transaction of q and returns the key it replaced,
// nil if the user had none. It never loses a concurrent insert: when another transaction
// creates the user's key between the lookup and the insert, the insert does nothing and the
// lookup runs again, now locking the committed row.
func (s *Store) putBillingKey(ctx context.Context, tx querier, k *store.BillingKey) (*store.BillingKey, error) {
	d := s.dialect
	for attempt := 0; attempt < 5; attempt++ {
		old, err := scanBillingKey(tx.QueryRowContext(ctx, s.q(selectBillingKey+s.forUpdate()), k.UserID))
		switch {
		case err == nil:
			_, err = tx.ExecContext(ctx, s.q(`UPDATE billkey_billing_keys
SET customer_uid = ?, issuance_merchant_uid = ?, card_name = ?, card_number = ?, pg_provider = ?, issued_at = ?
WHERE user_id = ?`),
				k.CustomerUID, k.IssuanceMerchantUID, k.CardName, k.CardNumber, k.PGProvider,
				d.timeArg(k.IssuedAt), k.UserID)
			if err != nil {
				return nil, err
			}
			return old, nil
		case !errors.Is(err, sql.ErrNoRows):
			return nil, err
		}
		res, err := tx.ExecContext(ctx, s.q(`INSERT INTO billkey_billing_keys (`+billingKeyCols+`)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (user_id) DO NOTHING`),
			k.UserID, k.CustomerUID, k.IssuanceMerchantUID, k.CardName, k.CardNumber, k.PGProvider,
			d.timeArg(k.IssuedAt))
		if err != nil {
			return nil, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, err
		}
		if n == 1 {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("billing key kept changing: %w", store.ErrConflict)
}
