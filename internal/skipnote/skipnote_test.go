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
	t.Run("pg", func(t *testing.T) { Skip(t, "PostgreSQL", "set X", "a") })
	t.Run("pg2", func(t *testing.T) { Skip(t, "PostgreSQL", "set X", "b") })
	t.Run("chromium", func(t *testing.T) { Skip(t, "Chromium", "install chromium", "c") })
	assert.Equal(t, "note: p: 3 tests skipped: Chromium (install chromium); PostgreSQL (set X) not available", summary("p"))
}
