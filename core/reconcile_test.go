package core_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport/iamporttest"
)

// RunReconciler sweeps until its context ends, and leaves no goroutine behind.
func TestRunReconciler(t *testing.T) {
	h := newSH(t)
	h.issueKey("u1", iamporttest.CardOK)
	v, _ := h.unknownCharge("u1", "k1")
	h.clock.Advance(3 * time.Minute)
	ignore := goleak.IgnoreCurrent()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.svc.RunReconciler(ctx, 5*time.Millisecond)
	}()
	require.Eventually(t, func() bool {
		c, err := h.store.GetCharge(context.Background(), v.MerchantUID)
		return err == nil && c.Status == core.ChargePaid
	}, 10*time.Second, 5*time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RunReconciler did not return after its context ended")
	}
	assert.Equal(t, 1, h.paidAtFake(v.MerchantUID))
	h.fake.Close() // closes the client's idle connections too
	goleak.VerifyNone(t, ignore)
}

// A sweep ends when its context does.
func TestReconcileContextEnded(t *testing.T) {
	h := newSH(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := h.svc.Reconcile(ctx)
	require.Error(t, err)
	assert.Equal(t, 0, h.calls())
}
