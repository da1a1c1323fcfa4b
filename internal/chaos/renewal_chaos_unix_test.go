//go:build unix

package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/codes"
	"github.com/billkey/billkey/core"
	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/internal/pgtest"
	"github.com/billkey/billkey/store/sqlstore"
	"github.com/billkey/billkey/store/sqlstore/pgdb"
)

// The run's size and pace. Billing time runs about 400,000 times faster than real time:
// 100 days in steps of 12 hours, each step taken once the instances' sweeps in flight
// are over (see gate).
const (
	chaosMembers   = 300
	chaosInstances = 3
	chaosSpan      = 100 * 24 * time.Hour
	chaosStep      = 12 * time.Hour
	chaosStepEvery = 80 * time.Millisecond
	chaosFaultRate = 0.10 // of `again` requests
	chaosStalls    = 2
	settleStep     = 6 * time.Hour
	chaosBudget    = 150 * time.Second // every loop ends by then, whatever happens
)

// chaosKills are the kills of the run: at which step, which slot, at which stage. Each
// is armed on the step before a cluster of renewals comes due (the members subscribed
// within a second of each other: weekly renewals fall together on days 7, 14, ...; trial
// conversions on day 14; monthly ones on February 28 and March 31), so that the instance
// is renewing when it dies. One whose stage does not come within killWithin steps is
// killed wherever it is.
var chaosKills = []struct {
	step, slot int
	stage      string
}{
	{step: 27, slot: 0, stage: killBeforeAgain}, // day 14: trials convert, weekly renew
	{step: 55, slot: 1, stage: killAfterAgain},  // day 28: February 28, weekly
	{step: 117, slot: 2, stage: killAfterEvent}, // day 59: March 31
	{step: 139, slot: 0, stage: killAfterAgain}, // day 70: weekly
}

const killWithin = 30

