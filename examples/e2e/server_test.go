package e2e_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/billkey/billkey/examples/internal/demo"
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
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// builds remembers one build per example and run.
var builds sync.Map // example name -> *build

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
	v, _ := builds.LoadOrStore(name, &build{})
	b := v.(*build)
	b.once.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			b.err = fmt.Errorf("the go command is needed to build the examples: %w", err)
			return
		}
		b.path = filepath.Join(binDir, name)
		args := []string{"build", "-o", b.path}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "github.com/billkey/billkey/examples/"+name)
		start := time.Now()
		cmd := exec.Command(goBin, args...)
		b.out, b.err = cmd.CombinedOutput()
		t.Logf("built examples/%s in %s (race: %v)", name, time.Since(start).Round(time.Millisecond), raceEnabled)
	})
	if b.err != nil {
		t.Fatalf("build examples/%s: %v\n%s", name, b.err, b.out)
	}
	return b.path
}

// server is one running example.
type server struct {
	URL  string
	out  *lineWriter
	done chan struct{}
	err  error // the process's exit, once done is closed
}

// startExample starts examples/<name> in the sandbox on a free port with a fresh SQLite
// file (or the storage args choose, e.g. "-postgres", DSN), and stops it (SIGINT, then a graceful shutdown that must end cleanly) when the
// test ends. Its output is logged when the test fails.
func startExample(t *testing.T, name string, storage ...string) *server {
	t.Helper()
	bin := exampleBinary(t, name)
	if len(storage) == 0 {
		storage = []string{"-db", filepath.Join(t.TempDir(), "demo.db")}
	}
	cmd := exec.Command(bin, append([]string{"-addr", "127.0.0.1:0"}, storage...)...)
	cmd.Env = sandboxEnv()
	cmd.Env = append(cmd.Env, "GORACE=halt_on_error=1")
	lw := newLineWriter(demo.ListeningPrefix)
	cmd.Stdout = lw
	cmd.Stderr = lw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start examples/%s: %v", name, err)
	}
	s := &server{out: lw, done: make(chan struct{})}
	go func() {
		s.err = cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		select {
		case <-s.done:
			t.Errorf("examples/%s exited early: %v", name, s.err)
		default:
			_ = cmd.Process.Signal(os.Interrupt)
			select {
			case <-s.done:
				if s.err != nil {
					t.Errorf("examples/%s did not shut down cleanly: %v", name, s.err)
				}
			case <-time.After(demo.ShutdownTimeout + 10*time.Second):
				_ = cmd.Process.Kill()
				<-s.done
				t.Errorf("examples/%s did not stop within %s of SIGINT", name, demo.ShutdownTimeout+10*time.Second)
			}
		}
		if t.Failed() || os.Getenv("BILLKEY_E2E_SHOW_OUTPUT") != "" {
			t.Logf("output of examples/%s:\n%s", name, lw.String())
		}
	})
	select {
	case u := <-lw.found:
		s.URL = u
	case <-s.done:
		t.Fatalf("examples/%s exited before listening: %v\n%s", name, s.err, lw.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("examples/%s printed no %q line within 60s\n%s", name, demo.ListeningPrefix, lw.String())
	}
	if len(storage) > 0 && storage[0] == "-postgres" && !strings.Contains(lw.String(), "storage   PostgreSQL") {
		t.Fatalf("examples/%s does not say it uses PostgreSQL:\n%s", name, lw.String())
	}
	if !strings.HasPrefix(s.URL, "http://127.0.0.1:") {
		t.Fatalf("examples/%s listens on %q, want http://127.0.0.1:PORT", name, s.URL)
	}
	return s
}

// sandboxEnv is this process's environment without anything that would switch the
// example to the real iamport, PostgreSQL or another address.
func sandboxEnv() []string {
	drop := map[string]bool{}
	for _, k := range []string{demo.EnvAddr, demo.EnvDB, demo.EnvPostgresDSN, demo.EnvPublicURL,
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
