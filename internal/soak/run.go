// Package soak runs the billkey examples under load, faults and attack and audits the
// store against the fake iamport afterwards (docs/guarantees.md): several processes of
// the net/http example on one PostgreSQL database (or one on SQLite), a fake iamport in
// this process, customers, an attacker, kills and a figures table.
package soak

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/billkey/billkey/iamport"
	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/store"
	"github.com/billkey/billkey/store/sqlstore"
	"github.com/billkey/billkey/store/sqlstore/pgdb"
	"github.com/billkey/billkey/store/sqlstore/sqlitedb"
)

// Config is one run.
type Config struct {
	Instances        int           // processes of the example (1 on SQLite)
	Duration         time.Duration // bound of the load phase
	Charges          int           // bound of the customers' charges
	WorkersPerUser   int           // concurrent charge loops per customer
	FaultsPerSecond  float64       // faults queued on the fake
	AttacksPerSecond float64
	Kills            int // SIGKILL + restart of one instance
	// FullRefunds has the operator refund whole charges in the console too, not only
	// parts of them.
	FullRefunds bool
	// ClockSkew sets the billing clocks of the instances apart: the second runs this far
	// ahead of the shop's (and store's) clock, the third this far behind.
	ClockSkew     time.Duration
	TerminateDB   bool // pg_terminate_backend once (PostgreSQL)
	Seed          uint64
	PostgresDSN   string // "" = SQLite
	Dir           string // logs and SQLite file; "" = a temporary directory
	Shop          string // prebuilt examples/nethttp binary; "" = build it
	SettleTimeout time.Duration
}

// run is the state of one Run.
type run struct {
	cfg     Config
	up      *upstream
	fleet   []*instance
	cl      *client
	lat     *latencies
	counts  *tally
	faults  *tally
	attacks *tally

	rngMu sync.Mutex
	rng   *rand.Rand

	mu       sync.Mutex
	issued   map[string]string
	paidMU   map[string][]string
	accepted []string
	errs     []string
	// adminRefunded lists the charges the operator asked the admin API to refund.
	adminRefunded []string
}

func (r *run) pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func (r *run) noteIssued(customerUID, user string) {
	r.mu.Lock()
	r.issued[customerUID] = user
	r.mu.Unlock()
}

func (r *run) notePaid(user string, a answer) {
	var v struct {
		MerchantUID string `json:"merchant_uid"`
	}
	if a.json(&v) == nil && v.MerchantUID != "" {
		r.mu.Lock()
		// The latest few, newest last: refunds pick recent charges all run long.
		l := append(r.paidMU[user], v.MerchantUID)
		if len(l) > 64 {
			l = append(l[:0:0], l[len(l)-32:]...)
		}
		r.paidMU[user] = l
		r.mu.Unlock()
	}
}

func (r *run) merchantUIDOf(user string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l := r.paidMU[user]; len(l) > 0 {
		return l[len(l)-1]
	}
	return ""
}

func (r *run) someMerchantUID() string {
	if mu := r.merchantUIDOf(userAlice); mu != "" {
		return mu
	}
	return "order_forged"
}

func (r *run) harnessError(s string) {
	r.mu.Lock()
	r.errs = append(r.errs, s)
	r.mu.Unlock()
}

// liveBase is the URL of some instance that is up.
func (r *run) liveBase() string {
	for _, in := range r.fleet {
		if u, _ := in.current(); u != "" {
			return u
		}
	}
	return "http://127.0.0.1:1"
}

// skewOf is instance i's clock skew: 0, +ClockSkew, -ClockSkew, 0, ...
func (c *Config) skewOf(i int) time.Duration {
	return [...]time.Duration{0, c.ClockSkew, -c.ClockSkew}[i%3]
}