// On PostgreSQL, three service processes run the renewal engine at once over one fake of
// iamport for 100 days of billing, with faults injected on `again` and instances killed
// with SIGKILL while they renew (and restarted): every period is charged exactly once, no
// renewal is missed, and no subscription or charge is left in a state it cannot leave
// (docs/guarantees.md, R4, R5, R18, R19).
func TestRenewalChaos(t *testing.T) {
	dsn := pgtest.SchemaDSN(t, "chaos_", "the multi-process renewal chaos test (PostgreSQL)")
	began := time.Now()
	deadline := began.Add(chaosBudget)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	start := time.Date(2027, time.January, 31, 10, 0, 0, 0, kst)
	fake := iamporttest.New(iamporttest.WithRealClock(), iamporttest.WithClock(start))
	t.Cleanup(fake.Close)
	fr := newFront(fake, 20270131, chaosStalls)
	urls := fr.listen(t, chaosInstances+1) // the last one is the parent's, for the setup

	db, err := pgdb.Open(dsn, pgdb.WithMaxConns(8))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	st, err := sqlstore.New(db, sqlstore.Postgres, sqlstore.WithClock(fake.Now))
	require.NoError(t, err)
	require.NoError(t, st.Migrate(ctx))
	client, err := iamport.New(iamport.Config{Key: iamporttest.Key, Secret: iamporttest.Secret, BaseURL: urls[chaosInstances]})
	require.NoError(t, err)
	setup, err := core.New(serviceConfig(client, st, fake.Now, "setup"))
	require.NoError(t, err)
	pop := population(chaosMembers)
	require.NoError(t, subscribeAll(ctx, setup, fake, pop))
	setupTook := time.Since(began)

	dir := logDir(t)
	g, err := openGate(dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = g.close() })
	fl := newFleet(t, dir, urls[:chaosInstances], []string{envDSN + "=" + dsn, envGateDir + "=" + dir}, fr)
	for slot := range chaosInstances {
		_, err := fl.start(slot)
		require.NoError(t, err)
	}
	require.NoError(t, fl.waitReady(30*time.Second))

	fr.setRate(chaosFaultRate)
	steps := runSteps(t, fake, fr, fl, g, deadline)
	fr.setRate(0)
	frozen, settleSteps, why := settle(ctx, t, fake, st, g, pop, deadline)
	fl.stop()
	require.NoError(t, g.release())
	stopErr := fl.wait(20 * time.Second)
	final := fake.Now()

	snap, err := takeSnapshot(ctx, st, pop)
	require.NoError(t, err)
	rep := audit(snap, pop, fake, fr.sentUIDs(), frozen, final)
	faults, faultTotal := fr.injectedText()
	t.Logf("chaos figures: subscriptions=%d instances=%d billing_days=%.0f steps=%d+%d settle | "+
		"periods_charged=%d renewals_failed=%d dunning_retries=%d recovered=%d resent_after_lookup=%d ended=%d | "+
		"engine: renewed=%d failed=%d ended=%d waiting=%d reconciled_paid=%d reconciled_retried=%d | "+
		"faults=%d (%s) kills=%d (%s) | double_charges=%d missed_renewals=%d stuck=%d stray_agains=%d "+
		"max_concurrent_again=%d max_renewal_lag=%s | wall=%s (setup %s)",
		len(pop), chaosInstances, final.Sub(start).Hours()/24, steps, settleSteps,
		rep.paid, rep.failed, rep.dunningRetries, rep.recovered, rep.resent, rep.ended,
		fl.counts["renew.renewed"], fl.counts["renew.failed"], fl.counts["renew.ended"], fl.counts["renew.waiting"],
		fl.counts["reconcile.paid"], fl.counts["reconcile.retried"],
		faultTotal, faults, len(fl.kills), killsText(fl.kills),
		rep.doubleCharges, rep.missed, rep.stuck, rep.strays, rep.maxConcurrentAgain, rep.maxLag,
		time.Since(began).Round(100*time.Millisecond), setupTook.Round(100*time.Millisecond))

	for i, p := range rep.problems {
		if i == 30 {
			t.Errorf("... and %d more problems", len(rep.problems)-i)
			break
		}
		t.Error(p)
	}
	assert.Empty(t, why, "the instances did not come to rest")
	assert.NoError(t, stopErr)
	assert.Empty(t, fl.raceReports(), "data races in instances (see their logs)")
	assert.Zero(t, rep.doubleCharges, "double charges")
	assert.Zero(t, rep.missed, "missed renewals")
	assert.Zero(t, rep.stuck, "stuck subscriptions or charges")
	assert.Zero(t, rep.strays)
	assert.LessOrEqual(t, rep.maxConcurrentAgain, 1)
	assert.Less(t, rep.maxLag, grace, "a renewal ran later than the grace")
	assert.Len(t, fl.kills, len(chaosKills), "every kill happened")
	assert.Positive(t, faultTotal)
	for _, e := range fl.errs {
		t.Logf("instance error line: %s", e)
	}
	if t.Failed() {
		for _, p := range fl.all {
			t.Logf("--- %s (log %s):\n%s", p.id, p.stderr, tail(p.stderr, 15))
		}
	}
}

// population is n members: 40% monthly, 25% weekly and 15% trial plans on cards that
// always pay; 5% on cards that always decline; 15% on cards that pay 1 to 3 times and
// then decline.
func population(n int) []member {
	pop := make([]member, n)
	for i := range pop {
		m := member{user: fmt.Sprintf("u%04d", i), card: iamporttest.CardOK}
		round := i / 20
		switch r := i % 20; {
		case r < 8:
			m.plan = "monthly"
		case r < 13:
			m.plan = "weekly"
		case r < 16:
			m.plan = "trial"
		case r == 16:
			m.plan, m.card, m.declined = []string{"monthly", "trial"}[round%2], iamporttest.CardDeclined, true
		default:
			m.plan = []string{"weekly", "monthly", "weekly"}[r-17]
			m.declineAfter = 1 + round%3
			m.card = fmt.Sprintf("%s%02d", iamporttest.CardDeclineAfter, m.declineAfter)
		}
		pop[i] = m
	}
	return pop
}

