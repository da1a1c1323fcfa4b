package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/billkey/billkey/internal/pgtest"
	"github.com/billkey/billkey/store/sqlstore/pgdb"
)

// Config is one benchmark run. Zero fields take the defaults of DefaultConfig, but for
// Warmup (none) and Users (one per worker).
type Config struct {
	Contestants []string        `json:"contestants"`  // names from Contestants(); the floors they need are added
	Concurrency []int           `json:"concurrency"`  // workers sending charges back to back
	Latencies   []time.Duration `json:"latencies_ns"` // the fake's delay of every API call
	Rounds      int             `json:"rounds"`       // every cell is measured once per round, contestants interleaved
	Duration    time.Duration   `json:"duration_ns"`  // measured window of a cell (it ends earlier at MaxCharges)
	Warmup      time.Duration   `json:"warmup_ns"`    // unmeasured load before the window
	MaxCharges  int             `json:"max_charges"`  // charges started per window (and per warm-up) at most
	Users       int             `json:"users"`        // users with a billing key per cell; 0 = one per worker
	PostgresDSN string          `json:"-"`            // base DSN for the PostgreSQL contestants (each cell gets a schema); may hold a password
	ProfileDir  string          `json:"-"`            // when set, a CPU profile of every measured window goes here
	Progress    io.Writer       `json:"-"`            // one line per cell; nil = silent
}

// DefaultConfig is what a run without flags measures.
func DefaultConfig() Config {
	return Config{
		Contestants: DefaultContestants,
		Concurrency: []int{1, 16, 64},
		Latencies:   []time.Duration{0, 50 * time.Millisecond},
		Rounds:      3,
		Duration:    800 * time.Millisecond,
		Warmup:      200 * time.Millisecond,
		MaxCharges:  20000,
	}
}

// Limits that keep every run bounded.
const (
	maxConcurrency = 1024
	maxRounds      = 50
	maxDuration    = 10 * time.Minute
	maxCharges     = 10_000_000
	// setupBudget is what a cell process may spend beyond its load phases (start-up,
	// migrations, registering keys) before it is killed.
	setupBudget = 2 * time.Minute
)