func (c *Config) defaults() {
	if c.Instances <= 0 {
		c.Instances = 3
	}
	if c.PostgresDSN == "" {
		c.Instances = 1
		c.TerminateDB = false
	}
	if c.Duration <= 0 {
		c.Duration = time.Minute
	}
	if c.Charges <= 0 {
		c.Charges = 200
	}
	if c.WorkersPerUser <= 0 {
		c.WorkersPerUser = 3
	}
	if c.SettleTimeout <= 0 {
		c.SettleTimeout = 4 * time.Minute
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
}

// Run does one bounded run and returns its figures; the error is for a run that could
// not be done at all. Violations are in Figures.Violations.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Figures, error) {
	cfg.defaults()
	say := func(format string, args ...any) { fmt.Fprintf(progress, "soak: "+format+"\n", args...) }
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "billkey-soak-")
		if err != nil {
			return nil, err
		}
		dir = d
	}
	if cfg.Shop == "" {
		say("building examples/nethttp")
		bin, err := buildShop(ctx, dir)
		if err != nil {
			return nil, err
		}
		cfg.Shop = bin
	}
	r := &run{cfg: cfg, lat: newLatencies(), counts: newTally(), faults: newTally(), attacks: newTally(),
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), issued: map[string]string{}, paidMU: map[string][]string{}}
	r.cl = newClient(r.lat)
	up, err := startUpstream(90 * time.Second)
	if err != nil {
		return nil, err
	}
	defer up.close()
	r.up = up

	storeArg, appName, db, dropSchema, err := openRunStore(ctx, cfg, dir)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	defer dropSchema()

	for i := range cfg.Instances {
		in := &instance{name: fmt.Sprintf("shop%d", i+1), bin: cfg.Shop, log: filepath.Join(dir, fmt.Sprintf("shop%d.log", i+1)),
			args: append([]string{"-addr", "127.0.0.1:0", "-iamport-url", up.URL, "-clock-skew", cfg.skewOf(i).String()}, storeArg...)}
		if err := in.start(ctx); err != nil {
			stopAll(r.fleet)
			return nil, err
		}
		r.fleet = append(r.fleet, in)
	}
	defer stopAll(r.fleet)
	say("%d instance(s) up on %s; fake iamport at %s; logs in %s", len(r.fleet), storageName(cfg), up.URL, dir)

	start := time.Now()
	load(ctx, r, db, appName, say)
	loadTime := time.Since(start)

	// Faults stop; instances settle.
	up.fake.ClearFaults()
	settleStart := time.Now()
	snap, settled := r.settle(ctx, db, say)
	settleTime := time.Since(settleStart)
	if !settled {
		r.harnessError(fmt.Sprintf("did not settle within %s", cfg.SettleTimeout))
	}
	// The harness's own keep-alive connections would hold descriptors and goroutines in
	// the instances; they go first, and the servers' connection goroutines with them.
	r.cl.hc.CloseIdleConnections()
	r.pause(ctx, 2*time.Second)
	resEnd := r.sampleResources(ctx)
	for _, in := range r.fleet {
		in.mu.RLock()
		st := in.baseline
		in.mu.RUnlock()
		end := resEnd[in.name]
		snap.Resources = append(snap.Resources, ResourceSample{Instance: in.name,
			FDStart: st.fds, FDEnd: end.fds, GoroutineStart: st.goroutines, GoroutineEnd: end.goroutines})
	}
	for _, in := range r.fleet {
		if err := in.stop(); err != nil {
			r.harnessError(err.Error())
		}
	}
	r.fleet = nil
	snap.LogFiles = append(snap.LogFiles, r.fleetLogs(dir)...)
	snap.HarnessErrors = append(snap.HarnessErrors, r.errs...)
	vs := Audit(snap)
	fig := r.figures(snap, vs, loadTime, settleTime)
	say("done: %d violation(s)", len(vs))
	return fig, nil
}

func (r *run) fleetLogs(dir string) []string {
	m, _ := filepath.Glob(filepath.Join(dir, "shop*.log"))
	return m
}

func stopAll(fleet []*instance) {
	for _, in := range fleet {
		_ = in.stop()
	}
}

func storageName(cfg Config) string {
	if cfg.PostgresDSN != "" {
		return "PostgreSQL"
	}
	return "SQLite"
}

// resources is what one instance holds at a moment.
type resources struct{ fds, goroutines int }

func (r *run) sampleResources(ctx context.Context) map[string]resources {
	out := make(map[string]resources)
	for _, in := range r.fleet {
		base, _ := in.current()
		out[in.name] = resources{fds: openFiles(in.pid()), goroutines: goroutines(ctx, base)}
	}
	return out
}

