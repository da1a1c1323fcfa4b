package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/internal/scenario"
	"github.com/billkey/billkey/store"
	"github.com/billkey/billkey/store/sqlstore"
)

// instances are three billkey services, each with its own *sql.DB on one PostgreSQL
// schema and its own iamport client, all in front of one fake iamport: three processes
// of one merchant, as far as the database and iamport can tell.
type instances struct {
	fake  *iamporttest.Server
	svcs  []*core.Service
	now   func() time.Time
	shift func(time.Duration)
}

func newInstances(t *testing.T, clientTimeout time.Duration) *instances {
	t.Helper()
	dsn := pgSchemaDSN(t)
	fake := iamporttest.NewServer()
	t.Cleanup(fake.Close)

	var mu sync.Mutex
	offset := time.Duration(0)
	now := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return time.Now().Add(offset)
	}
	in := &instances{fake: fake, now: now, shift: func(d time.Duration) {
		mu.Lock()
		offset += d
		mu.Unlock()
	}}
	for i := range 3 {
		// The stores measure leases on the instances' shared test clock, so that shift
		// moves the database's time too.
		st := newStore(t, openPG(t, dsn), sqlstore.Postgres, sqlstore.WithClock(now))
		svc, err := core.New(core.Config{
			MerchantCode: iamporttest.MerchantCode,
			Client: fake.Client(func(c *iamport.Config) {
				c.Timeout = clientTimeout
				c.MaxRetries = -1
			}),
			Store:       st,
			Plans:       []core.Plan{{ID: "basic", Name: "Basic monthly", Amount: 9900}},
			PublicURL:   "https://shop.example.com/billing",
			CallbackURL: "https://shop.example.com/iamport",
			SuccessURL:  "/ok",
			FailureURL:  "/failed",
			Now:         now,
			InstanceID:  "instance-" + string(rune('a'+i)),
		})
		require.NoError(t, err)
		in.svcs = append(in.svcs, svc)
	}
	return in
}

// issue registers a billing key for user through instance 0 and the fake window.
func (in *instances) issue(t *testing.T, user string) {
	t.Helper()
	ctx := t.Context()
	ir, err := in.svcs[0].PrepareIssuance(ctx, core.Buyer{UserID: user}, "")
	require.NoError(t, err)
	res, err := in.fake.IssueBillingKey(iamporttest.IssueRequest{
		PG: ir.Params.PG, PayMethod: ir.Params.PayMethod, MerchantUID: ir.Params.MerchantUID,
		CustomerUID: ir.Params.CustomerUID, Name: ir.Params.Name, Amount: ir.Params.Amount,
		CardNumber: iamporttest.CardOK,
	})
	require.NoError(t, err)
	impUID, _ := res.Rsp["imp_uid"].(string)
	require.NotEmpty(t, impUID)
	out, err := in.svcs[1].CompleteIssuance(ctx, user, core.CompleteInput{
		MerchantUID: ir.Params.MerchantUID, ImpUID: impUID, Source: core.SourceCallback,
	})
	require.NoError(t, err)
	require.Equal(t, "issued", out.Status)
}

// R4 across instances: 200 concurrent charges of one idempotency key, spread over three
// services on three *sql.DB handles, send exactly one `again`.
func TestPostgresInstancesChargeOnce(t *testing.T) {
	in := newInstances(t, 5*time.Second)
	in.issue(t, "alice")

	const callers = 200
	var wg sync.WaitGroup
	start := make(chan struct{})
	views := make(chan *core.ChargeView, callers)
	for i := range callers {
		svc := in.svcs[i%len(in.svcs)]
		wg.Go(func() {
			<-start
			v, err := svc.Charge(context.Background(), core.ChargeRequest{
				UserID: "alice", PlanID: "basic", IdempotencyKey: "signup-click-1",
			})
			var e *core.Error
			if err != nil && !(errors.As(err, &e) && e.Code == codes.ChargeInProgress) {
				t.Errorf("charge: %v", err)
			}
			views <- v
		})
	}
	close(start)
	wg.Wait()
	close(views)

	merchantUIDs := map[string]bool{}
	for v := range views {
		if v != nil {
			merchantUIDs[v.MerchantUID] = true
		}
	}
	require.Len(t, merchantUIDs, 1, "every caller saw the one charge")
	assert.Equal(t, 1, in.fake.Count(iamporttest.EPAgain), "exactly one again at iamport")
	for mu := range merchantUIDs {
		paid := 0
		for _, p := range in.fake.PaymentsByMerchantUID(mu) {
			if p.Status == iamport.StatusPaid {
				paid++
			}
		}
		assert.Equal(t, 1, paid)
		v, err := in.svcs[2].GetCharge(t.Context(), "alice", mu)
		require.NoError(t, err)
		assert.Equal(t, store.ChargePaid, v.Status)
		assert.Equal(t, int64(9900), v.Amount)
	}
}

