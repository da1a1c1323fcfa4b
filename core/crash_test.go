package core_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store"
)

var errCrash = errors.New("simulated crash")

// crashStore fails chosen writes once each, standing in for a process that dies right
// before that write: everything before it is committed, nothing after it happens.
type crashStore struct {
	store.Store
	mu   sync.Mutex
	fail map[string]int // "SettleIssuance", "CreateCharge", "CreateCharge:committed", "UpdateCharge:<to status>"
}

func (s *crashStore) crash(op string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail[op] > 0 {
		s.fail[op]--
		return true
	}
	return false
}

func (s *crashStore) SettleIssuance(ctx context.Context, mu string, to *store.Issuance, key *store.BillingKey) (*store.BillingKey, error) {
	if s.crash("SettleIssuance") {
		return nil, errCrash
	}
	return s.Store.SettleIssuance(ctx, mu, to, key)
}

func (s *crashStore) CreateCharge(ctx context.Context, c *store.Charge, hold store.Lease) (*store.Charge, bool, error) {
	return s.create(ctx, c, hold, s.Store.CreateCharge)
}

func (s *crashStore) CreateKeyedCharge(ctx context.Context, c *store.Charge, hold store.Lease) (*store.Charge, bool, error) {
	return s.create(ctx, c, hold, s.Store.CreateKeyedCharge)
}

// create crashes before or after the store's create, as armed.
func (s *crashStore) create(ctx context.Context, c *store.Charge, hold store.Lease,
	create func(context.Context, *store.Charge, store.Lease) (*store.Charge, bool, error)) (*store.Charge, bool, error) {
	if s.crash("CreateCharge") {
		return nil, false, errCrash
	}
	stored, created, err := create(ctx, c, hold)
	if err == nil && s.crash("CreateCharge:committed") {
		return nil, false, errCrash // committed, but the process died before it knew
	}
	return stored, created, err
}

func (s *crashStore) UpdateCharge(ctx context.Context, mu string, from []core.ChargeStatus, u store.ChargeUpdate) (*store.Charge, error) {
	if s.crash("UpdateCharge:" + string(u.Status)) {
		return nil, errCrash
	}
	return s.Store.UpdateCharge(ctx, mu, from, u)
}

// restart is a new Service over the same store and iamport, as after a process restart.
func (h *sh) restart() *core.Service {
	h.t.Helper()
	cfg := h.cfg
	cfg.Store = h.store
	cfg.InstanceID = "restarted"
	svc, err := core.New(cfg)
	require.NoError(h.t, err)
	return svc
}

// newCrashSH is a harness whose service writes through a crashStore.
func newCrashSH(t *testing.T) (*sh, *crashStore) {
	var cs *crashStore
	h := newSH(t, shConfig(func(c *core.Config) {
		cs = &crashStore{Store: c.Store, fail: map[string]int{}}
		c.Store = cs
	}))
	return h, cs
}

