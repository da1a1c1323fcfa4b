//go:build unix

package chaos

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// instanceProc is one running instance process.
type instanceProc struct {
	slot     int
	id       string
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	ready    chan struct{}
	exited   chan struct{} // closed once Wait returned
	waitErr  error
	stderr   string // path of its log
	readDone chan struct{}
}

// kill records one SIGKILL of an instance.
type kill struct {
	slot     int
	instance string
	stage    string
}

// fleet starts, kills and restarts the instance processes (this test binary again, in
// the instance role) and gathers what they report.
type fleet struct {
	t      *testing.T
	dir    string   // logs
	urls   []string // the front's URL for each slot
	env    []string
	front  *front
	mu     sync.Mutex
	procs  []*instanceProc
	gen    []int
	all    []*instanceProc
	kills  []kill
	counts map[string]int // "renew.renewed" and so on, over every instance
	errs   []string       // "error" lines
}

func newFleet(t *testing.T, dir string, urls []string, env []string, fr *front) *fleet {
	f := &fleet{t: t, dir: dir, urls: urls, env: env, front: fr, procs: make([]*instanceProc, len(urls)),
		gen: make([]int, len(urls)), counts: make(map[string]int)}
	t.Cleanup(f.killAll)
	return f
}

// start starts a new incarnation in slot.
func (f *fleet) start(slot int) (*instanceProc, error) {
	f.mu.Lock()
	f.gen[slot]++
	id := fmt.Sprintf("i%d-%d", slot, f.gen[slot])
	f.mu.Unlock()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), f.env...)
	cmd.Env = append(cmd.Env, envRole+"="+roleInstance, envInstance+"="+id, envFakeURL+"="+f.urls[slot])
	errPath := filepath.Join(f.dir, id+".log")
	errFile, err := os.Create(errPath)
	if err != nil {
		return nil, err
	}
	defer errFile.Close()
	cmd.Stderr = errFile
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &instanceProc{slot: slot, id: id, cmd: cmd, stdin: stdin, ready: make(chan struct{}),
		exited: make(chan struct{}), stderr: errPath, readDone: make(chan struct{})}
	f.mu.Lock()
	f.procs[slot] = p
	f.all = append(f.all, p)
	f.mu.Unlock()
	go f.read(p, stdout)
	go func() {
		<-p.readDone // Wait closes the pipe: read it to the end first
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// read takes in an instance's report lines, keeping a copy beside its log.
func (f *fleet) read(p *instanceProc, stdout io.Reader) {
	defer close(p.readDone)
	copyFile, _ := os.Create(filepath.Join(f.dir, p.id+".out"))
	if copyFile != nil {
		defer copyFile.Close()
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	readyOnce := sync.Once{}
	for sc.Scan() {
		line := sc.Text()
		if copyFile != nil {
			_, _ = fmt.Fprintln(copyFile, line)
		}
		word, rest, _ := strings.Cut(line, " ")
		switch word {
		case "ready":
			readyOnce.Do(func() { close(p.ready) })
		case "event":
			if kind, _, _ := strings.Cut(rest, " "); kind == "charge.paid" || kind == "charge.failed" || kind == "charge.unknown" {
				if plan := f.front.armed(p.slot); plan != nil && plan.stage == killAfterEvent {
					plan.fire(killAfterEvent)
				}
			}
		case "renew", "reconcile":
			f.add(word, rest)
		case "error":
			f.mu.Lock()
			f.errs = append(f.errs, p.id+": "+rest)
			f.mu.Unlock()
		}
	}
}

// add sums the key=value counts of a sweep line.
func (f *fleet) add(what, kvs string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, kv := range strings.Fields(kvs) {
		k, v, ok := strings.Cut(kv, "=")
		if n, err := strconv.Atoi(v); ok && err == nil {
			f.counts[what+"."+k] += n
		}
	}
}

// waitReady waits until every running instance said it is ready.
func (f *fleet) waitReady(timeout time.Duration) error {
	deadline := time.After(timeout)
	f.mu.Lock()
	procs := append([]*instanceProc(nil), f.procs...)
	f.mu.Unlock()
	for _, p := range procs {
		select {
		case <-p.ready:
		case <-p.exited:
			return fmt.Errorf("instance %s exited before it was ready: %v; log:\n%s", p.id, p.waitErr, tail(p.stderr, 20))
		case <-deadline:
			return fmt.Errorf("instance %s not ready after %s; log:\n%s", p.id, timeout, tail(p.stderr, 20))
		}
	}
	return nil
}

// killSlot sends SIGKILL to the instance in slot.
func (f *fleet) killSlot(slot int, stage string) {
	f.mu.Lock()
	p := f.procs[slot]
	f.mu.Unlock()
	if p == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	f.mu.Lock()
	f.kills = append(f.kills, kill{slot: slot, instance: p.id, stage: stage})
	f.mu.Unlock()
}

// restart waits for the killed instance of slot to be gone and starts the next one.
func (f *fleet) restart(slot int) error {
	f.mu.Lock()
	p := f.procs[slot]
	f.mu.Unlock()
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		return fmt.Errorf("instance %s did not die", p.id)
	}
	_, err := f.start(slot)
	return err
}

// stop closes every instance's stdin: each exits after the sweep it is in.
func (f *fleet) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.procs {
		_ = p.stdin.Close()
	}
}

// wait waits for the instances told to stop to exit; one that does not within timeout
// is killed.
func (f *fleet) wait(timeout time.Duration) error {
	f.mu.Lock()
	procs := append([]*instanceProc(nil), f.procs...)
	f.mu.Unlock()
	var errs []error
	deadline := time.After(timeout)
	for _, p := range procs {
		select {
		case <-p.exited:
			if p.waitErr != nil {
				errs = append(errs, fmt.Errorf("instance %s: %v; log:\n%s", p.id, p.waitErr, tail(p.stderr, 20)))
			}
		case <-deadline:
			_ = p.cmd.Process.Kill()
			errs = append(errs, fmt.Errorf("instance %s did not stop within %s", p.id, timeout))
		}
	}
	return errors.Join(errs...)
}

// killAll kills whatever still runs and waits for it: the test's last word, whatever
// happened.
func (f *fleet) killAll() {
	f.mu.Lock()
	all := append([]*instanceProc(nil), f.all...)
	f.mu.Unlock()
	for _, p := range all {
		select {
		case <-p.exited:
			continue
		default:
		}
		_ = p.cmd.Process.Kill()
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			f.t.Errorf("instance %s (pid %d) would not die", p.id, p.cmd.Process.Pid)
		}
	}
}

// raceReports are the instances whose log holds a data race report.
func (f *fleet) raceReports() []string {
	f.mu.Lock()
	all := append([]*instanceProc(nil), f.all...)
	f.mu.Unlock()
	var out []string
	for _, p := range all {
		b, err := os.ReadFile(p.stderr)
		if err == nil && strings.Contains(string(b), "WARNING: DATA RACE") {
			out = append(out, p.id)
		}
	}
	return out
}

// tail is the last n lines of the file at path.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	ls := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
