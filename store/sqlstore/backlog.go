package sqlstore

import (
	"context"
	"time"

	"github.com/billkey/billkey/store"
)

// OpenCharges implements store.Store: one aggregate over the status index.
func (s *Store) OpenCharges(ctx context.Context) (int, time.Time, error) {
	var n int
	var oldest time.Time
	err := s.db.QueryRowContext(ctx,
		s.q("SELECT COUNT(*), MIN(created_at) FROM billkey_charges WHERE status IN (?, ?, ?)"),
		string(store.ChargePending), string(store.ChargeCharging), string(store.ChargeUnknown)).
		Scan(&n, timeCol{&oldest})
	if err != nil {
		return 0, time.Time{}, mapErr("open charges", err)
	}
	return n, oldest, nil
}