// R18: a crash between each step of a charge, then restart and reconcile: one payment
// upstream, one paid row.
func TestCrashDuringCharge(t *testing.T) {
	cases := []struct {
		name       string
		crashAt    string
		wantStatus core.ChargeStatus // the row as the crash leaves it
		agains     int               // agains at the fake in total
	}{
		{"before the row is committed", "CreateCharge", "", 0},
		{"after commit, before again", "CreateCharge:committed", core.ChargeCharging, 1},
		{"after again, before recording paid", "UpdateCharge:paid", core.ChargeCharging, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, cs := newCrashSH(t)
			ctx := context.Background()
			h.issueKey("u1", iamporttest.CardOK)
			cs.mu.Lock()
			cs.fail[tc.crashAt] = 1
			cs.mu.Unlock()

			v, err := h.svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
			cs2, lerr := h.store.ListCharges(ctx, "u1", 10)
			require.NoError(t, lerr)
			if tc.wantStatus == "" {
				assert.Equal(t, codes.Internal, errCode(t, err))
				assert.Nil(t, v)
				assert.Empty(t, cs2, "nothing committed, nothing sent")
				assert.Equal(t, 0, h.fake.Count(iamporttest.EPAgain))
				return
			}
			require.Len(t, cs2, 1)
			if tc.crashAt == "CreateCharge:committed" {
				// The caller cannot know the row exists: told to repeat with the same key.
				assert.Equal(t, codes.Internal, errCode(t, err))
			} else {
				// The row exists: never "internal" with nothing to hold on to, but the
				// charge, whose outcome the caller does not know (docs/guarantees.md, R5).
				assert.Equal(t, codes.ChargeInProgress, errCode(t, err))
				require.NotNil(t, v)
				assert.Equal(t, cs2[0].MerchantUID, v.MerchantUID)
			}
			assert.Equal(t, tc.wantStatus, cs2[0].Status)
			mu := cs2[0].MerchantUID

			svc := h.restart()
			h.clock.Advance(3 * time.Minute)
			rep, err := svc.Reconcile(ctx)
			require.NoError(t, err)
			assert.Equal(t, 1, rep.Paid)
			c, err := h.store.GetCharge(ctx, mu)
			require.NoError(t, err)
			assert.Equal(t, core.ChargePaid, c.Status)
			assert.Equal(t, 1, h.paidAtFake(mu), "one payment upstream")
			assert.Len(t, h.fake.PaymentsByMerchantUID(mu), 1)
			assert.Equal(t, tc.agains, h.fake.Count(iamporttest.EPAgain))
			requireLookupBetweenAgains(t, h)

			// The user retrying with the same key now sees the paid charge.
			got, err := svc.Charge(ctx, core.ChargeRequest{UserID: "u1", PlanID: "basic", IdempotencyKey: "k1"})
			require.NoError(t, err)
			assert.Equal(t, mu, got.MerchantUID)
			assert.Equal(t, core.ChargePaid, got.Status)
		})
	}
}

// R18 for the first charge of a plan issuance: whatever the crash point, the plan is
// charged exactly once and the key ends up recorded.
func TestCrashDuringPlanIssuance(t *testing.T) {
	cases := []struct {
		name    string
		crashAt string
	}{
		{"after the first charge row, before settling", "SettleIssuance"},
		{"after settling, before charging", "UpdateCharge:charging"},
		{"after again, before recording", "UpdateCharge:paid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, cs := newCrashSH(t)
			ctx := context.Background()
			req := h.prepare("u1", "pro")
			res := h.window(req, iamporttest.CardOK, false)
			cs.mu.Lock()
			cs.fail[tc.crashAt] = 1
			cs.mu.Unlock()
			_, _ = h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})

			svc := h.restart()
			h.clock.Advance(3 * time.Minute)
			_, err := svc.Reconcile(ctx)
			require.NoError(t, err)

			is, err := h.store.GetIssuance(ctx, req.Params.MerchantUID)
			require.NoError(t, err)
			assert.Equal(t, store.IssuanceIssued, is.Status)
			k, err := h.store.GetBillingKey(ctx, "u1")
			require.NoError(t, err)
			assert.Equal(t, req.Params.CustomerUID, k.CustomerUID)
			c, err := h.store.GetCharge(ctx, is.ChargeMerchantUID)
			require.NoError(t, err)
			assert.Equal(t, core.ChargePaid, c.Status)
			assert.Equal(t, int64(29000), c.Amount)
			assert.Equal(t, 1, h.paidAtFake(is.ChargeMerchantUID))
			assert.Equal(t, 1, h.fake.Count(iamporttest.EPAgain))

			// A late callback answers with the same, paid, first charge.
			out, err := svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, Source: core.SourceRedirect})
			require.NoError(t, err)
			assert.Equal(t, core.ChargePaid, out.FirstCharge.Status)
			assert.Equal(t, 1, h.fake.Count(iamporttest.EPAgain))
		})
	}
}

