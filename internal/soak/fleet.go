package soak

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// startTimeout bounds how long an instance may take to print its listening line.
const startTimeout = 90 * time.Second

// instance is one process of the net/http example. It keeps its index across restarts;
// it listens on the same address after a restart; its generation changes with each start,
// so customers sign in again.
type instance struct {
	name string
	bin  string
	args []string
	log  string // file its output is appended to

	mu    sync.RWMutex
	url   string
	gen   int
	cmd   *exec.Cmd
	done  chan struct{}
	crash int // SIGKILLs
	// baseline is what the process held just after its latest start; the audit
	// compares the end of the run with it.
	baseline resources
}

// buildShop builds examples/nethttp into dir, once for the run.
func buildShop(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "shop")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/billkey/billkey/examples/nethttp")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build examples/nethttp: %v\n%s", err, out)
	}
	return bin, nil
}

// start runs the process and waits for its listening line.
func (in *instance) start(ctx context.Context) error {
	f, err := os.OpenFile(in.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(in.bin, in.args...)
	cmd.Env = append(os.Environ(), "IMP_CODE=", "IMP_KEY=", "IMP_SECRET=")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return fmt.Errorf("start %s: %w", in.name, err)
	}
	done := make(chan struct{})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			line := sc.Text()
			_, _ = f.WriteString(line + "\n")
			if u, ok := strings.CutPrefix(line, listeningPrefix); ok {
				select {
				case found <- strings.TrimSpace(u):
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
		_ = f.Close()
	}()
	go func() {
		_ = cmd.Wait()
		_ = pw.Close()
		close(done)
	}()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case u := <-found:
		base := resources{fds: openFiles(cmd.Process.Pid), goroutines: goroutines(ctx, u)}
		in.mu.Lock()
		in.url, in.cmd, in.done = u, cmd, done
		in.gen++
		in.baseline = base
		in.keepAddress(u)
		in.mu.Unlock()
		return nil
	case <-done:
		return fmt.Errorf("%s exited before listening (see %s)", in.name, in.log)
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("%s printed no listening line within %s (see %s)", in.name, startTimeout, in.log)
	case <-ctx.Done():
		_ = cmd.Process.Kill()
		<-done
		return ctx.Err()
	}
}

// keepAddress makes a restart listen where the first start did: the address stands for
// the shop's public URL, which iamport's webhooks (notice_url) and the mobile returns of
// the payments the instance started keep using after it died, as a real shop's address
// outlives any one process behind it.
func (in *instance) keepAddress(listening string) {
	u, err := url.Parse(listening)
	if err != nil || u.Host == "" {
		return
	}
	for i := 0; i+1 < len(in.args); i++ {
		if in.args[i] == "-addr" {
			in.args[i+1] = u.Host
		}
	}
}

// current is the instance's URL and generation.
func (in *instance) current() (string, int) {
	in.mu.RLock()
	defer in.mu.RUnlock()
	return in.url, in.gen
}

func (in *instance) pid() int {
	in.mu.RLock()
	defer in.mu.RUnlock()
	if in.cmd == nil || in.cmd.Process == nil {
		return 0
	}
	return in.cmd.Process.Pid
}

// kill sends SIGKILL and waits for the process to go.
func (in *instance) kill() {
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	in.url = ""
	in.crash++
	in.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop asks the process to shut down (SIGINT) and kills it if it takes too long.
func (in *instance) stop() error {
	in.mu.Lock()
	cmd, done := in.cmd, in.done
	in.cmd = nil
	in.mu.Unlock()
	if cmd == nil {
		return nil
	}
	select {
	case <-done:
		return fmt.Errorf("%s had exited on its own", in.name)
	default:
	}
	_ = cmd.Process.Signal(os.Interrupt)
	timer := time.NewTimer(shutdownTimeout + 10*time.Second)
	defer timer.Stop()
	select {
	case <-done:
		return nil
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-done
		return errors.New(in.name + " did not stop after SIGINT")
	}
}

// goroutines reads go_goroutines from the instance's metrics; -1 if it cannot. Its
// connection is not kept, so reading does not add to what it counts.
func goroutines(ctx context.Context, base string) int {
	if base == "" {
		return -1
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+metricsPath, nil)
	if err != nil {
		return -1
	}
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := hc.Do(req)
	if err != nil {
		return -1
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(io.LimitReader(res.Body, 4<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			if n, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				return int(n)
			}
		}
	}
	return -1
}

// openFiles counts the process's open file descriptors (Linux /proc); -1 if unknown.
func openFiles(pid int) int {
	if pid == 0 {
		return -1
	}
	ents, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}
