package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/internal/bench"
	"github.com/billkey/billkey/internal/pgtest"
	"github.com/billkey/billkey/internal/skipnote"
)

// TestMain lets this test binary play the helper processes the benchmark starts.
func TestMain(m *testing.M) {
	if isChild, code := bench.Child(); isChild {
		os.Exit(code)
	}
	os.Exit(skipnote.Run(m))
}

func TestList(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"-list"}, &out, io.Discard))
	for _, c := range bench.Contestants() {
		assert.Contains(t, out.String(), c.Name+" ")
	}
}

func TestFlagErrors(t *testing.T) {
	var stderr bytes.Buffer
	err := run(context.Background(), []string{"-h"}, io.Discard, &stderr)
	assert.ErrorIs(t, err, flag.ErrHelp)
	assert.Contains(t, stderr.String(), "-contestants")
	assert.Error(t, run(context.Background(), []string{"-contestants", "nonesuch"}, io.Discard, io.Discard))
	t.Setenv(pgtest.Env, "")
	assert.ErrorContains(t, run(context.Background(), []string{"-contestants", "nethttp/postgres"}, io.Discard, io.Discard), "DSN")
}

// BenchmarkTiny runs the program once with a tiny configuration (one round, a few dozen
// charges, one concurrency, memstore and SQLite, PostgreSQL when BILLKEY_TEST_POSTGRES_DSN
// is set), so that the load benchmark keeps working. It fails when a cell fails or a
// charge is not paid. The full benchmark is `go run ./cmd/billkeybench` (BENCHMARKS.md).
func BenchmarkTiny(b *testing.B) {
	contestants := "floor,tutorial,nethttp/memstore,gin/memstore,fiber/memstore,nethttp/sqlite,go/memstore"
	if os.Getenv(pgtest.Env) != "" {
		contestants += ",nethttp/postgres"
	}
	const charges = 40
	jsonPath := filepath.Join(b.TempDir(), "report.json")
	args := []string{"-contestants", contestants, "-c", "4", "-latency", "0", "-rounds", "1",
		"-count", "40", "-duration", "1m", "-warmup", "0", "-json", jsonPath, "-q"}
	for b.Loop() {
		var md bytes.Buffer
		require.NoError(b, run(context.Background(), args, &md, io.Discard))
		require.Contains(b, md.String(), "### Targets")

		raw, err := os.ReadFile(jsonPath)
		require.NoError(b, err)
		var doc struct {
			Cells []bench.CellResult `json:"cells"`
		}
		require.NoError(b, json.Unmarshal(raw, &doc))
		require.Len(b, doc.Cells, strings.Count(contestants, ",")+2, "every contestant, and the Go floor")
		for _, c := range doc.Cells {
			require.Empty(b, c.Failed, c.Contestant)
			require.Equal(b, charges, c.Paid, "%s: %v", c.Contestant, c.Errors)
		}
	}
}
