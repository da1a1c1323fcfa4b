package core_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/event"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/internal/scenario"
	"github.com/billkey/billkey/store"
	"github.com/billkey/billkey/store/memstore"
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

// hookStore runs hook once, right before the next UpdateCharge that moves a charge to
// charging: the moment a reconciler has looked a row up and is about to send `again`.
type hookStore struct {
	store.Store
	mu   sync.Mutex
	hook func()
}

func (s *hookStore) arm(f func()) {
	s.mu.Lock()
	s.hook = f
	s.mu.Unlock()
}

func (s *hookStore) UpdateCharge(ctx context.Context, mu string, from []core.ChargeStatus, u store.ChargeUpdate) (*store.Charge, error) {
	s.mu.Lock()
	f := s.hook
	if u.Status == core.ChargeCharging {
		s.hook = nil
	} else {
		f = nil
	}
	s.mu.Unlock()
	if f != nil {
		f()
	}
	return s.Store.UpdateCharge(ctx, mu, from, u)
}

// R4/R6: a reconciler whose claim ran out while it worked (a slow sweep) must not send
// `again` on the strength of a lookup that another instance's attempt has made stale.
// Instance A looks the row up (nothing there), then, before it moves the row to
// charging, instance B claims the lapsed row, looks it up, sends `again` (iamport records
// the payment, the answer is lost) and leaves the row unknown again. A's
// compare-and-set from unknown still succeeds; A must notice the attempt it did not see
// and leave the row for a fresh lookup instead of sending a second `again`.
func TestReconcileLapsedClaimSendsNothingStale(t *testing.T) {
	var hs *hookStore
	h := newSH(t, shConfig(func(c *core.Config) {
		hs = &hookStore{Store: c.Store}
		c.Store = hs
	}))
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{DropBefore: true})
	v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
	require.Equal(t, codes.ChargeInProgress, errCode(t, err))
	require.Equal(t, core.ChargeUnknown, v.Status)
	require.Empty(t, h.fake.PaymentsByMerchantUID(v.MerchantUID))

	cfgB := h.cfg
	cfgB.Store = h.store
	cfgB.InstanceID = "instance-b"
	svcB, err := core.New(cfgB)
	require.NoError(t, err)

	h.clock.Advance(3 * time.Minute)
	hs.arm(func() {
		h.clock.Advance(3 * time.Minute) // A's claim has lapsed
		h.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{DropAfter: true})
		rep, err := svcB.Reconcile(ctx)
		require.NoError(t, err)
		require.Equal(t, 1, rep.Retried, "B sent again after its own lookup")
	})
	_, err = h.svc.Reconcile(ctx)
	require.NoError(t, err)
	requireLookupBetweenAgains(t, h)
	assert.Equal(t, 2, h.fake.Count(iamporttest.EPAgain), "the first attempt and B's; none from A")

	// A later sweep looks the row up afresh and settles it.
	h.clock.Advance(3 * time.Minute)
	rep, err := h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Paid)
	assert.Equal(t, core.ChargePaid, h.chargeStatus(v.MerchantUID))
	assert.Equal(t, 1, h.paidAtFake(v.MerchantUID))
	assert.Len(t, h.fake.PaymentsByMerchantUID(v.MerchantUID), 1)
	assert.Equal(t, 1, h.events.Count(event.ChargePaid, v.MerchantUID))
}

// A sweep does not start on a claimed row whose claim ran out while the rows before it
// were worked on: another instance may hold it by now (no double work). A later sweep
// takes it.
func TestReconcileSkipsLapsedClaims(t *testing.T) {
	var hs *hookStore
	h := newSH(t, shConfig(func(c *core.Config) {
		hs = &hookStore{Store: c.Store}
		c.Store = hs
	}))
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	first := h.chargeRow("u1", "bkclapsedfirst", core.ChargeUnknown)
	h.clock.Advance(time.Second)
	second := h.chargeRow("u1", "bkclapsedsecond", core.ChargeUnknown)
	h.clock.Advance(3 * time.Minute)
	hs.arm(func() { h.clock.Advance(3 * time.Minute) }) // the first row takes longer than the lease
	rep, err := h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Claimed)
	assert.Equal(t, 1, rep.Paid)
	assert.Equal(t, core.ChargePaid, h.chargeStatus(first.MerchantUID))
	assert.Equal(t, core.ChargeUnknown, h.chargeStatus(second.MerchantUID))
	assert.Equal(t, 1, h.fake.Count(iamporttest.EPFindPayment), "the lapsed row was not looked up")

	rep, err = h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Paid)
	assert.Equal(t, core.ChargePaid, h.chargeStatus(second.MerchantUID))
	assert.Equal(t, 1, h.paidAtFake(second.MerchantUID))
}

// The lost-payment path of an outside review, on memstore: a stale attempt's late
// "failed" never lands on a later attempt (docs/guarantees.md, R4 and R5).
func TestStaleAttemptCannotOverwrite(t *testing.T) {
	scenario.StaleAttempt(t, func(_ *testing.T, clock func() time.Time) store.Store {
		return memstore.New(memstore.WithClock(clock))
	})
}
