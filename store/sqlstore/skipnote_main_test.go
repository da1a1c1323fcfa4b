package sqlstore_test

import (
	"os"
	"testing"

	"github.com/billkey/billkey/internal/skipnote"
)

// TestMain notes on the terminal which tests skipped for want of PostgreSQL or Chromium.
func TestMain(m *testing.M) { os.Exit(skipnote.Run(m)) }
