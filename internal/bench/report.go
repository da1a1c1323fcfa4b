package bench

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Report is a run's cells and what they add up to.
type Report struct {
	Config  Config        `json:"config"`
	Machine string        `json:"machine"`
	Started time.Time     `json:"started"`
	Took    time.Duration `json:"took_ns"`
	Cells   []CellResult  `json:"cells"`
}

// Row is one contestant at one latency and concurrency, over all rounds: medians of
// the rounds, and of the ratio to the floor measured in the same round.
type Row struct {
	Latency     time.Duration  `json:"latency_ns"`
	Concurrency int            `json:"concurrency"`
	Contestant  string         `json:"contestant"`
	Floor       string         `json:"floor,omitempty"`
	Rounds      int            `json:"rounds"` // rounds measured (cells that did not fail)
	PerSecond   float64        `json:"paid_per_second"`
	Ratio       float64        `json:"ratio_to_floor"` // NaN (null in JSON) without a floor
	P50         time.Duration  `json:"p50_ns"`
	P99         time.Duration  `json:"p99_ns"`
	CPU         time.Duration  `json:"cpu_per_charge_ns"`
	Allocs      float64        `json:"allocs_per_charge"`
	Bytes       float64        `json:"bytes_per_charge"`
	PeakRSS     int64          `json:"peak_rss_bytes"` // the largest of the rounds
	GetToken    float64        `json:"get_token_per_charge"`
	Conns       float64        `json:"fake_connections_per_charge"`
	DBConns     float64        `json:"db_connections_per_charge"`
	DBWait      time.Duration  `json:"db_wait_per_charge_ns"`
	DBHold      time.Duration  `json:"db_hold_per_charge_ns"`
	Paid        int            `json:"paid"`   // over all rounds
	Errors      map[string]int `json:"errors"` // over all rounds
	AgainNotOK  int            `json:"again_without_paid_answer"`
	Failed      []string       `json:"failed,omitempty"`
}

// ErrorCount sums the row's errors.
func (r Row) ErrorCount() int {
	n := 0
	for _, c := range r.Errors {
		n += c
	}
	return n
}

type cellKey struct {
	latency     time.Duration
	concurrency int
	contestant  string
}

func keyOf(c CellResult) cellKey { return cellKey{c.Latency, c.Concurrency, c.Contestant} }

// Rows aggregates the cells, in the order latency, concurrency, then contestants as
// configured.
func (r *Report) Rows() []Row {
	byKey := map[cellKey][]CellResult{}
	floorOf := map[cellKey]map[int]float64{} // floor's key → round → paid/s
	for _, c := range r.Cells {
		byKey[keyOf(c)] = append(byKey[keyOf(c)], c)
		if c.Failed == "" {
			k := keyOf(c)
			if floorOf[k] == nil {
				floorOf[k] = map[int]float64{}
			}
			floorOf[k][c.Round] = c.PerSecond
		}
	}
	var rows []Row
	for _, lat := range r.Config.Latencies {
		for _, conc := range r.Config.Concurrency {
			for _, name := range r.Config.Contestants {
				cells := byKey[cellKey{lat, conc, name}]
				if len(cells) == 0 {
					continue
				}
				ct, _ := contestantByName(name)
				rows = append(rows, aggregate(cells, ct.Floor, floorOf[cellKey{lat, conc, ct.Floor}]))
			}
		}
	}
	return rows
}

// aggregate makes the row of one contestant's cells; floor holds its floor's paid/s by
// round.
func aggregate(cells []CellResult, floorName string, floor map[int]float64) Row {
	c0 := cells[0]
	row := Row{Latency: c0.Latency, Concurrency: c0.Concurrency, Contestant: c0.Contestant, Floor: floorName,
		Errors: map[string]int{}, Ratio: math.NaN()}
	var ok []CellResult
	for _, c := range cells {
		if c.Failed != "" {
			row.Failed = append(row.Failed, fmt.Sprintf("round %d: %s", c.Round, c.Failed))
			continue
		}
		ok = append(ok, c)
	}
	row.Rounds = len(ok)
	if len(ok) == 0 {
		return row
	}
	var ratios []float64
	ended, tokens, conns, dbConns := 0, 0, int64(0), 0
	for _, c := range ok {
		if f := floor[c.Round]; floorName != "" && f > 0 {
			ratios = append(ratios, c.PerSecond/f)
		}
		row.Paid += c.Paid
		for k, n := range c.Errors {
			row.Errors[k] += n
		}
		row.AgainNotOK += max(c.Again-c.Paid, 0)
		ended += c.Paid + c.ErrorCount()
		tokens += c.GetToken
		conns += c.Conns
		dbConns += c.DBConns
		row.PeakRSS = max(row.PeakRSS, c.PeakRSS)
	}
	if len(ratios) > 0 {
		row.Ratio = median(ratios)
	}
	row.PerSecond = median(pick(ok, func(c CellResult) float64 { return c.PerSecond }))
	row.P50 = medianDuration(pick(ok, func(c CellResult) time.Duration { return c.P50 }))
	row.P99 = medianDuration(pick(ok, func(c CellResult) time.Duration { return c.P99 }))
	row.CPU = medianDuration(pick(ok, func(c CellResult) time.Duration { return c.CPU }))
	row.DBWait = medianDuration(pick(ok, func(c CellResult) time.Duration { return c.DBWait }))
	row.DBHold = medianDuration(pick(ok, func(c CellResult) time.Duration { return c.DBHold }))
	row.Allocs = median(pick(ok, func(c CellResult) float64 { return c.Allocs }))
	row.Bytes = median(pick(ok, func(c CellResult) float64 { return c.Bytes }))
	if ended > 0 {
		row.GetToken = float64(tokens) / float64(ended)
		row.Conns = float64(conns) / float64(ended)
		row.DBConns = float64(dbConns) / float64(ended)
	}
	return row
}