// subscribeAll registers every member's card and subscribes them, four at a time.
func subscribeAll(ctx context.Context, svc *core.Service, fake *iamporttest.Fake, pop []member) error {
	work := make(chan member)
	errs := make(chan error, len(pop))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for m := range work {
				errs <- subscribeOne(ctx, svc, fake, m)
			}
		})
	}
	for _, m := range pop {
		work <- m
	}
	close(work)
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return errors.Join(all...)
}

func subscribeOne(ctx context.Context, svc *core.Service, fake *iamporttest.Fake, m member) error {
	if err := registerCard(ctx, svc, fake, m.user, m.card); err != nil {
		return err
	}
	_, err := svc.Subscribe(ctx, core.SubscribeRequest{UserID: m.user, PlanID: m.plan, IdempotencyKey: "chaos"})
	var ce *core.Error
	switch {
	case err == nil:
		return nil
	case m.declined && planByID(m.plan).Trial.IsZero() && errors.As(err, &ce) && ce.Code == codes.CardDeclined:
		return nil // its first charge was declined, as it should
	}
	return fmt.Errorf("subscribe %s to %s: %w", m.user, m.plan, err)
}

// runSteps moves the fake's clock through the run, a step at a time while no sweep
// runs, and kills and restarts instances as chaosKills says. It returns the steps taken.
func runSteps(t *testing.T, fake *iamporttest.Fake, fr *front, fl *fleet, g *gate, deadline time.Time) int {
	t.Helper()
	steps := int(chaosSpan / chaosStep)
	var armed *killPlan
	armedAt, next := 0, 0
	for i := range steps {
		if time.Now().After(deadline) {
			t.Errorf("the run passed its deadline at step %d of %d", i, steps)
			return i
		}
		time.Sleep(chaosStepEvery)
		require.NoError(t, g.hold())
		fake.Advance(chaosStep)
		require.NoError(t, g.release())

		if armed != nil {
			if i-armedAt > killWithin {
				armed.fire(killIdle) // its stage never came: killed wherever it is
			}
			select {
			case <-armed.fired:
				require.NoError(t, fl.restart(armed.slot))
				armed = nil
			default:
			}
		}
		if armed == nil && next < len(chaosKills) && i >= chaosKills[next].step {
			k := chaosKills[next]
			armed = &killPlan{slot: k.slot, stage: k.stage, fired: make(chan struct{}),
				kill: func(stage string) { fl.killSlot(k.slot, stage) }}
			armedAt = i
			fr.arm(armed)
			next++
		}
	}
	if armed != nil {
		armed.fire(killIdle)
		require.NoError(t, fl.restart(armed.slot))
	}
	return steps
}

// settle lets the instances finish with the faults off: it moves the clock in steps of
// settleStep (each past every lease) until the store is at rest, and returns the fake's
// time then, holding the gate so that no sweep runs until the instances are stopped. why
// says what was still moving if it never came to rest.
func settle(ctx context.Context, t *testing.T, fake *iamporttest.Fake, st *sqlstore.Store, g *gate, pop []member, deadline time.Time) (frozen time.Time, steps int, why string) {
	t.Helper()
	for steps = 0; steps < 40 && time.Now().Before(deadline); steps++ {
		time.Sleep(300 * time.Millisecond)
		require.NoError(t, g.hold())
		if steps >= 2 {
			now := fake.Now()
			snap, err := takeSnapshot(ctx, st, pop)
			require.NoError(t, err)
			if why = snap.unsettled(now); why == "" {
				return now, steps, ""
			}
		}
		fake.Advance(settleStep)
		require.NoError(t, g.release())
	}
	require.NoError(t, g.hold())
	return fake.Now(), steps, why
}

// logDir is where the instances' logs and reports go: BILLKEY_CHAOS_LOGS if set (kept
// after the test), else a temporary directory.
func logDir(t *testing.T) string {
	if d := os.Getenv("BILLKEY_CHAOS_LOGS"); d != "" {
		d = filepath.Join(d, time.Now().Format("20060102-150405"))
		require.NoError(t, os.MkdirAll(d, 0o700))
		t.Logf("instance logs in %s", d)
		return d
	}
	return t.TempDir()
}

func killsText(ks []kill) string {
	var b strings.Builder
	for i, k := range ks {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s@%s", k.instance, k.stage)
	}
	return b.String()
}