// A first charge whose issuance never completed (the window's payment is not there) is
// closed failed once the issuance expires, never sent.
func TestFirstChargeOfAbandonedIssuance(t *testing.T) {
	h, cs := newCrashSH(t)
	ctx := context.Background()
	req := h.prepare("u1", "pro")
	res := h.window(req, iamporttest.CardOK, false)
	cs.mu.Lock()
	cs.fail["SettleIssuance"] = 1
	cs.mu.Unlock()
	_, err := h.svc.CompleteIssuance(ctx, "u1", core.CompleteInput{MerchantUID: req.Params.MerchantUID, ImpUID: windowImpUID(res), Source: core.SourceCallback})
	assert.Equal(t, codes.Internal, errCode(t, err))
	// The key disappears at iamport before anyone retries, and the request expires.
	require.True(t, h.fake.DeleteCustomerKey(req.Params.CustomerUID))
	h.clock.Advance(time.Hour)
	rep, err := h.restart().Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.IssuancesExpired)
	assert.Equal(t, 1, rep.Failed)
	assert.Equal(t, 0, h.fake.Count(iamporttest.EPAgain))
	cs2, err := h.store.ListCharges(ctx, "u1", 10)
	require.NoError(t, err)
	require.Len(t, cs2, 1)
	assert.Equal(t, core.ChargeFailed, cs2[0].Status)
}

// chargeRow commits a charge row directly, in state status, as a crashed process leaves it.
func (h *sh) chargeRow(user, mu string, status core.ChargeStatus) *store.Charge {
	h.t.Helper()
	ctx := context.Background()
	now := h.clock.Now()
	c, created, err := h.store.CreateCharge(ctx, &store.Charge{
		MerchantUID: mu, UserID: user, IdempotencyKey: "idem-" + mu, CustomerUID: h.customerUID(user),
		PlanID: "basic", Name: "Basic monthly", Amount: 9900, Status: core.ChargePending, CreatedAt: now, UpdatedAt: now,
	}, store.Lease{Owner: "crashed", For: 2 * time.Minute})
	require.NoError(h.t, err)
	require.True(h.t, created)
	if status != core.ChargePending {
		c, err = h.store.UpdateCharge(ctx, mu, []core.ChargeStatus{core.ChargePending},
			store.ChargeUpdate{Status: status, AddAttempts: 1, At: now})
		require.NoError(h.t, err)
	}
	return c
}

// againDirect sends `again` for a row straight through the client, as the crashed process
// did before dying.
func (h *sh) againDirect(c *store.Charge) (*iamport.Payment, error) {
	return h.client.Again(context.Background(), iamport.AgainRequest{
		CustomerUID: c.CustomerUID, MerchantUID: c.MerchantUID, Amount: c.Amount, Name: c.Name,
	})
}

// R19: from a random inconsistent state, one sweep makes the store match the fake.
func TestReconcileConverges(t *testing.T) {
	for seed := range uint64(3) {
		h := newSH(t)
		ctx := context.Background()
		rng := rand.New(rand.NewPCG(seed, 19))
		h.issueKey("good", iamporttest.CardOK)
		h.issueKey("bad", iamporttest.CardDeclined)
		type row struct {
			mu   string
			want core.ChargeStatus
		}
		var rows []row
		for i := range 40 {
			mu := fmt.Sprintf("bkcconv%d%03d", seed, i)
			status := []core.ChargeStatus{core.ChargePending, core.ChargeCharging, core.ChargeUnknown}[rng.IntN(3)]
			user := "good"
			if rng.IntN(4) == 0 {
				user = "bad"
			}
			c := h.chargeRow(user, mu, status)
			want := core.ChargePaid
			if user == "bad" {
				want = core.ChargeFailed
			}
			switch upstream := rng.IntN(3); {
			case upstream == 1 && status != core.ChargePending: // again reached iamport
				_, _ = h.againDirect(c)
			case upstream == 2 && status != core.ChargePending && user == "good": // paid, then cancelled
				p, err := h.againDirect(c)
				require.NoError(t, err)
				_, err = h.fake.CancelFromConsole(p.ImpUID, 0, "test")
				require.NoError(t, err)
				want = core.ChargeCancelled
			}
			rows = append(rows, row{mu, want})
		}
		h.clock.Advance(3 * time.Minute)
		from := h.calls()
		rep, err := h.svc.Reconcile(ctx)
		require.NoError(t, err)
		assert.Equal(t, 40, rep.Claimed)
		assert.Equal(t, 0, rep.StillUnknown)
		for _, r := range rows {
			c, err := h.store.GetCharge(ctx, r.mu)
			require.NoError(t, err)
			assert.Equal(t, r.want, c.Status, "seed %d row %s", seed, r.mu)
			ps := h.fake.PaymentsByMerchantUID(r.mu)
			require.Len(t, ps, 1, "exactly one payment upstream for %s", r.mu)
			assert.Equal(t, string(ps[0].Status), string(c.Status))
			assert.Equal(t, ps[0].ImpUID, c.ImpUID)
		}
		requireLookupBetweenAgainsFrom(t, h, from)
		h.clock.Advance(3 * time.Minute)
		rep, err = h.svc.Reconcile(ctx)
		require.NoError(t, err)
		assert.Equal(t, 0, rep.Claimed, "nothing left open")
	}
}

