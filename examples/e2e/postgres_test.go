package e2e_test

import (
	"testing"

	"github.com/billkey/billkey/internal/pgtest"
)

// postgresDSN returns a DSN on a schema of the test's own on $BILLKEY_TEST_POSTGRES_DSN,
// dropped when the test ends (its cleanup is registered before startExample's, so it runs
// after the example stopped), so the example's tables never meet another test's. Without
// the variable the PostgreSQL flow skips.
func postgresDSN(t *testing.T) string {
	t.Helper()
	return pgtest.SchemaDSN(t, "billkey_e2e_", "the PostgreSQL flow")
}
