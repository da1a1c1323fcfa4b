package bench

import (
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/billkey/billkey/internal/pgtest"
)

// Output is where a run's report goes besides the Markdown on stdout.
type Output struct {
	JSON string // file for the JSON report; "" for none, "-" for stdout instead of Markdown
	List bool   // list the contestants and exit
}

// ParseFlags reads the command line of cmd/billkeybench. Usage and flag errors go to
// stderr. The PostgreSQL DSN defaults to $BILLKEY_TEST_POSTGRES_DSN.
func ParseFlags(args []string, stderr io.Writer) (Config, Output, error) {
	d := DefaultConfig()
	fs := flag.NewFlagSet("billkeybench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var out Output
	cfg := Config{Progress: stderr}
	contestants := fs.String("contestants", "", "comma-separated contestants (see -list); default: "+strings.Join(d.Contestants, ","))
	conc := fs.String("c", joinInts(d.Concurrency), "comma-separated concurrencies (workers charging back to back)")
	lats := fs.String("latency", joinDurations(d.Latencies), "comma-separated latencies the fake adds to every API call")
	fs.IntVar(&cfg.Rounds, "rounds", d.Rounds, "rounds; each measures every cell once, contestants interleaved")
	fs.DurationVar(&cfg.Duration, "duration", d.Duration, "measured window per cell")
	fs.DurationVar(&cfg.Warmup, "warmup", d.Warmup, "unmeasured load before each window")
	fs.IntVar(&cfg.MaxCharges, "count", d.MaxCharges, "charges per window at most (the window ends at -duration or -count)")
	fs.IntVar(&cfg.Users, "users", 0, "users with a billing key per cell (0 = one per worker)")
	// The environment is read after parsing, so that -h never prints a DSN (it may hold a
	// password).
	fs.StringVar(&cfg.PostgresDSN, "postgres", "", "PostgreSQL DSN for the */postgres contestants (default $"+pgtest.Env+")")
	fs.StringVar(&cfg.ProfileDir, "pprof", "", "directory for a CPU profile of every measured window")
	fs.StringVar(&out.JSON, "json", "", `also write the report as JSON to this file ("-": JSON on stdout instead of Markdown)`)
	quiet := fs.Bool("q", false, "no progress lines on stderr")
	fs.BoolVar(&out.List, "list", false, "list the contestants and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: billkeybench [flags]\n\nMeasures charges per second of billkey against a floor, with a fake iamport in its own process.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, out, err
	}
	if fs.NArg() > 0 {
		return cfg, out, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if *quiet {
		cfg.Progress = nil
	}
	if cfg.PostgresDSN == "" {
		cfg.PostgresDSN = os.Getenv(pgtest.Env)
	}
	if *contestants != "" {
		cfg.Contestants = splitList(*contestants)
	}
	var err error
	if cfg.Concurrency, err = parseList(*conc, strconv.Atoi); err != nil {
		return cfg, out, fmt.Errorf("-c: %w", err)
	}
	if cfg.Latencies, err = parseList(*lats, parseLatency); err != nil {
		return cfg, out, fmt.Errorf("-latency: %w", err)
	}
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return cfg, out, err
		}
	}
	return cfg, out, nil
}

// parseLatency reads a duration; a bare 0 needs no unit.
func parseLatency(s string) (time.Duration, error) {
	if s == "0" {
		return 0, nil
	}
	return time.ParseDuration(s)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func parseList[T any](s string, parse func(string) (T, error)) ([]T, error) {
	var out []T
	for _, p := range splitList(s) {
		v, err := parse(p)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", p, err)
		}
		out = append(out, v)
	}
	return out, nil
}

func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func joinDurations(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.String()
	}
	return strings.Join(s, ",")
}

// WriteList writes every contestant with what it is.
func WriteList(w io.Writer) {
	for _, c := range Contestants() {
		floor := ""
		if c.Floor != "" {
			floor = " (÷ " + c.Floor + ")"
		}
		fmt.Fprintf(w, "%-17s %s%s\n", c.Name, c.About, floor)
	}
}
