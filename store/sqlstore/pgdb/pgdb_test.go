package pgdb_test

import (
	"context"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store/sqlstore/pgdb"
)

func TestOpenInvalidDSNHidesIt(t *testing.T) {
	_, err := pgdb.Open("postgres://user:hunter2@host:notaport/db")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
	assert.NotContains(t, err.Error(), "user")
}

func TestOpenConnects(t *testing.T) {
	dsn := os.Getenv("BILLKEY_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("BILLKEY_TEST_POSTGRES_DSN not set: skipping PostgreSQL store tests")
	}
	db, err := pgdb.Open(dsn)
	require.NoError(t, err)
	defer db.Close()
	var one int
	require.NoError(t, db.QueryRowContext(context.Background(), "SELECT 1").Scan(&one))
	assert.Equal(t, 1, one)
}
