// Command billkeybench measures billkey under load on loopback: charges per second,
// p50/p99 latency and the cost of each charge, at several concurrencies and fake
// latencies, interleaving contestants over rounds and reporting medians of the ratio to
// the floor of the same round. The fake of iamport runs in a process of its own, and
// every measured cell in a fresh process. BENCHMARKS.md holds a full run.
//
// Usage:
//
//	go run ./cmd/billkeybench [-contestants floor,nethttp/memstore,...] [-c 1,16,64]
//	    [-latency 0,50ms] [-rounds 3] [-duration 800ms] [-warmup 200ms] [-count 20000]
//	    [-postgres DSN] [-pprof DIR] [-json FILE] [-q] [-list]
//
// The Markdown report goes to stdout, progress to stderr. The */postgres contestants run
// when a DSN is given (-postgres, default $BILLKEY_TEST_POSTGRES_DSN); each of their
// cells gets a schema of its own, dropped afterwards.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/billkey/billkey/internal/bench"
)

func main() {
	if isChild, code := bench.Child(); isChild {
		os.Exit(code)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "billkeybench:", err)
		os.Exit(1)
	}
}

// run parses args, runs the benchmark and writes its report to stdout.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, out, err := bench.ParseFlags(args, stderr)
	if err != nil {
		return err
	}
	if out.List {
		bench.WriteList(stdout)
		return nil
	}
	rep, err := bench.Run(ctx, cfg)
	if err != nil {
		return err
	}
	switch out.JSON {
	case "":
	case "-":
		return rep.WriteJSON(stdout)
	default:
		f, err := os.Create(out.JSON)
		if err != nil {
			return err
		}
		if err := rep.WriteJSON(f); err != nil {
			_ = f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return rep.WriteMarkdown(stdout)
}
