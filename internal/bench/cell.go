package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

// cellSpec is what a cell process is asked to measure.
type cellSpec struct {
	Contestant  string        `json:"contestant"`
	Concurrency int           `json:"concurrency"`
	Latency     time.Duration `json:"latency"`
	Round       int           `json:"round"`
	Users       int           `json:"users"`
	Duration    time.Duration `json:"duration"`
	Warmup      time.Duration `json:"warmup"`
	MaxCharges  int           `json:"max_charges"`
	Budget      time.Duration `json:"budget"` // the process gives up after this
	FakeAPI     string        `json:"fake_api"`
	FakeControl string        `json:"fake_control"`
	SQLitePath  string        `json:"sqlite_path,omitempty"`
	PostgresDSN string        `json:"postgres_dsn,omitempty"`
	CPUProfile  string        `json:"cpu_profile,omitempty"`
	ResultPath  string        `json:"result_path"`
}

// CellResult is the measurement of one contestant at one concurrency and fake latency
// in one round. Counts and costs cover the measured window only (after the warm-up).
// Costs per charge divide by every charge that ended, paid or not.
type CellResult struct {
	Contestant  string         `json:"contestant"`
	Concurrency int            `json:"concurrency"`
	Latency     time.Duration  `json:"latency_ns"`
	Round       int            `json:"round"`
	Paid        int            `json:"paid"`
	Errors      map[string]int `json:"errors,omitempty"` // kind → count
	Elapsed     time.Duration  `json:"elapsed_ns"`
	PerSecond   float64        `json:"paid_per_second"`
	P50         time.Duration  `json:"p50_ns"`
	P99         time.Duration  `json:"p99_ns"`
	CPU         time.Duration  `json:"cpu_per_charge_ns"`
	Allocs      float64        `json:"allocs_per_charge"`
	Bytes       float64        `json:"bytes_per_charge"`
	PeakRSS     int64          `json:"peak_rss_bytes"` // whole process, set-up included
	GetToken    int            `json:"get_token_calls"`
	Again       int            `json:"again_calls"`
	Conns       int64          `json:"fake_connections"` // TCP connections opened to the fake
	DBConns     int            `json:"db_connections_opened,omitempty"`
	DBWait      time.Duration  `json:"db_wait_per_charge_ns,omitempty"`
	DBHold      time.Duration  `json:"db_hold_per_charge_ns,omitempty"` // connection time per charge: mean connections in use ÷ charges per second
	Failed      string         `json:"failed,omitempty"`                // the cell could not be measured
}

// ErrorCount is the number of charges that did not end paid.
func (r CellResult) ErrorCount() int {
	n := 0
	for _, c := range r.Errors {
		n += c
	}
	return n
}