// normalize applies defaults, checks the limits and adds the floors the contestants are
// compared with, floors first.
func (c Config) normalize() (Config, error) {
	d := DefaultConfig()
	if len(c.Contestants) == 0 {
		c.Contestants = d.Contestants
		if c.PostgresDSN == "" {
			c.Contestants = slices.DeleteFunc(slices.Clone(c.Contestants), func(n string) bool { return strings.HasSuffix(n, "/"+storePostgres) })
		}
	}
	if len(c.Concurrency) == 0 {
		c.Concurrency = d.Concurrency
	}
	if len(c.Latencies) == 0 {
		c.Latencies = d.Latencies
	}
	c.Rounds = cmpOr(c.Rounds, d.Rounds)
	c.Duration = cmpOr(c.Duration, d.Duration)
	c.MaxCharges = cmpOr(c.MaxCharges, d.MaxCharges)
	switch {
	case c.Rounds < 1 || c.Rounds > maxRounds:
		return c, fmt.Errorf("rounds must be 1..%d", maxRounds)
	case c.Duration <= 0 || c.Duration > maxDuration, c.Warmup < 0 || c.Warmup > maxDuration:
		return c, fmt.Errorf("duration and warm-up must be at most %s", maxDuration)
	case c.MaxCharges < 1 || c.MaxCharges > maxCharges:
		return c, fmt.Errorf("count must be 1..%d", maxCharges)
	case c.Users < 0 || c.Users > maxConcurrency:
		return c, fmt.Errorf("users must be 0..%d", maxConcurrency)
	}
	for _, n := range c.Concurrency {
		if n < 1 || n > maxConcurrency {
			return c, fmt.Errorf("concurrency must be 1..%d", maxConcurrency)
		}
	}
	for _, l := range c.Latencies {
		if l < 0 || l > time.Minute {
			return c, errors.New("latency must be 0..1m")
		}
	}
	var names []string
	for _, n := range c.Contestants {
		ct, ok := contestantByName(n)
		if !ok {
			return c, fmt.Errorf("unknown contestant %q (see -list)", n)
		}
		if ct.Store == storePostgres && c.PostgresDSN == "" {
			return c, fmt.Errorf("contestant %s needs a PostgreSQL DSN (-postgres or %s)", n, pgtest.Env)
		}
		if ct.Floor != "" && !slices.Contains(names, ct.Floor) {
			names = append([]string{ct.Floor}, names...)
		}
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	c.Contestants = names
	return c, nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Run measures every cell of cfg and returns the report. A cell that fails is recorded
// with its reason and the run goes on; Run fails only when it cannot run at all.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg}
	r.dir, err = os.MkdirTemp("", "billkeybench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(r.dir)
	if cfg.PostgresDSN != "" {
		if r.pg, err = pgdb.Open(cfg.PostgresDSN); err != nil {
			return nil, err
		}
		defer r.pg.Close()
		if err := r.pg.PingContext(ctx); err != nil {
			return nil, fmt.Errorf("PostgreSQL: %w", err)
		}
	}
	rep := &Report{Config: cfg, Started: time.Now(), Machine: machine()}
	total := cfg.Rounds * len(cfg.Latencies) * len(cfg.Concurrency) * len(cfg.Contestants)
	for round := 1; round <= cfg.Rounds; round++ {
		for _, lat := range cfg.Latencies {
			for _, conc := range cfg.Concurrency {
				for _, name := range rotate(cfg.Contestants, round-1) {
					if err := ctx.Err(); err != nil {
						return nil, err
					}
					res := r.measure(ctx, cellSpec{Contestant: name, Concurrency: conc, Latency: lat, Round: round})
					rep.Cells = append(rep.Cells, res)
					r.progress(len(rep.Cells), total, res)
				}
			}
		}
	}
	rep.Took = time.Since(rep.Started)
	return rep, nil
}

// rotate is s started at its i-th element (mod len), so each round runs the
// contestants in another order.
func rotate(s []string, i int) []string {
	if len(s) == 0 {
		return s
	}
	i %= len(s)
	return append(slices.Clone(s[i:]), s[:i]...)
}

type runner struct {
	cfg Config
	dir string
	pg  *sql.DB // for creating and dropping the cells' schemas
	n   int
}

// measure runs one cell: a fresh fake, a fresh database, a fresh process.
func (r *runner) measure(ctx context.Context, spec cellSpec) CellResult {
	failed := func(err error) CellResult {
		return CellResult{Contestant: spec.Contestant, Concurrency: spec.Concurrency, Latency: spec.Latency, Round: spec.Round, Failed: err.Error()}
	}
	r.n++
	ct, _ := contestantByName(spec.Contestant)
	spec.Users = cmpOr(r.cfg.Users, spec.Concurrency)
	spec.Duration, spec.Warmup, spec.MaxCharges = r.cfg.Duration, r.cfg.Warmup, r.cfg.MaxCharges
	spec.ResultPath = filepath.Join(r.dir, fmt.Sprintf("cell-%d.json", r.n))
	budget := 3*(spec.Duration+spec.Warmup) + setupBudget
	spec.Budget = budget - 5*time.Second
	if r.cfg.ProfileDir != "" {
		spec.CPUProfile = filepath.Join(r.cfg.ProfileDir, profileName(spec))
	}
	switch ct.Store {
	case storeSQLite:
		spec.SQLitePath = filepath.Join(r.dir, fmt.Sprintf("cell-%d.db", r.n))
		defer removeSQLite(spec.SQLitePath)
	case storePostgres:
		dsn, drop, err := r.schema(ctx)
		if err != nil {
			return failed(err)
		}
		defer drop()
		spec.PostgresDSN = dsn
	}
	fake, err := startFake(ctx, spec.Latency)
	if err != nil {
		return failed(err)
	}
	defer fake.stop()
	spec.FakeAPI, spec.FakeControl = fake.API, fake.Control
	res, err := runCellChild(ctx, spec, budget)
	if err != nil {
		return failed(err)
	}
	return res
}

// schema creates a schema of its own for a PostgreSQL cell and returns its DSN and how
// to drop it.
func (r *runner) schema(ctx context.Context) (string, func(), error) {
	name := "billkeybench_" + randomHex(6)
	if _, err := r.pg.ExecContext(ctx, "CREATE SCHEMA "+name); err != nil {
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = r.pg.ExecContext(ctx, "DROP SCHEMA "+name+" CASCADE")
	}
	dsn, err := pgtest.WithSearchPath(r.cfg.PostgresDSN, name)
	if err != nil {
		drop()
		return "", nil, errors.New("PostgreSQL DSN: cannot set search_path")
	}
	return dsn, drop, nil
}

func removeSQLite(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(path + suffix)
	}
}

func profileName(spec cellSpec) string {
	name := strings.ReplaceAll(spec.Contestant, "/", "-")
	return fmt.Sprintf("%s-c%d-%s-r%d.pprof", name, spec.Concurrency, spec.Latency, spec.Round)
}

func (r *runner) progress(done, total int, res CellResult) {
	if r.cfg.Progress == nil {
		return
	}
	status := fmt.Sprintf("%8.0f paid/s  p99 %7.1f ms  errors %d", res.PerSecond, ms(res.P99), res.ErrorCount())
	if res.Failed != "" {
		status = "FAILED: " + res.Failed
	}
	fmt.Fprintf(r.cfg.Progress, "[%d/%d] round %d  latency %-5s c=%-3d %-17s %s\n",
		done, total, res.Round, res.Latency, res.Concurrency, res.Contestant, status)
}

// machine describes where the run ran.
func machine() string {
	return fmt.Sprintf("%s, %s/%s, %d CPUs (GOMAXPROCS %d)",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0))
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
