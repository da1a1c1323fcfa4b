package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/iamport/iamporttest"
	"github.com/billkey/billkey/internal/pgtest"
	"github.com/billkey/billkey/internal/skipnote"
)

// TestMain lets this test binary play the helper processes Run starts.
func TestMain(m *testing.M) {
	if isChild, code := Child(); isChild {
		os.Exit(code)
	}
	os.Exit(skipnote.Run(m))
}

func TestPercentile(t *testing.T) {
	ms := func(xs ...int) []time.Duration {
		out := make([]time.Duration, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	tests := []struct {
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.99, 10 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9 * time.Millisecond},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, percentile(tt.sorted, tt.q), "%v q=%v", tt.sorted, tt.q)
	}
}

func TestMedian(t *testing.T) {
	assert.True(t, math.IsNaN(median(nil)))
	assert.Equal(t, 2.0, median([]float64{3, 1, 2}))
	assert.Equal(t, 2.5, median([]float64{4, 1, 3, 2}))
	assert.Equal(t, time.Duration(0), medianDuration(nil))
}

func TestKindOf(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{&failure{kind: "HTTP 500 internal"}, "HTTP 500 internal"},
		{fmt.Errorf("wrapped: %w", &failure{kind: "x"}), "x"},
		{context.DeadlineExceeded, "timeout"},
		{fmt.Errorf("read: %w", syscall.ECONNRESET), "connection reset"},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), "connection refused"},
		{errors.New("something else"), "transport error"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, kindOf(tt.err), "%v", tt.err)
	}
}

func TestRunLoadStopsAtCount(t *testing.T) {
	var calls atomic.Int64
	lr := runLoad(context.Background(), 8, time.Hour, 100, func(context.Context, int) error {
		if calls.Add(1)%10 == 0 {
			return &failure{kind: "every tenth"}
		}
		return nil
	})
	assert.EqualValues(t, 100, calls.Load())
	assert.Equal(t, 90, lr.OK)
	assert.Equal(t, map[string]int{"every tenth": 10}, lr.Errors)
	assert.Len(t, lr.Latency, 90)
	assert.True(t, slicesSorted(lr.Latency))
}

func TestRunLoadStopsAtDeadline(t *testing.T) {
	var calls atomic.Int64
	lr := runLoad(context.Background(), 2, 30*time.Millisecond, math.MaxInt32, func(ctx context.Context, _ int) error {
		calls.Add(1)
		time.Sleep(time.Millisecond)
		return nil
	})
	assert.Less(t, calls.Load(), int64(math.MaxInt32))
	assert.Equal(t, int(calls.Load()), lr.OK)
}

func TestRunLoadStopsWithContext(t *testing.T) {
	const workers = 4
	ctx, cancel := context.WithCancel(context.Background())
	// Charges started after cancel() returned: each worker may start at most the one it had
	// already decided on. Counting from the 50th call instead would also count the calls
	// other workers make while the cancelling one is between its count and cancel().
	var calls, late atomic.Int64
	var cancelled atomic.Bool
	lr := runLoad(ctx, workers, time.Hour, math.MaxInt32, func(context.Context, int) error {
		if cancelled.Load() {
			late.Add(1)
		}
		if calls.Add(1) == 50 {
			cancel()
			cancelled.Store(true)
		}
		return nil
	})
	assert.GreaterOrEqual(t, lr.OK, 50)
	assert.Equal(t, int(calls.Load()), lr.OK, "every charge that returned nil is counted")
	assert.LessOrEqual(t, late.Load(), int64(workers-1), "each worker finishes at most the charge it started")
}

func slicesSorted(d []time.Duration) bool {
	for i := 1; i < len(d); i++ {
		if d[i] < d[i-1] {
			return false
		}
	}
	return true
}

func TestTailBufferKeepsTheEnd(t *testing.T) {
	b := &tailBuffer{max: 5}
	_, _ = b.Write([]byte("abc"))
	_, _ = b.Write([]byte("defgh"))
	assert.Equal(t, "defgh", b.String())
}

