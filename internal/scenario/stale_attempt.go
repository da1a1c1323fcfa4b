// Package scenario holds multi-instance scenarios that more than one store's tests run,
// so the same race is replayed on memstore and on PostgreSQL. Imported by tests only.
package scenario

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/internal/testkit"
	"github.com/billkey/billkey/store"
)

// NewStore returns an empty store (or one over an empty schema) that measures leases on
// clock.
type NewStore func(t *testing.T, clock func() time.Time) store.Store

// StaleAttempt replays the lost-payment path an outside review found: instance 1's
// `again` is refused and its lookup finds nothing, but before instance 1 writes "failed",
// its lease has run out and instance 2 has claimed the charge, found nothing, and sent
// `again` again, which iamport took while the answer was lost on the way back. Instance
// 1's late write must not land on instance 2's attempt: the charge must end paid, with
// one payment at iamport, and never rest as failed (docs/guarantees.md, R4 and R5).
func StaleAttempt(t *testing.T, newStore NewStore) {
	ctx := context.Background()
	fake := iamporttest.NewServer(iamporttest.WithClock(time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)))
	t.Cleanup(fake.Close)
	clock := testkit.NewClock(fake.Now())
	st := newStore(t, clock.Now)

	// Instance 2's transport holds its `again` on the way out until instance 1 has
	// written, so that write meets instance 2's attempt in flight.
	inFlight, oneWrote := make(chan struct{}), make(chan struct{})
	svc2 := newInstance(t, fake, st, clock, "instance-2", &holdAgain{inFlight: inFlight, release: oneWrote})
	// Instance 1's store blocks its write of "failed" until told to go on.
	ready, goOn := make(chan struct{}), make(chan struct{})
	gated := &gatedStore{Store: st, status: store.ChargeFailed, ready: ready, goOn: goOn}
	svc1 := newInstance(t, fake, gated, clock, "instance-1", nil)

	registerKey(t, fake, svc1, "u1")
	fake.Inject(iamporttest.EPAgain, iamporttest.Fault{Code: -1, Message: "잠시 후 다시 시도해 주세요."})

	var view *core.ChargeView
	var wg sync.WaitGroup
	wg.Go(func() {
		view, _ = svc1.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: Plan.ID, IdempotencyKey: "k1"})
	})
	<-ready // instance 1 looked up, found nothing, and is about to write "failed"
	clock.Advance(3 * time.Minute)
	fake.Inject(iamporttest.EPAgain, iamporttest.Fault{DropAfter: true})
	var rep core.ReconcileReport
	wg.Go(func() {
		var err error
		rep, err = svc2.Reconcile(ctx)
		assert.NoError(t, err)
	})
	<-inFlight // instance 2's `again` is on its way
	close(goOn)
	for gated.written() == 0 {
		time.Sleep(time.Millisecond)
	}
	close(oneWrote)
	wg.Wait()
	assert.Equal(t, 1, rep.Retried, "instance 2 sent again after its own lookup")

	require.NotNil(t, view)
	c, err := st.GetCharge(ctx, view.MerchantUID)
	require.NoError(t, err)
	assert.NotEqual(t, store.ChargeFailed, c.Status, "instance 1's stale failure must not land on instance 2's attempt")

	// Whatever is left open is settled by a later sweep: paid, once.
	clock.Advance(3 * time.Minute)
	_, err = svc1.Reconcile(ctx)
	require.NoError(t, err)
	c, err = st.GetCharge(ctx, view.MerchantUID)
	require.NoError(t, err)
	assert.Equal(t, store.ChargePaid, c.Status)
	paid := 0
	for _, p := range fake.PaymentsByMerchantUID(view.MerchantUID) {
		if p.Status == iamport.StatusPaid {
			paid++
		}
	}
	assert.Equal(t, 1, paid, "one payment at iamport")
}

// Plan is the plan the scenarios charge.
var Plan = core.Plan{ID: "basic", Name: "Basic monthly", Amount: 9900}

// newInstance is one service over st, as one process of several.
func newInstance(t *testing.T, fake *iamporttest.Server, st store.Store, clock *testkit.Clock, id string, rt *holdAgain) *core.Service {
	t.Helper()
	client := fake.Client(func(c *iamport.Config) {
		c.MaxRetries = -1
		if rt != nil {
			rt.inner = c.HTTPClient.Transport
			c.HTTPClient = &http.Client{Transport: rt}
		}
	})
	svc, err := core.New(core.Config{
		MerchantCode: iamporttest.MerchantCode,
		Client:       client,
		Store:        st,
		Plans:        []core.Plan{Plan},
		PublicURL:    "https://shop.example.com/billing",
		CallbackURL:  "https://shop.example.com/iamport",
		SuccessURL:   "/done",
		FailureURL:   "/failed",
		Now:          clock.Now,
		InstanceID:   id,
	})
	require.NoError(t, err)
	return svc
}

// registerKey gives user a billing key through the PC flow.
func registerKey(t *testing.T, fake *iamporttest.Server, svc *core.Service, user string) {
	t.Helper()
	ctx := context.Background()
	req, err := svc.PrepareIssuance(ctx, core.Buyer{UserID: user}, "")
	require.NoError(t, err)
	res := testkit.PayInWindow(t, fake, req.Params, iamporttest.CardOK, false)
	impUID, _ := res.Rsp["imp_uid"].(string)
	_, err = svc.CompleteIssuance(ctx, user, core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: impUID, Source: core.SourceCallback})
	require.NoError(t, err)
}

// holdAgain is a transport that, for its first `again`, says so on inFlight and waits for
// release before sending it.
type holdAgain struct {
	inner    http.RoundTripper
	inFlight chan struct{}
	release  chan struct{}
	once     sync.Once
}

func (h *holdAgain) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/subscribe/payments/again") {
		h.once.Do(func() {
			close(h.inFlight)
			<-h.release
		})
	}
	return h.inner.RoundTrip(r)
}

// gatedStore blocks the first UpdateCharge to status until goOn is closed, saying so on
// ready first.
type gatedStore struct {
	store.Store
	status store.ChargeStatus
	ready  chan struct{}
	goOn   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	writes int
}

func (g *gatedStore) UpdateCharge(ctx context.Context, mu string, from []store.ChargeStatus, u store.ChargeUpdate) (*store.Charge, error) {
	if u.Status == g.status {
		g.once.Do(func() {
			close(g.ready)
			<-g.goOn
		})
		defer func() {
			g.mu.Lock()
			g.writes++
			g.mu.Unlock()
		}()
	}
	return g.Store.UpdateCharge(ctx, mu, from, u)
}

func (g *gatedStore) written() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.writes
}
