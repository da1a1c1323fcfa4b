package soak

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/billkey/billkey/internal/pgtest"
	"github.com/billkey/billkey/internal/skipnote"
)

func TestMain(m *testing.M) { os.Exit(skipnote.Run(m)) }

// smallConfig is a run well under two minutes on a small machine.
func smallConfig(t *testing.T) Config {
	return Config{Duration: 40 * time.Second, Charges: 150, WorkersPerUser: 2, FaultsPerSecond: 2, AttacksPerSecond: 2,
		Kills: 2, TerminateDB: true, ClockSkew: 3 * time.Second, FullRefunds: true, Seed: 7, Dir: t.TempDir(), SettleTimeout: 2 * time.Minute}
}

func runSmall(t *testing.T, cfg Config) {
	fig, err := Run(context.Background(), cfg, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", fig.Markdown())
	for i, v := range fig.Violations {
		if i == 20 {
			break
		}
		t.Errorf("violation: %s", v) // one line each, so CI's failure summary shows them
	}
	if len(fig.Violations) > 0 {
		t.Fatalf("%d invariant violation(s)", len(fig.Violations))
	}
	if fig.Paid == 0 {
		t.Fatal("no charge was paid: the run did not load the shop")
	}
}

// TestSoakSmall: three instances on one PostgreSQL database under faults, kills and attack.
func TestSoakSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("soak run: skipped with -short")
	}
	if os.Getenv(pgtest.Env) == "" {
		skipnote.Skip(t, "PostgreSQL", skipnote.EnablePostgres, "the soak run on PostgreSQL")
	}
	cfg := smallConfig(t)
	cfg.Instances = 3
	cfg.PostgresDSN = os.Getenv(pgtest.Env)
	runSmall(t, cfg)
}

// TestSoakSQLiteSmall: the second configuration, one instance on a SQLite file, killed
// and restarted once under the same faults and attack.
func TestSoakSQLiteSmall(t *testing.T) {
	if testing.Short() {
		t.Skip("soak run: skipped with -short")
	}
	cfg := smallConfig(t)
	cfg.Duration, cfg.Charges, cfg.Kills = 25*time.Second, 60, 1
	runSmall(t, cfg)
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