func TestNormalize(t *testing.T) {
	cfg, err := Config{Contestants: []string{"nethttp/memstore", "go/memstore", "tutorial"}}.normalize()
	require.NoError(t, err)
	assert.Equal(t, []string{floorGo, floorHTTP, "nethttp/memstore", "go/memstore", "tutorial"}, cfg.Contestants)
	assert.Equal(t, DefaultConfig().Concurrency, cfg.Concurrency)
	assert.Equal(t, DefaultConfig().Rounds, cfg.Rounds)

	cfg, err = Config{}.normalize()
	require.NoError(t, err)
	for _, n := range cfg.Contestants {
		assert.NotContains(t, n, "postgres", "without a DSN the default leaves PostgreSQL out")
	}
	cfg, err = Config{PostgresDSN: "postgres://x@127.0.0.1/db"}.normalize()
	require.NoError(t, err)
	assert.Contains(t, cfg.Contestants, "fiber/postgres")

	for _, bad := range []Config{
		{Contestants: []string{"nethttp/postgres"}},
		{Contestants: []string{"nonesuch"}},
		{Concurrency: []int{0}},
		{Concurrency: []int{maxConcurrency + 1}},
		{Latencies: []time.Duration{-time.Millisecond}},
		{Rounds: maxRounds + 1},
		{Duration: maxDuration + 1},
		{MaxCharges: -1},
		{Users: -1},
	} {
		_, err := bad.normalize()
		assert.Error(t, err, "%+v", bad)
	}
}

func TestParseFlags(t *testing.T) {
	t.Setenv(pgtest.Env, "")
	cfg, out, err := ParseFlags([]string{"-contestants", "floor, nethttp/sqlite", "-c", "2,8", "-latency", "0,20ms",
		"-rounds", "2", "-duration", "3s", "-count", "50", "-json", "-", "-q"}, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, []string{"floor", "nethttp/sqlite"}, cfg.Contestants)
	assert.Equal(t, []int{2, 8}, cfg.Concurrency)
	assert.Equal(t, []time.Duration{0, 20 * time.Millisecond}, cfg.Latencies)
	assert.Equal(t, 2, cfg.Rounds)
	assert.Equal(t, 3*time.Second, cfg.Duration)
	assert.Equal(t, 50, cfg.MaxCharges)
	assert.Equal(t, "-", out.JSON)
	assert.Nil(t, cfg.Progress)

	t.Setenv(pgtest.Env, "postgres://u:hunter2@db/x")
	var help bytes.Buffer
	_, _, err = ParseFlags([]string{"-h"}, &help)
	require.Error(t, err)
	assert.NotContains(t, help.String(), "hunter2", "the help never shows the DSN")
	cfg, _, err = ParseFlags(nil, io.Discard)
	require.NoError(t, err)
	assert.Equal(t, "postgres://u:hunter2@db/x", cfg.PostgresDSN)

	for _, bad := range [][]string{{"-c", "x"}, {"-latency", "5"}, {"extra"}, {"-nonesuch"}} {
		_, _, err := ParseFlags(bad, io.Discard)
		assert.Error(t, err, "%q", bad)
	}
}

// cells builds the cells of one latency and concurrency: per round, name → paid/s.
func cells(rounds ...map[string]float64) []CellResult {
	var out []CellResult
	for i, r := range rounds {
		for name, ps := range r {
			out = append(out, CellResult{Contestant: name, Concurrency: 64, Round: i + 1, PerSecond: ps, Paid: int(ps)})
		}
	}
	return out
}

func TestRowsRatioIsMedianOfSameRoundRatios(t *testing.T) {
	rep := &Report{
		Config: Config{Contestants: []string{floorHTTP, "nethttp/memstore"}, Concurrency: []int{64}, Latencies: []time.Duration{0}},
		Cells: cells(
			map[string]float64{floorHTTP: 1000, "nethttp/memstore": 900}, // 0.9
			map[string]float64{floorHTTP: 500, "nethttp/memstore": 400},  // 0.8
			map[string]float64{floorHTTP: 2000, "nethttp/memstore": 600}, // 0.3
		),
	}
	rows := rep.Rows()
	require.Len(t, rows, 2)
	assert.True(t, math.IsNaN(rows[0].Ratio), "a floor has no ratio")
	assert.InDelta(t, 0.8, rows[1].Ratio, 1e-9, "the median of the rounds' ratios, not the ratio of medians (900/1000)")
	assert.Equal(t, 900+400+600, rows[1].Paid)
	assert.Equal(t, 3, rows[1].Rounds)
}

