// Command billkeysoak runs the soak-and-chaos run of internal/soak: progress on stderr,
// the figures table (Markdown) on stdout, exit 1 on any invariant violation.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/billkey/billkey/internal/soak"
)

func main() {
	var cfg soak.Config
	flag.IntVar(&cfg.Instances, "instances", 3, "processes of examples/nethttp (1 on SQLite)")
	flag.DurationVar(&cfg.Duration, "duration", 0, "bound of the load phase (default 1m)")
	flag.IntVar(&cfg.Charges, "charges", 0, "bound of the customers' charges (default 200)")
	flag.IntVar(&cfg.WorkersPerUser, "workers", 0, "concurrent charge loops per customer (default 3)")
	flag.Float64Var(&cfg.FaultsPerSecond, "faults", 2, "faults per second on again, lookups and cancels")
	flag.Float64Var(&cfg.AttacksPerSecond, "attacks", 2, "attacker requests per second")
	flag.IntVar(&cfg.Kills, "kills", 2, "SIGKILL + restart of one instance")
	flag.BoolVar(&cfg.FullRefunds, "full-refunds", true, "refund whole charges in the console too, not only parts")
	flag.DurationVar(&cfg.ClockSkew, "clock-skew", 3*time.Second, "billing clock of the second instance this far ahead, of the third this far behind")
	flag.BoolVar(&cfg.TerminateDB, "terminate-db", true, "pg_terminate_backend the run's connections once (PostgreSQL)")
	flag.Uint64Var(&cfg.Seed, "seed", 1, "seed of the run's choices")
	flag.StringVar(&cfg.PostgresDSN, "postgres", os.Getenv("BILLKEY_TEST_POSTGRES_DSN"), "PostgreSQL `DSN` (a schema of its own is made); empty = SQLite")
	flag.StringVar(&cfg.Dir, "dir", "", "directory for logs and the SQLite file (default: a temporary one)")
	flag.StringVar(&cfg.Shop, "shop", "", "prebuilt examples/nethttp binary (default: build it)")
	flag.DurationVar(&cfg.SettleTimeout, "settle", 0, "bound of the wait for the instances to settle (default 4m)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fig, err := soak.Run(ctx, cfg, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "billkeysoak:", err)
		os.Exit(2)
	}
	fmt.Print(fig.Markdown())
	if len(fig.Violations) > 0 {
		os.Exit(1)
	}
}
