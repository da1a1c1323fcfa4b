package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store/sqlstore/pgdb"
)

// postgresEnv names the PostgreSQL server the PostgreSQL flow uses; without it that flow
// skips.
const postgresEnv = "BILLKEY_TEST_POSTGRES_DSN"

// postgresDSN creates a schema of the test's own on $BILLKEY_TEST_POSTGRES_DSN (dropped
// when the test ends) and returns a DSN whose search_path is that schema, so the
// example's tables never meet another test's.
func postgresDSN(t *testing.T) string {
	t.Helper()
	base := os.Getenv(postgresEnv)
	if base == "" {
		t.Skip(postgresEnv + " not set: skipping the PostgreSQL flow")
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := "billkey_e2e_" + hex.EncodeToString(b[:])
	exec := func(stmt string) error {
		db, err := pgdb.Open(base)
		if err != nil {
			return err
		}
		defer db.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err = db.ExecContext(ctx, stmt)
		return err
	}
	require.NoError(t, exec("CREATE SCHEMA "+schema), "create a schema on %s", postgresEnv)
	// Registered before startExample's cleanup, so it runs after the example stopped.
	t.Cleanup(func() {
		if err := exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	if strings.HasPrefix(base, "postgres://") || strings.HasPrefix(base, "postgresql://") {
		u, err := url.Parse(base)
		require.NoError(t, err)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return base + " search_path=" + schema
}