// R19/R4: several instances sweeping one store at once never work on one row twice.
func TestReconcileSeveralInstances(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	const rows = 60
	for i := range rows {
		h.chargeRow("u1", fmt.Sprintf("bkcmulti%03d", i), []core.ChargeStatus{core.ChargePending, core.ChargeCharging, core.ChargeUnknown}[i%3])
	}
	h.clock.Advance(3 * time.Minute)
	var svcs []*core.Service
	for i := range 4 {
		cfg := h.cfg
		cfg.InstanceID = fmt.Sprint("instance-", i)
		svc, err := core.New(cfg)
		require.NoError(t, err)
		svcs = append(svcs, svc)
	}
	var wg sync.WaitGroup
	reports := make([]core.ReconcileReport, len(svcs))
	for i, svc := range svcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			reports[i], err = svc.Reconcile(ctx)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	claimed := 0
	for _, r := range reports {
		claimed += r.Claimed
	}
	assert.Equal(t, rows, claimed, "each row claimed by exactly one instance")
	assert.Equal(t, rows, h.fake.Count(iamporttest.EPAgain), "one again per row")
	for i := range rows {
		mu := fmt.Sprintf("bkcmulti%03d", i)
		assert.Equal(t, 1, h.paidAtFake(mu))
		assert.Equal(t, core.ChargePaid, h.chargeStatus(mu))
	}
}

// A lookup that fails leaves the row for a later sweep; nothing is sent blindly.
func TestReconcileLookupFails(t *testing.T) {
	h := newSH(t, shClient(func(c *iamport.Config) { c.MaxRetries = -1 }))
	ctx := context.Background()
	h.issueKey("u1", iamporttest.CardOK)
	c := h.chargeRow("u1", "bkclookupfails", core.ChargeUnknown)
	h.clock.Advance(3 * time.Minute)
	h.fake.Inject(iamporttest.EPFindPayment, iamporttest.Fault{Status: 503})
	rep, err := h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.StillUnknown)
	assert.Equal(t, 0, h.fake.Count(iamporttest.EPAgain))
	assert.Equal(t, core.ChargeUnknown, h.chargeStatus(c.MerchantUID))
	// Released and touched: the next sweep waits ReconcileAfter again.
	rep, err = h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 0, rep.Claimed)
	h.clock.Advance(3 * time.Minute)
	rep, err = h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 1, rep.Paid)
	assert.Equal(t, 1, h.paidAtFake(c.MerchantUID))
}

func TestReconcileExpiresIssuances(t *testing.T) {
	h := newSH(t)
	ctx := context.Background()
	var mus []string
	for _, user := range []string{"u1", "u2", "u3"} {
		mus = append(mus, h.prepare(user, "").Params.MerchantUID)
	}
	h.clock.Advance(10 * time.Minute)
	fresh := h.prepare("u4", "").Params.MerchantUID
	h.clock.Advance(21 * time.Minute)
	rep, err := h.svc.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 3, rep.IssuancesExpired)
	for _, mu := range mus {
		is, err := h.store.GetIssuance(ctx, mu)
		require.NoError(t, err)
		assert.Equal(t, store.IssuanceExpired, is.Status)
	}
	is, err := h.store.GetIssuance(ctx, fresh)
	require.NoError(t, err)
	assert.Equal(t, store.IssuancePending, is.Status)
	assert.Equal(t, 0, h.calls())
}
