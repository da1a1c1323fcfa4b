package skipnote

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestSummary(t *testing.T) {
	mu.Lock()
	saved := notes
	notes = map[string]int{}
	mu.Unlock()
	t.Cleanup(func() { mu.Lock(); notes = saved; mu.Unlock() })

	assert.Empty(t, summary("p"))
	// Made-up services: CI fails on any skip that names PostgreSQL or Chromium.
	t.Run("db", func(t *testing.T) { Skip(t, "Service B", "set X", "a") })
	t.Run("db2", func(t *testing.T) { Skip(t, "Service B", "set X", "b") })
	t.Run("browser", func(t *testing.T) { Skip(t, "Service A", "install A", "c") })
	assert.Equal(t, "note: p: 3 tests skipped: Service A (install A); Service B (set X) not available", summary("p"))
}