func TestRowsCountErrorsAndFailedRounds(t *testing.T) {
	rep := &Report{
		Config: Config{Contestants: []string{floorHTTP, "nethttp/postgres"}, Concurrency: []int{64}, Latencies: []time.Duration{0}},
		Cells: []CellResult{
			{Contestant: floorHTTP, Concurrency: 64, Round: 1, PerSecond: 100, Paid: 100},
			{Contestant: "nethttp/postgres", Concurrency: 64, Round: 1, PerSecond: 50, Paid: 50, Again: 53,
				Errors: map[string]int{"HTTP 202 charge_in_progress": 3, "HTTP 500 internal": 1}},
			{Contestant: floorHTTP, Concurrency: 64, Round: 2, Failed: "fake did not start"},
			{Contestant: "nethttp/postgres", Concurrency: 64, Round: 2, PerSecond: 60, Paid: 60, Again: 60},
		},
	}
	rows := rep.Rows()
	require.Len(t, rows, 2)
	pg := rows[1]
	assert.InDelta(t, 0.5, pg.Ratio, 1e-9, "round 2 has no floor, so only round 1 counts")
	assert.Equal(t, 4, pg.ErrorCount())
	assert.Equal(t, 3, pg.AgainNotOK)
	assert.Equal(t, []string{"round 2: fake did not start"}, rows[0].Failed)
	assert.Contains(t, errorsText(pg), "4 (HTTP 202 charge_in_progress: 3, HTTP 500 internal: 1); 3 `again` sent")

	targets := rep.Targets()
	require.NotEmpty(t, targets)
	assert.Equal(t, "**no**", targets[0].Verdict(), "errors at c=64 miss the zero-error target")
}

func TestTargets(t *testing.T) {
	mk := func(lat time.Duration, name string, round int, ps float64, cpu time.Duration) CellResult {
		return CellResult{Contestant: name, Concurrency: 64, Latency: lat, Round: round, PerSecond: ps, Paid: int(ps), CPU: cpu}
	}
	const us = time.Microsecond
	rep := &Report{
		Config: Config{Contestants: []string{floorHTTP, "tutorial", "nethttp/memstore", "gin/memstore", "fiber/memstore"},
			Concurrency: []int{64}, Latencies: []time.Duration{0}},
		Cells: []CellResult{
			mk(0, floorHTTP, 1, 1000, 100*us),
			mk(0, "tutorial", 1, 300, 300*us),
			mk(0, "nethttp/memstore", 1, 850, 130*us), // 0.85×, 2.83× tutorial, +30 µs
			mk(0, "gin/memstore", 1, 800, 140*us),     // +7.7%
			mk(0, "fiber/memstore", 1, 800, 150*us),   // +15.4%
		},
	}
	verdicts := map[string]string{}
	for _, tg := range rep.Targets() {
		verdicts[tg.Name] = tg.Verdict()
	}
	assert.Equal(t, "yes", verdicts["nethttp/memstore ≥ 0.80× the floor at 0s, c=64"])
	assert.Equal(t, "yes", verdicts["nethttp/memstore ≥ 2.5× the tutorial at 0s, c=64"])
	assert.Equal(t, "yes", verdicts["nethttp/memstore CPU per charge within 35 µs of the floor's at 0s, c=64"])
	assert.Equal(t, "yes", verdicts["gin/memstore CPU per charge within 10% of nethttp/memstore's at 0s, c=64"])
	assert.Equal(t, "**no**", verdicts["fiber/memstore CPU per charge within 10% of nethttp/memstore's at 0s, c=64"])
	assert.Equal(t, "not measured", verdicts["nethttp/sqlite ≥ 0.80× the floor at 50ms, c=64"])
}

func TestReportOutputs(t *testing.T) {
	rep := &Report{
		Config: Config{Contestants: []string{floorHTTP, "nethttp/memstore"}, Concurrency: []int{64}, Latencies: []time.Duration{0},
			PostgresDSN: "postgres://u:hunter2@db/x"},
		Cells: cells(map[string]float64{floorHTTP: 1000, "nethttp/memstore": 900}),
	}
	var md, js bytes.Buffer
	require.NoError(t, rep.WriteMarkdown(&md))
	assert.Contains(t, md.String(), "### fake latency 0s, concurrency 64")
	assert.Contains(t, md.String(), "| nethttp/memstore | 900 | 0.90 |")
	require.NoError(t, rep.WriteJSON(&js))
	assert.NotContains(t, js.String(), "hunter2", "the DSN may hold a password")
	var doc struct {
		Rows []struct {
			Contestant string   `json:"contestant"`
			Ratio      *float64 `json:"ratio_to_floor"`
		} `json:"rows"`
	}
	require.NoError(t, json.Unmarshal(js.Bytes(), &doc))
	require.Len(t, doc.Rows, 2)
	assert.Nil(t, doc.Rows[0].Ratio)
	require.NotNil(t, doc.Rows[1].Ratio)
	assert.InDelta(t, 0.9, *doc.Rows[1].Ratio, 1e-9)
}

