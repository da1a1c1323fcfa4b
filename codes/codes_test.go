package codes

import (
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's table of error codes is the code table: the same codes, the same statuses.
func TestREADMEListsEveryCode(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	section := string(b)
	start := strings.Index(section, "<!-- codes:start -->")
	end := strings.Index(section, "<!-- codes:end -->")
	require.True(t, start >= 0 && end > start, "README.md has the codes table between <!-- codes:start --> and <!-- codes:end -->")
	section = section[start:end]
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| (\\d{3}) \\|")
	got := map[string]int{}
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		status, _ := strconv.Atoi(m[2])
		_, dup := got[m[1]]
		assert.False(t, dup, "%s listed twice", m[1])
		got[m[1]] = status
	}
	want := map[string]int{}
	for _, c := range All() {
		want[c] = Status(c)
	}
	assert.Equal(t, want, got, "README codes table vs package codes")
}

func TestTable(t *testing.T) {
	for _, c := range All() {
		i, ok := Lookup(c)
		require.True(t, ok)
		assert.NotEmpty(t, i.Title, c)
		assert.NotEmpty(t, i.Detail, c)
		assert.NotEmpty(t, http.StatusText(i.Status), c)
		assert.Regexp(t, `^[a-z][a-z_]*[a-z]$`, c)
	}
	assert.Equal(t, http.StatusInternalServerError, Status("no_such_code"))
}