// runCellProcess is the cell process: spec on r, result to spec.ResultPath.
func runCellProcess(r io.Reader) error {
	var spec cellSpec
	if err := json.NewDecoder(r).Decode(&spec); err != nil {
		return fmt.Errorf("cell: spec: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), spec.Budget)
	defer cancel()
	res := runCell(ctx, &spec)
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return os.WriteFile(spec.ResultPath, b, 0o600)
}

// snapshot is the process's counters at one instant.
type snapshot struct {
	cpu     time.Duration
	mem     runtime.MemStats
	fake    fakeStats
	db      sql.DBStats
	hasDB   bool
	fakeErr error
}

func takeSnapshot(ctx context.Context, ctl *control, db *sql.DB) snapshot {
	var s snapshot
	s.fake, s.fakeErr = ctl.stats(ctx)
	if db != nil {
		s.db, s.hasDB = db.Stats(), true
	}
	runtime.ReadMemStats(&s.mem)
	s.cpu = cpuTime()
	return s
}

// runCell sets the contestant up, warms it up, and measures it.
func runCell(ctx context.Context, spec *cellSpec) CellResult {
	res := CellResult{Contestant: spec.Contestant, Concurrency: spec.Concurrency, Latency: spec.Latency, Round: spec.Round}
	c, ok := contestantByName(spec.Contestant)
	if !ok {
		res.Failed = "unknown contestant"
		return res
	}
	env := &cellEnv{spec: spec, ctl: newControl(spec.FakeControl), users: userIDs(spec.Users)}
	tgt, err := c.build(ctx, env)
	if err != nil {
		res.Failed = "set-up: " + err.Error()
		return res
	}
	defer tgt.close()
	if spec.Warmup > 0 {
		runLoad(ctx, spec.Concurrency, spec.Warmup, spec.MaxCharges, tgt.charge)
	}

	before := takeSnapshot(ctx, env.ctl, tgt.db)
	stopProfile := startProfile(spec.CPUProfile)
	stopSampling := samplePool(tgt.db)
	lr := runLoad(ctx, spec.Concurrency, spec.Duration, spec.MaxCharges, tgt.charge)
	inUse := stopSampling()
	stopProfile()
	after := takeSnapshot(ctx, env.ctl, tgt.db)

	if before.fakeErr != nil || after.fakeErr != nil {
		res.Failed = fmt.Sprintf("fake counters: %v %v", before.fakeErr, after.fakeErr)
		return res
	}
	fill(&res, lr, before, after)
	if res.PerSecond > 0 {
		res.DBHold = time.Duration(inUse / res.PerSecond * float64(time.Second))
	}
	return res
}

// samplePool samples how many connections of db are in use, every millisecond until
// stop is called, which returns the mean (0 for a nil db).
func samplePool(db *sql.DB) (stop func() float64) {
	if db == nil {
		return func() float64 { return 0 }
	}
	done := make(chan struct{})
	mean := make(chan float64, 1)
	go func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		sum, n := 0, 0
		for {
			select {
			case <-t.C:
				sum += db.Stats().InUse
				n++
			case <-done:
				mean <- float64(sum) / float64(max(n, 1))
				return
			}
		}
	}()
	return func() float64 {
		close(done)
		return <-mean
	}
}

// fill computes res from a phase's load and the snapshots around it.
func fill(res *CellResult, lr loadResult, before, after snapshot) {
	res.Paid, res.Errors, res.Elapsed = lr.OK, lr.Errors, lr.Elapsed
	if lr.Elapsed > 0 {
		res.PerSecond = float64(lr.OK) / lr.Elapsed.Seconds()
	}
	res.P50, res.P99 = percentile(lr.Latency, 0.50), percentile(lr.Latency, 0.99)
	res.GetToken = after.fake.GetToken - before.fake.GetToken
	res.Again = after.fake.Again - before.fake.Again
	res.Conns = after.fake.Conns - before.fake.Conns
	res.PeakRSS = peakRSS()
	ended := lr.OK + res.ErrorCount()
	if ended == 0 {
		return
	}
	n := float64(ended)
	res.CPU = (after.cpu - before.cpu) / time.Duration(ended)
	res.Allocs = float64(after.mem.Mallocs-before.mem.Mallocs) / n
	res.Bytes = float64(after.mem.TotalAlloc-before.mem.TotalAlloc) / n
	if after.hasDB {
		a, b := after.db, before.db
		closed := (a.MaxIdleClosed + a.MaxIdleTimeClosed + a.MaxLifetimeClosed) - (b.MaxIdleClosed + b.MaxIdleTimeClosed + b.MaxLifetimeClosed)
		res.DBConns = int(closed) + a.OpenConnections - b.OpenConnections
		res.DBWait = (a.WaitDuration - b.WaitDuration) / time.Duration(ended)
	}
}

// startProfile writes a CPU profile of the measured window to path, if one is asked for.
func startProfile(path string) (stop func()) {
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "billkeybench: cpu profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		fmt.Fprintln(os.Stderr, "billkeybench: cpu profile:", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}

// userIDs are the users of a cell: "user-000", "user-001", ...
func userIDs(n int) []string {
	out := make([]string, max(n, 1))
	for i := range out {
		out[i] = fmt.Sprintf("user-%03d", i)
	}
	return out
}
