package memstore_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store"
	"github.com/billkey/billkey/store/memstore"
	"github.com/billkey/billkey/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(_ *testing.T, clock func() time.Time) store.Store {
		return memstore.New(memstore.WithClock(clock))
	})
}

func TestConformanceSharedStore(t *testing.T) {
	// One store for every subtest: the suite must not depend on an empty store. Its
	// clock is the clock of the subtest running.
	var clock atomic.Pointer[func() time.Time]
	s := memstore.New(memstore.WithClock(func() time.Time { return (*clock.Load())() }))
	storetest.Run(t, func(_ *testing.T, c func() time.Time) store.Store {
		clock.Store(&c)
		return s
	})
}

func TestConcurrentInstances(t *testing.T) {
	s := memstore.New()
	storetest.RunConcurrentInstances(t, []store.Store{s, s, s})
}

// Without WithClock (or with a nil clock) leases are measured on time.Now.
func TestDefaultClock(t *testing.T) {
	for name, s := range map[string]*memstore.Store{"default": memstore.New(), "nil": memstore.New(memstore.WithClock(nil))} {
		ctx := t.Context()
		before := time.Now()
		c, created, err := s.CreateCharge(ctx, &store.Charge{MerchantUID: "m1", UserID: "u", IdempotencyKey: "k",
			Status: store.ChargeCharging}, store.Lease{Owner: "a", For: time.Hour})
		require.NoError(t, err, name)
		require.True(t, created, name)
		require.False(t, c.ClaimedUntil.Before(before.Add(time.Hour)), name)
		require.False(t, c.ClaimedUntil.After(time.Now().Add(time.Hour)), name)
	}
}
