package memstore_test

import (
	"testing"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/store/memstore"
	"github.com/billkey/billkey/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(*testing.T) core.Store { return memstore.New() })
}

func TestConformanceSharedStore(t *testing.T) {
	// One store for every subtest: the suite must not depend on an empty store.
	s := memstore.New()
	storetest.Run(t, func(*testing.T) core.Store { return s })
}

func TestConcurrentInstances(t *testing.T) {
	s := memstore.New()
	storetest.RunConcurrentInstances(t, []core.Store{s, s, s})
}