// The fake process's server, in this process: every API call waits the latency, the
// control endpoints issue keys and count calls and connections without counting
// themselves.
func TestServeFake(t *testing.T) {
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- serveFake(stdinR, stdoutW, "20ms") }()
	line, err := bufio.NewReader(stdoutR).ReadBytes('\n')
	require.NoError(t, err)
	var addrs fakeAddrs
	require.NoError(t, json.Unmarshal(line, &addrs))

	ctx := context.Background()
	ctl := newControl(addrs.Control)
	impUID, err := ctl.issue(ctx, iamporttest.IssueRequest{PG: "kcp_billing", MerchantUID: "key1", CustomerUID: "cu1", Name: "key", CardNumber: iamporttest.CardOK})
	require.NoError(t, err)
	assert.NotEmpty(t, impUID)
	_, err = ctl.issue(ctx, iamporttest.IssueRequest{PG: "kcp_billing", MerchantUID: "key2", CustomerUID: "cu2", Name: "key", CardNumber: iamporttest.CardRefused})
	assert.ErrorContains(t, err, "refused")

	fc := newFloorCharger(addrs.API, map[string]string{"u": "cu1"}, false)
	defer fc.close()
	start := time.Now()
	_, err = fc.charge(ctx, "u")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 40*time.Millisecond, "getToken and again each wait 20ms")
	_, err = fc.charge(ctx, "u")
	require.NoError(t, err)

	st, err := ctl.stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, fakeStats{GetToken: 1, Again: 2, Conns: 1}, st)

	require.NoError(t, stdinW.Close())
	require.NoError(t, <-done)
}

func TestTutorialOpensAConnectionAndATokenPerCharge(t *testing.T) {
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- serveFake(stdinR, stdoutW, "0") }()
	line, err := bufio.NewReader(stdoutR).ReadBytes('\n')
	require.NoError(t, err)
	var addrs fakeAddrs
	require.NoError(t, json.Unmarshal(line, &addrs))
	ctx := context.Background()
	ctl := newControl(addrs.Control)
	users, err := registerFloorUsers(ctx, ctl, []string{"a", "b"})
	require.NoError(t, err)

	srv, err := serveHTTP(floorHandler(newFloorCharger(addrs.API, users, true)))
	require.NoError(t, err)
	defer srv.close()
	env := &cellEnv{users: []string{"a", "b"}}
	load := newHTTPLoad(srv.base+"/charges", env.user, 2)
	defer load.close()
	for w := range 3 {
		require.NoError(t, load.charge(ctx, w))
	}
	nobody := &cellEnv{users: []string{"nobody"}}
	err = newHTTPLoad(srv.base+"/charges", nobody.user, 1).charge(ctx, 0)
	assert.EqualError(t, err, "HTTP 502 unknown user")

	st, err := ctl.stats(ctx)
	require.NoError(t, err)
	assert.Equal(t, fakeStats{GetToken: 3, Again: 3, Conns: 3}, st)
	require.NoError(t, stdinW.Close())
	require.NoError(t, <-done)
}

// The whole machinery once, small: helper processes, stores, counters. Every cell
// makes exactly the charges asked for, each with one `again`, and nothing fails.
func TestRunTiny(t *testing.T) {
	if testing.Short() {
		t.Skip("starts helper processes")
	}
	names := []string{floorHTTP, "tutorial", "nethttp/memstore", "fiber/sqlite", "go/memstore"}
	dsn := os.Getenv(pgtest.Env)
	if dsn != "" {
		names = append(names, "gin/postgres")
	}
	const n = 24
	rep, err := Run(context.Background(), Config{
		Contestants: names, Concurrency: []int{3}, Latencies: []time.Duration{0}, Rounds: 1,
		Duration: time.Minute, MaxCharges: n, PostgresDSN: dsn,
	})
	require.NoError(t, err)
	require.Len(t, rep.Cells, len(names)+1, "the Go floor joins for go/memstore")
	for _, c := range rep.Cells {
		require.Empty(t, c.Failed, c.Contestant)
		assert.Equal(t, n, c.Paid, c.Contestant)
		assert.Empty(t, c.Errors, c.Contestant)
		assert.Equal(t, n, c.Again, c.Contestant)
		assert.Positive(t, c.CPU, c.Contestant)
		assert.Positive(t, c.PeakRSS, c.Contestant)
		switch c.Contestant {
		case "tutorial":
			assert.Equal(t, n, c.GetToken)
			assert.EqualValues(t, n, c.Conns)
		default:
			assert.Zero(t, c.GetToken, "%s reuses its token", c.Contestant)
		}
	}
	var md strings.Builder
	require.NoError(t, rep.WriteMarkdown(&md))
	assert.NotContains(t, md.String(), "failed")
}
