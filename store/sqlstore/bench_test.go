package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/store/sqlstore"
)

// BenchmarkCreateAndUpdateCharge measures the two writes of a charge's happy path up to
// `again`: the insert and the pending -> charging compare-and-set.
func BenchmarkCreateAndUpdateCharge(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			s := newStore(b, be.open(b), be.dialect)
			benchCharges(b, s)
		})
	}
}

func benchCharges(b *testing.B, s *sqlstore.Store) {
	ctx := context.Background()
	now := time.Now()
	i := 0
	for b.Loop() {
		i++
		mu := fmt.Sprintf("mbench%09d", i)
		_, created, err := s.CreateCharge(ctx, &core.Charge{
			MerchantUID: mu, UserID: fmt.Sprintf("u%d", i%100), IdempotencyKey: mu, CustomerUID: "c",
			Name: "basic", Amount: 9900, Status: core.ChargePending, CreatedAt: now, UpdatedAt: now,
		})
		if err != nil || !created {
			b.Fatalf("create: %v %v", created, err)
		}
		if _, err := s.UpdateCharge(ctx, mu, []core.ChargeStatus{core.ChargePending},
			core.ChargeUpdate{Status: core.ChargeCharging, AddAttempts: 1, At: now}); err != nil {
			b.Fatalf("update: %v", err)
		}
	}
}
