package bench

import (
	"fmt"
	"math"
	"time"
)

// Target is one goal of the load benchmark and where this run puts it.
type Target struct {
	Name     string `json:"name"`
	Measured string `json:"measured"`
	Met      *bool  `json:"met"` // nil: the run did not measure it
}

// Verdict is "yes", "no" or "not measured".
func (t Target) Verdict() string {
	switch {
	case t.Met == nil:
		return "not measured"
	case *t.Met:
		return "yes"
	default:
		return "**no**"
	}
}

// targetConcurrency is the concurrency the goals are stated at.
const targetConcurrency = 64

// Targets evaluates the goals against the run's rows (at concurrency 64).
func (r *Report) Targets() []Target {
	rows := map[cellKey]Row{}
	for _, row := range r.Rows() {
		rows[cellKey{row.Latency, row.Concurrency, row.Contestant}] = row
	}
	const fast, slow = 0, 50 * time.Millisecond
	get := func(lat time.Duration, name string) (Row, bool) {
		row, ok := rows[cellKey{lat, targetConcurrency, name}]
		return row, ok && row.Rounds > 0
	}
	ratio := func(lat time.Duration, name string, goal float64) Target {
		t := Target{Name: fmt.Sprintf("%s ≥ %.2f× the floor at %s, c=%d", name, goal, lat, targetConcurrency)}
		if row, ok := get(lat, name); ok && !math.IsNaN(row.Ratio) {
			t.Measured = fmt.Sprintf("%.2f×", row.Ratio)
			t.Met = verdict(row.Ratio >= goal)
		}
		return t
	}
	var out []Target
	out = append(out, zeroErrors(rows, "nethttp/postgres", "gin/postgres", "fiber/postgres"))
	out = append(out,
		ratio(slow, "nethttp/postgres", 0.9), ratio(fast, "nethttp/postgres", 0.3),
		ratio(slow, "nethttp/sqlite", 0.8), ratio(fast, "nethttp/sqlite", 0.25),
		ratio(fast, "nethttp/memstore", 0.8),
	)

	vsTutorial := Target{Name: fmt.Sprintf("nethttp/memstore ≥ 2.5× the tutorial at %s, c=%d", time.Duration(fast), targetConcurrency)}
	if m, ok := get(fast, "nethttp/memstore"); ok {
		if tu, ok := get(fast, "tutorial"); ok && !math.IsNaN(m.Ratio) && !math.IsNaN(tu.Ratio) && tu.Ratio > 0 {
			x := m.Ratio / tu.Ratio
			vsTutorial.Measured = fmt.Sprintf("%.2f×", x)
			vsTutorial.Met = verdict(x >= 2.5)
		}
	}
	out = append(out, vsTutorial)

	cpu := Target{Name: fmt.Sprintf("nethttp/memstore CPU per charge within 35 µs of the floor's at %s, c=%d", time.Duration(fast), targetConcurrency)}
	if m, ok := get(fast, "nethttp/memstore"); ok {
		if f, ok := get(fast, floorHTTP); ok {
			d := m.CPU - f.CPU
			cpu.Measured = fmt.Sprintf("%+.0f µs (%.0f vs %.0f)", us(d), us(m.CPU), us(f.CPU))
			cpu.Met = verdict(d <= 35*time.Microsecond)
		}
	}
	out = append(out, cpu)
	for _, ad := range []string{"gin", "fiber"} {
		t := Target{Name: fmt.Sprintf("%s/memstore CPU per charge within 10%% of nethttp/memstore's at %s, c=%d", ad, time.Duration(fast), targetConcurrency)}
		if a, ok := get(fast, ad+"/memstore"); ok {
			if n, ok := get(fast, "nethttp/memstore"); ok && n.CPU > 0 {
				x := float64(a.CPU)/float64(n.CPU) - 1
				t.Measured = fmt.Sprintf("%+.1f%% (%.0f vs %.0f µs)", 100*x, us(a.CPU), us(n.CPU))
				t.Met = verdict(math.Abs(x) <= 0.10)
			}
		}
		out = append(out, t)
	}
	return out
}

// zeroErrors is the goal that the PostgreSQL contestants see no failed charge at c=64.
func zeroErrors(rows map[cellKey]Row, names ...string) Target {
	t := Target{Name: fmt.Sprintf("PostgreSQL contestants: zero errors at c=%d", targetConcurrency)}
	measured, errs := 0, 0
	for k, row := range rows {
		for _, n := range names {
			if k.contestant == n && k.concurrency == targetConcurrency && row.Rounds > 0 {
				measured++
				errs += row.ErrorCount() + len(row.Failed)
			}
		}
	}
	if measured > 0 {
		t.Measured = fmt.Sprintf("%d error(s) in %d row(s)", errs, measured)
		t.Met = verdict(errs == 0)
	}
	return t
}

func verdict(b bool) *bool { return &b }

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
