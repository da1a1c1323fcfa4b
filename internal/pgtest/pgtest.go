// Package pgtest gives a test a PostgreSQL schema of its own on the server named by
// BILLKEY_TEST_POSTGRES_DSN, so parallel packages, reruns and CI never see each other's
// tables. Tests skip with a message when the variable is unset.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/billkey/billkey/internal/skipnote"
	"github.com/billkey/billkey/store/sqlstore/pgdb"
)

// Env names the base DSN, e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable.
const Env = "BILLKEY_TEST_POSTGRES_DSN"

// SchemaDSN skips t ("<Env> not set: skipping <what>") unless Env is set; otherwise it
// creates a schema named prefix+random, drops it when the test ends (after cleanups
// registered later, such as closing pools or stopping a server), and returns a DSN whose
// search_path is that schema.
func SchemaDSN(t testing.TB, prefix, what string) string {
	t.Helper()
	base := os.Getenv(Env)
	if base == "" {
		skipnote.Skip(t, "PostgreSQL", skipnote.EnablePostgres, what)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	schema := prefix + hex.EncodeToString(b[:])
	if err := exec(base, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema (is PostgreSQL running at %s?): %v", Env, err)
	}
	t.Cleanup(func() {
		if err := exec(base, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	dsn, err := WithSearchPath(base, schema)
	if err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	return dsn
}

// WithSearchPath sets the search_path run-time parameter in a URL or key=value DSN.
func WithSearchPath(dsn, schema string) (string, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", err
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	return dsn + " search_path=" + schema, nil
}

// exec runs one statement on its own short-lived connection.
func exec(dsn, stmt string) error {
	db, err := pgdb.Open(dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = db.ExecContext(ctx, stmt)
	return err
}