func pick[T any](cells []CellResult, f func(CellResult) T) []T {
	out := make([]T, len(cells))
	for i, c := range cells {
		out[i] = f(c)
	}
	return out
}

// median of xs (the mean of the middle two for an even count); NaN when empty.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func medianDuration(ds []time.Duration) time.Duration {
	xs := make([]float64, len(ds))
	for i, d := range ds {
		xs[i] = float64(d)
	}
	m := median(xs)
	if math.IsNaN(m) {
		return 0
	}
	return time.Duration(m)
}

// MarshalJSON writes NaN ratios as null.
func (r Row) MarshalJSON() ([]byte, error) {
	type plain Row
	var ratio *float64
	if !math.IsNaN(r.Ratio) {
		ratio = &r.Ratio
	}
	return json.Marshal(struct {
		plain
		Ratio *float64 `json:"ratio_to_floor"`
	}{plain(r), ratio})
}

// WriteJSON writes the report, its rows and its targets as one JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		*Report
		Rows    []Row    `json:"rows"`
		Targets []Target `json:"targets"`
	}{r, r.Rows(), r.Targets()})
}

// WriteMarkdown writes one table per latency and concurrency, then the targets.
func (r *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	cfg := r.Config
	fmt.Fprintf(&b, "Run of %s: %d round(s), %s per cell after %s of warm-up (at most %d charges), users per cell: %s.\n",
		r.Started.UTC().Format("2006-01-02 15:04 MST"), cfg.Rounds, cfg.Duration, cfg.Warmup, cfg.MaxCharges, usersText(cfg.Users))
	fmt.Fprintf(&b, "Machine: %s. Took %s.\n", r.Machine, r.Took.Round(time.Second))
	rows := r.Rows()
	for i, row := range rows {
		if i == 0 || row.Latency != rows[i-1].Latency || row.Concurrency != rows[i-1].Concurrency {
			fmt.Fprintf(&b, "\n### fake latency %s, concurrency %d\n\n", row.Latency, row.Concurrency)
			b.WriteString("| contestant | paid/s | ÷ floor | p50 ms | p99 ms | CPU µs/charge | allocs/charge | KB/charge | getToken/charge | conns/charge | DB conns/charge | DB wait ms/charge | DB hold ms/charge | peak RSS MB | errors |\n")
			b.WriteString("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
		}
		writeRow(&b, row)
	}
	b.WriteString("\n### Targets\n\n| target | measured | met |\n|---|---|---|\n")
	for _, t := range r.Targets() {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", t.Name, t.Measured, t.Verdict())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func usersText(n int) string {
	if n == 0 {
		return "one per worker"
	}
	return fmt.Sprint(n)
}

func writeRow(b *strings.Builder, r Row) {
	if r.Rounds == 0 {
		fmt.Fprintf(b, "| %s | failed: %s ||||||||||||||\n", r.Contestant, strings.Join(r.Failed, "; "))
		return
	}
	ratio := "—"
	if !math.IsNaN(r.Ratio) {
		ratio = fmt.Sprintf("%.2f", r.Ratio)
	}
	ct, _ := contestantByName(r.Contestant)
	db := func(s string) string {
		if ct.Store == storeSQLite || ct.Store == storePostgres {
			return s
		}
		return "—"
	}
	fmt.Fprintf(b, "| %s | %.0f | %s | %.1f | %.1f | %.0f | %.0f | %.1f | %.3f | %.3f | %s | %s | %s | %.0f | %s |\n",
		r.Contestant, r.PerSecond, ratio, ms(r.P50), ms(r.P99),
		float64(r.CPU)/float64(time.Microsecond), r.Allocs, r.Bytes/1024, r.GetToken, r.Conns,
		db(fmt.Sprintf("%.3f", r.DBConns)), db(fmt.Sprintf("%.2f", ms(r.DBWait))), db(fmt.Sprintf("%.2f", ms(r.DBHold))),
		float64(r.PeakRSS)/(1<<20), errorsText(r))
}

// errorsText is "0", or the count with its kinds, most frequent first, and failed rounds.
func errorsText(r Row) string {
	n := r.ErrorCount()
	s := fmt.Sprint(n)
	if n > 0 {
		kinds := slices.SortedFunc(maps.Keys(r.Errors), func(a, b string) int {
			return cmp.Or(cmp.Compare(r.Errors[b], r.Errors[a]), cmp.Compare(a, b))
		})
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%s: %d", k, r.Errors[k])
		}
		s += " (" + strings.Join(parts, ", ") + ")"
	}
	if r.AgainNotOK > 0 {
		s += fmt.Sprintf("; %d `again` sent without a paid answer", r.AgainNotOK)
	}
	if len(r.Failed) > 0 {
		s += "; " + strings.Join(r.Failed, "; ")
	}
	return s
}