// cardOf is the card customer i types: the last customer's pays its first 5 charges
// on each key and is declined after, so its renewals go past due and dunning runs
// (a new card, which a lifecycle step registers, recovers it).
func cardOf(i int) string {
	if i == len(demoUsers)-1 {
		return iamporttest.CardDeclineAfter + "05"
	}
	return iamporttest.CardOK
}

// load runs the customers, the attacker, the faults, the clock and the kills until the
// charge budget is spent or the duration ends.
func load(ctx context.Context, r *run, db *sql.DB, appName string, say func(string, ...any)) {
	lctx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	// Charges are spread over most of the duration, so faults, kills and clock moves meet them.
	budget := &chargeBudget{max: r.cfg.Charges, start: time.Now(), every: r.cfg.Duration * 8 / 10 / time.Duration(r.cfg.Charges)}
	var customers []*customer
	for i, u := range demoUsers {
		customers = append(customers, &customer{user: u, mobile: i%2 == 0, card: cardOf(i), r: r, logins: newLogins(r, "/login", u),
			rng: rand.New(rand.NewPCG(r.cfg.Seed+uint64(i), 7))})
	}
	var wg sync.WaitGroup
	var side sync.WaitGroup
	sideCtx, stopSide := context.WithCancel(lctx)
	for _, c := range customers {
		wg.Go(func() { c.live(lctx, budget, r.cfg.WorkersPerUser) })
	}
	side.Go(func() { r.injectFaults(sideCtx) })
	side.Go(func() { r.attackLoop(sideCtx, customers[1]) })
	side.Go(func() { r.moveClock(sideCtx) })
	side.Go(func() { r.refunds(sideCtx) })
	side.Go(func() { r.adminRefunds(sideCtx) })
	side.Go(func() { r.chaos(sideCtx, db, appName, say) })
	side.Go(func() { r.reportProgress(sideCtx, budget, say) })
	wg.Wait()
	stopSide()
	side.Wait()
}

func (r *run) reportProgress(ctx context.Context, b *chargeBudget, say func(string, ...any)) {
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		b.mu.Lock()
		n := b.next
		b.mu.Unlock()
		_, total := r.lat.summary()
		say("%d/%d charges started, %d requests, %d faults, %d attacks", n, b.max, total, sum(r.faults.copy()), sum(r.attacks.copy()))
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// moveClock moves the fake's clock a day at a time so renewals and dunning happen.
func (r *run) moveClock(ctx context.Context) {
	every := max(r.cfg.Duration/45, 500*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for i := 0; i < 90; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.up.fake.Advance(24 * time.Hour)
		r.counts.inc("days the clock moved")
	}
}

// refunds has an operator refund some paid charges through iamport's console, in part or
// in full; billkey learns of them by webhook or reconciliation.
func (r *run) refunds(ctx context.Context) {
	t := time.NewTicker(max(r.cfg.Duration/20, time.Second))
	defer t.Stop()
	for n := 0; n < 40; n++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		mu := r.merchantUIDOf(demoUsers[n%len(demoUsers)])
		for _, p := range r.up.fake.PaymentsByMerchantUID(mu) {
			if p.Status != iamport.StatusPaid || p.CancelAmount > 0 {
				continue
			}
			amount := p.Amount
			if n%2 == 0 || !r.cfg.FullRefunds {
				amount = p.Amount / 3
			}
			if _, err := r.up.fake.CancelFromConsole(p.ImpUID, amount, "soak: operator refund"); err == nil {
				r.counts.inc("refunds")
			}
		}
	}
}

