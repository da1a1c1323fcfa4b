//go:build unix

package chaos

import (
	"os"
	"testing"

	"github.com/billkey/billkey/internal/skipnote"
)

// TestMain runs an instance instead of the tests when the parent test started this
// binary as one.
func TestMain(m *testing.M) {
	if os.Getenv(envRole) == roleInstance {
		os.Exit(runInstance())
	}
	os.Exit(skipnote.Run(m))
}
