// Package skipnote tells whoever runs `go test ./...` which tests skipped for want of an
// outside service (PostgreSQL, a browser) and how to enable them. go test shows nothing of
// a passing package's output without -v, so the note goes straight to the terminal: one
// line per package, after its tests ran. Without a terminal (CI) it says nothing; CI
// provides the services instead.
package skipnote

import (
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"testing"
)

var (
	mu    sync.Mutex
	notes = map[string]int{} // what is missing (and how to enable it) -> tests skipped
)

// Skip skips t, which tests what, because service is not available; enable says how to
// provide it.
func Skip(t testing.TB, service, enable, what string) {
	t.Helper()
	mu.Lock()
	notes[service+" ("+enable+")"]++
	mu.Unlock()
	t.Skip(service + " not available: skipping " + what + " (" + enable + ")")
}

// Ways to provide the services.
const (
	EnablePostgres = "set BILLKEY_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	EnableChromium = "install Debian's chromium, or set BILLKEY_TEST_CHROMIUM"
)

// Run runs the package's tests and prints the package's note; TestMain exits with its
// result.
func Run(m *testing.M) int {
	code := m.Run()
	if line := summary(packageName()); line != "" && !testing.Verbose() {
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			fmt.Fprintln(tty, line)
			_ = tty.Close()
		}
	}
	return code
}

// summary is the note for the skips recorded so far, "" when there were none.
func summary(pkg string) string {
	mu.Lock()
	defer mu.Unlock()
	if len(notes) == 0 {
		return ""
	}
	var parts []string
	total := 0
	for what, n := range notes {
		parts = append(parts, what)
		total += n
	}
	sort.Strings(parts)
	return fmt.Sprintf("note: %s: %d tests skipped: %s not available", pkg, total, strings.Join(parts, "; "))
}

// packageName is the import path of the test binary's package, as well as it can tell.
func packageName() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Path != "" {
		return strings.TrimSuffix(bi.Path, ".test")
	}
	return strings.TrimSuffix(os.Args[0], ".test")
}