// chaos kills and restarts one instance Kills times and ends the run's database
// connections once.
func (r *run) chaos(ctx context.Context, db *sql.DB, appName string, say func(string, ...any)) {
	steps := r.cfg.Kills + 1
	for k := 1; k <= steps; k++ {
		r.pause(ctx, r.cfg.Duration/time.Duration(steps+1))
		if ctx.Err() != nil {
			return
		}
		if k == steps {
			if r.cfg.TerminateDB && appName != "" {
				n, err := terminateConnections(context.WithoutCancel(ctx), db, appName)
				if err != nil {
					r.harnessError("pg_terminate_backend: " + err.Error())
				} else {
					r.counts.inc("pg_terminate_backend")
					say("terminated %d database connection(s)", n)
				}
			}
			continue
		}
		victim := r.fleet[len(r.fleet)-1]
		say("SIGKILL %s", victim.name)
		victim.kill()
		r.counts.inc("crashes (SIGKILL)")
		if err := victim.start(context.WithoutCancel(ctx)); err != nil {
			r.harnessError("restart after SIGKILL: " + err.Error())
		}
	}
}

// openRunStore gives the run a store of its own: a fresh schema with its own
// application_name on PostgreSQL, or a SQLite file. It returns the instances' storage
// flags and the harness's connection.
func openRunStore(ctx context.Context, cfg Config, dir string) (args []string, appName string, db *sql.DB, drop func(), err error) {
	if cfg.PostgresDSN == "" {
		path := filepath.Join(dir, "soak.db")
		db, err = sqlitedb.Open(path)
		return []string{"-db", path}, "", db, func() {}, err
	}
	var b [5]byte
	_, _ = crand.Read(b[:])
	suffix := hex.EncodeToString(b[:])
	schema, appName := "soak_"+suffix, "billkeysoak_"+suffix
	admin, err := pgdb.Open(cfg.PostgresDSN)
	if err != nil {
		return nil, "", nil, nil, err
	}
	if _, err := admin.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		_ = admin.Close()
		return nil, "", nil, nil, fmt.Errorf("create schema: %w", err)
	}
	drop = func() {
		_, _ = admin.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		_ = admin.Close()
	}
	dsn, err := withParams(cfg.PostgresDSN, map[string]string{"search_path": schema, "application_name": appName})
	if err != nil {
		drop()
		return nil, "", nil, nil, err
	}
	db, err = pgdb.Open(dsn)
	if err != nil {
		drop()
		return nil, "", nil, nil, err
	}
	st, err := sqlstore.New(db, sqlstore.Postgres)
	if err == nil {
		err = st.Migrate(ctx)
	}
	if err != nil {
		drop()
		return nil, "", nil, nil, err
	}
	return []string{"-postgres", dsn}, appName, db, drop, nil
}

