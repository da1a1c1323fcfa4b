package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billkey/billkey/examples/internal/demo"
	"github.com/billkey/billkey/internal/skipnote"
)

// binDir holds the example binaries built for this run (TestMain removes it).
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "billkey-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		os.Exit(1)
	}
	binDir = dir
	code := skipnote.Run(m)
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// builds remembers one build per package and run.
var builds sync.Map // package path under the module -> *build

type build struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// exampleBinary builds examples/<name> once per run (with -race when this test runs
// with -race, so a race in the server fails the run) and returns the binary's path.
func exampleBinary(t *testing.T, name string) string {
	t.Helper()
	return binary(t, "examples/"+name)
}

// binary builds the command at pkg (a directory of the module) once per run.
func binary(t *testing.T, pkg string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &build{})
	b := v.(*build)
	b.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			b.err = fmt.Errorf("the go command is needed to build %s: %w", pkg, err)
			return
		}
		b.path = filepath.Join(binDir, strings.ReplaceAll(pkg, "/", "-"))
		args := []string{"build", "-o", b.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/billkey/billkey/"+pkg)
		start := time.Now()
		cmd := exec.Command(goBin, args...)
		b.out, b.err = cmd.CombinedOutput()
		t.Logf("built %s in %s (race: %v)", pkg, time.Since(start).Round(time.Millisecond), raceEnabled)
	})
	if b.err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, b.err, b.out)
	}
	return b.path
}

// server is one running example.
type server struct {
	URL string
	// Window is the base URL of the fake iamport whose payment window the example's page
	// opens: its own (URL + /__fake_iamport__), or the shared fake's.
	Window string
	out    *lineWriter
	done   chan struct{}
	err    error // the process's exit, once done is closed
}

// startExample starts examples/<name> in the sandbox on a free port with a fresh SQLite
// file (unless args choose storage, e.g. "-postgres", DSN) and args, and stops it
// (SIGINT, then a graceful shutdown that must end cleanly) when the test ends. Its
// output is logged when the test fails.
func startExample(t *testing.T, name string, args ...string) *server {
	t.Helper()
	if !slices.Contains(args, "-db") && !slices.Contains(args, "-postgres") {
		args = append([]string{"-db", filepath.Join(t.TempDir(), "demo.db")}, args...)
	}
	s := &server{}
	s.out, s.done = startProcess(t, "examples/"+name, exampleBinary(t, name), append([]string{"-addr", "127.0.0.1:0"}, args...), demo.ListeningPrefix, &s.err)
	select {
	case u := <-s.out.found:
		s.URL = u
	case <-s.done:
		t.Fatalf("examples/%s exited before listening: %v\n%s", name, s.err, s.out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("examples/%s printed no %q line within 60s\n%s", name, demo.ListeningPrefix, s.out.String())
	}
	if slices.Contains(args, "-postgres") && !strings.Contains(s.out.String(), "storage   PostgreSQL") {
		t.Fatalf("examples/%s does not say it uses PostgreSQL:\n%s", name, s.out.String())
	}
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("examples/%s listens on %q, want http://127.0.0.1:PORT", name, s.URL)
	}
	s.Window = s.URL + demo.FakePrefix
	if i := slices.Index(args, "-iamport-url"); i >= 0 && i+1 < len(args) {
		s.Window = args[i+1]
	}
	return s
}

// startFakeIAMPort starts cmd/fakeiamport on a free port, stopped when the test ends,
// and returns its base URL.
func startFakeIAMPort(t *testing.T) string {
	t.Helper()
	var exit error
	out, done := startProcess(t, "cmd/fakeiamport", binary(t, "cmd/fakeiamport"), []string{"-addr", "127.0.0.1:0"}, "base URL:", &exit)
	select {
	case line := <-out.found:
		base, _, _ := strings.Cut(line, " ")
		if !strings.HasPrefix(base, "http://127.0.0.1:") {
			t.Fatalf("cmd/fakeiamport prints base URL %q", line)
		}
		return base
	case <-done:
		t.Fatalf("cmd/fakeiamport exited before listening: %v\n%s", exit, out.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("cmd/fakeiamport printed no base URL within 60s\n%s", out.String())
	}
	return ""
}

// startProcess runs bin with args and the sandbox environment, reports the first output
// line starting with ready on the returned writer's found channel, and stops the process
// with SIGINT when the test ends: it must then exit cleanly within the examples'
// shutdown budget. *exit holds the process's exit once done is closed.
func startProcess(t *testing.T, what, bin string, args []string, ready string, exit *error) (*lineWriter, chan struct{}) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(sandboxEnv(), "GORACE=halt_on_error=1")
	lw := newLineWriter(ready)
	cmd.Stdout = lw
	cmd.Stderr = lw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	done := make(chan struct{})
	go func() {
		*exit = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		select {
		case <-done:
			t.Errorf("%s exited early: %v", what, *exit)
		default:
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-done:
				if *exit != nil {
					t.Errorf("%s did not shut down cleanly: %v", what, *exit)
				}
			case <-time.After(demo.ShutdownTimeout + 10*time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Errorf("%s did not stop within %s of SIGINT", what, demo.ShutdownTimeout+10*time.Second)
			}
		}
		if t.Failed() || os.Getenv("BILLKEY_E2E_SHOW_OUTPUT") != "" {
			t.Logf("output of %s:\n%s", what, lw.String())
		}
	})
	return lw, done
}

// runExampleToExit runs examples/<name> with args, expecting it to refuse to start: it
// returns the output and the exit error.
func runExampleToExit(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exampleBinary(t, name), append([]string{"-addr", "127.0.0.1:0"}, args...)...)
	cmd.Env = sandboxEnv()
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("examples/%s did not exit within 60s:\n%s", name, out)
	}
	return string(out), err
}

// sandboxEnv is this process's environment without anything that would switch the
// example to the real iamport, PostgreSQL, another iamport or another address.
func sandboxEnv() []string {
	drop := map[string]bool{}
	for _, k := range []string{demo.EnvAddr, demo.EnvDB, demo.EnvPostgresDSN, demo.EnvPublicURL, demo.EnvIAMPortURL,
		demo.EnvIMPCode, demo.EnvIMPKey, demo.EnvIMPSecret, demo.EnvTestChannel} {
		drop[k] = true
	}
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			env = append(env, kv)
		}
	}
	return env
}

// lineWriter keeps a process's output and reports the first line that starts with
// prefix (the rest of that line, trimmed).
type lineWriter struct {
	prefix string
	found  chan string

	mu      sync.Mutex
	buf     bytes.Buffer
	partial []byte
	sent    bool
}

func newLineWriter(prefix string) *lineWriter {
	return &lineWriter{prefix: prefix, found: make(chan string, 1)}
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
		if !w.sent && strings.HasPrefix(line, w.prefix) {
			w.sent = true
			w.found <- strings.TrimSpace(strings.TrimPrefix(line, w.prefix))
		}
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}