// R5/R19 across instances: charges whose `again` answers were lost (the fake records the
// payment, then drops the connection) are left unknown; three reconcilers sweeping at
// once settle every one as paid, with no second payment at iamport.
func TestPostgresInstancesReconcileOnce(t *testing.T) {
	in := newInstances(t, 5*time.Second)
	users := []string{"u1", "u2", "u3", "u4", "u5", "u6"}
	for _, u := range users {
		in.issue(t, u)
	}
	var mus []string
	for _, u := range users {
		in.fake.Inject(iamporttest.EPAgain, iamporttest.Fault{DropAfter: true})
		v, err := in.svcs[0].Charge(t.Context(), core.ChargeRequest{UserID: u, PlanID: "basic", IdempotencyKey: "k-" + u})
		require.Error(t, err)
		require.NotNil(t, v)
		require.Equal(t, store.ChargeUnknown, v.Status)
		mus = append(mus, v.MerchantUID)
	}
	require.Equal(t, len(users), in.fake.Count(iamporttest.EPAgain))

	in.shift(10 * time.Minute) // past ReconcileAfter
	var wg sync.WaitGroup
	for _, svc := range in.svcs {
		wg.Go(func() {
			if _, err := svc.Reconcile(context.Background()); err != nil {
				t.Errorf("reconcile: %v", err)
			}
		})
	}
	wg.Wait()

	assert.Equal(t, len(users), in.fake.Count(iamporttest.EPAgain), "no again was sent twice")
	for i, mu := range mus {
		v, err := in.svcs[1].GetCharge(t.Context(), users[i], mu)
		require.NoError(t, err)
		assert.Equal(t, store.ChargePaid, v.Status, mu)
		assert.Len(t, in.fake.PaymentsByMerchantUID(mu), 1, mu)
	}
}

// The lost-payment path of an outside review, on PostgreSQL with two instances (two
// *sql.DB handles): a stale attempt's late "failed" never lands on a later attempt.
func TestPostgresStaleAttemptCannotOverwrite(t *testing.T) {
	dsn := pgSchemaDSN(t)
	scenario.StaleAttempt(t, func(t *testing.T, clock func() time.Time) store.Store {
		return newStore(t, openPG(t, dsn), sqlstore.Postgres, sqlstore.WithClock(clock))
	})
}

// Leases come from the database's clock: three instances whose own clocks are ten seconds
// apart, charging and reconciling at once over one PostgreSQL database (no test clock in
// the stores), never have two `again` requests in flight for one merchant_uid, and every
// charge ends paid exactly once (docs/guarantees.md, R4).
func TestPostgresSkewedClocks(t *testing.T) {
	dsn := pgSchemaDSN(t)
	fake := iamporttest.NewServer()
	t.Cleanup(fake.Close)
	skews := []time.Duration{-10 * time.Second, 0, 10 * time.Second}
	var svcs []*core.Service
	for i, skew := range skews {
		st := newStore(t, openPG(t, dsn), sqlstore.Postgres) // the database's clock
		svc, err := core.New(core.Config{
			MerchantCode:   iamporttest.MerchantCode,
			Client:         fake.Client(func(c *iamport.Config) { c.MaxRetries = -1 }),
			Store:          st,
			Plans:          []core.Plan{{ID: "basic", Name: "Basic monthly", Amount: 9900}},
			PublicURL:      "https://shop.example.com/billing",
			CallbackURL:    "https://shop.example.com/iamport",
			SuccessURL:     "/ok",
			FailureURL:     "/failed",
			ReconcileAfter: 10 * time.Second, // the shortest allowed: leases run out during the test
			Now:            func() time.Time { return time.Now().Add(skew) },
			InstanceID:     fmt.Sprintf("skewed-%d", i),
		})
		require.NoError(t, err)
		svcs = append(svcs, svc)
	}
	in := &instances{fake: fake, svcs: svcs}
	const users = 12
	for u := range users {
		in.issue(t, fmt.Sprint("u", u))
	}
	// Every `again` is slow, and every third answer is lost after iamport took the payment,
	// so reconcilers on every instance meet in-flight and unknown charges.
	for i := range 3 * users {
		f := iamporttest.Fault{Latency: 300 * time.Millisecond}
		if i%3 == 0 {
			f.DropAfter = true
		}
		fake.Inject(iamporttest.EPAgain, f)
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	sweeping, stopSweeps := context.WithCancel(ctx)
	for _, svc := range svcs {
		wg.Go(func() {
			for sweeping.Err() == nil {
				_, _ = svc.Reconcile(sweeping)
				time.Sleep(200 * time.Millisecond)
			}
		})
	}
	mus := make([]string, users)
	var charges sync.WaitGroup
	for u := range users {
		charges.Go(func() {
			v, _ := svcs[u%len(svcs)].Charge(ctx, core.ChargeRequest{UserID: fmt.Sprint("u", u), PlanID: "basic", IdempotencyKey: "k"})
			if v != nil {
				mus[u] = v.MerchantUID
			}
		})
	}
	charges.Wait()
	// Wait (bounded) for the reconcilers to settle what was lost.
	for ctx.Err() == nil {
		open := 0
		for u, mu := range mus {
			if v, err := svcs[0].GetCharge(ctx, fmt.Sprint("u", u), mu); err != nil || v.Status != store.ChargePaid {
				open++
			}
		}
		if open == 0 {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	stopSweeps()
	wg.Wait()
	for mu, n := range fake.MaxConcurrentAgain() {
		assert.LessOrEqual(t, n, 1, "two `again` in flight at once for %s", mu)
	}
	for u, mu := range mus {
		require.NotEmpty(t, mu, "user %d got no charge", u)
		v, err := svcs[0].GetCharge(t.Context(), fmt.Sprint("u", u), mu)
		require.NoError(t, err)
		assert.Equal(t, store.ChargePaid, v.Status, mu)
		paid := 0
		for _, p := range fake.PaymentsByMerchantUID(mu) {
			if p.Status == iamport.StatusPaid {
				paid++
			}
		}
		assert.Equal(t, 1, paid, "one payment for %s", mu)
	}
}