// withParams sets run-time parameters in a postgres:// URL DSN.
func withParams(dsn string, params map[string]string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("soak: the PostgreSQL DSN must be a postgres:// URL")
	}
	q := u.Query()
	for k, v := range params {
		q.Set(k, v)
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// settle polls the store until nothing is in flight (bounded) and returns the snapshot.
// settleProgressEvery is how often settle says what it still waits for.
const settleProgressEvery = 15 * time.Second

func (r *run) settle(ctx context.Context, db *sql.DB, say func(string, ...any)) (Snapshot, bool) {
	dialect := sqlstore.SQLite
	if r.cfg.PostgresDSN != "" {
		dialect = sqlstore.Postgres
	}
	st, err := sqlstore.New(db, dialect, sqlstore.WithClock(r.up.fake.Now))
	if err != nil {
		r.harnessError(err.Error())
		return Snapshot{}, false
	}
	deadline := time.Now().Add(r.cfg.SettleTimeout)
	nextSay := time.Now().Add(settleProgressEvery)
	var snap Snapshot
	for {
		snap = r.snapshot(ctx, st)
		why := unsettledWhy(snap)
		if why == "" {
			return snap, true
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			say("not settled: %s%s", why, r.deliveriesOf(why))
			return snap, false
		}
		if time.Now().After(nextSay) {
			say("settling: waiting for %s", why)
			nextSay = time.Now().Add(settleProgressEvery)
		}
		r.pause(ctx, time.Second)
	}
}

// deliveriesOf describes the fake's notifications for the merchant_uid named in why, so
// a run that did not settle says whether billkey was told.
func (r *run) deliveriesOf(why string) string {
	var parts []string
	for _, w := range r.up.fake.Webhooks() {
		if w.MerchantUID == "" || !strings.Contains(why, w.MerchantUID) {
			continue
		}
		outcome := fmt.Sprintf("HTTP %d", w.HTTPStatus)
		if w.Err != nil {
			outcome = w.Err.Error()
		}
		parts = append(parts, w.Status+" → "+outcome)
	}
	if len(parts) == 0 {
		return " (no notification for it)"
	}
	return " (its notifications: " + strings.Join(parts, "; ") + ")"
}

func unsettledWhy(s Snapshot) string {
	for _, c := range s.Charges {
		switch c.Status {
		case store.ChargePending, store.ChargeCharging, store.ChargeUnknown:
			return "charge " + c.MerchantUID + " " + string(c.Status)
		}
		if pays := s.FakePayments[c.MerchantUID]; len(pays) > 0 && pays[0].CancelAmount != c.Refunded {
			return "refund of " + c.MerchantUID + " not applied yet"
		}
	}
	for _, sub := range s.Subscriptions {
		if why := restless(sub, s.Now); why != "" {
			return "subscription " + sub.ID + ": " + why
		}
	}
	for _, rf := range s.Refunds {
		if unsettledRefund(rf) {
			return "refund " + rf.ID + " of " + rf.MerchantUID + " " + string(rf.Status)
		}
	}
	return ""
}

func (r *run) snapshot(ctx context.Context, st *sqlstore.Store) Snapshot {
	s := Snapshot{Now: r.up.fake.Now(), Keys: map[string]*store.BillingKey{}, FakePayments: map[string][]iamport.Payment{},
		AttackKeyPrefix: AttackKeyPrefix, FDSlack: 64, GoroutineSlack: 32}
	var cur store.Cursor
	for range 10000 {
		page, err := st.SearchCharges(ctx, store.ChargeQuery{After: cur, Limit: 500})
		if err != nil {
			s.HarnessErrors = append(s.HarnessErrors, "read charges: "+err.Error())
			break
		}
		s.Charges = append(s.Charges, page.Charges...)
		if page.Next.IsZero() {
			break
		}
		cur = page.Next
	}
	for _, u := range demoUsers {
		subs, err := st.ListSubscriptions(ctx, u)
		if err != nil {
			s.HarnessErrors = append(s.HarnessErrors, "read subscriptions: "+err.Error())
		}
		s.Subscriptions = append(s.Subscriptions, subs...)
		if k, err := st.GetBillingKey(ctx, u); err == nil {
			s.Keys[u] = k
		}
	}
	r.mu.Lock()
	refunded := append([]string(nil), r.adminRefunded...)
	r.mu.Unlock()
	seen := map[string]bool{}
	for _, mu := range refunded {
		if seen[mu] {
			continue
		}
		seen[mu] = true
		rfs, err := st.ListRefunds(ctx, mu)
		if err != nil {
			s.HarnessErrors = append(s.HarnessErrors, "read refunds: "+err.Error())
		}
		s.Refunds = append(s.Refunds, rfs...)
	}
	mus, _ := r.up.againMerchantUIDs()
	s.AgainMerchantUIDs = mus
	for _, mu := range mus {
		s.FakePayments[mu] = r.up.fake.PaymentsByMerchantUID(mu)
	}
	for _, c := range s.Charges {
		if _, ok := s.FakePayments[c.MerchantUID]; !ok {
			if p := r.up.fake.PaymentsByMerchantUID(c.MerchantUID); len(p) > 0 {
				s.FakePayments[c.MerchantUID] = p
			}
		}
	}
	r.mu.Lock()
	s.Issued = make(map[string]string, len(r.issued))
	for k, v := range r.issued {
		s.Issued[k] = v
	}
	s.AttackAccepted = append([]string(nil), r.accepted...)
	r.mu.Unlock()
	s.Secrets = append([]string{iamporttest.Secret}, r.up.issuedTokens()...)
	cards := []string{cardOf(len(demoUsers) - 1)}
	for _, c := range iamporttest.TestCards() {
		cards = append(cards, c.Number)
	}
	for _, n := range cards {
		s.Secrets = append(s.Secrets, n, strings.NewReplacer("-", "", " ", "").Replace(n))
	}
	return s
}
