package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// roleEnv names the role a re-executed copy of the program plays; latencyEnv is the
// fake's latency.
const (
	roleEnv    = "BILLKEYBENCH_ROLE"
	latencyEnv = "BILLKEYBENCH_FAKE_LATENCY"

	roleFake = "fake"
	roleCell = "cell"
)

// Child plays the role this process was started for by Run, if any: the iamport fake
// (until its standard input closes) or one cell (spec on standard input, result to the
// file the spec names). It reports whether this process is such a helper, and the exit
// code it should end with.
func Child() (isChild bool, code int) {
	var err error
	switch os.Getenv(roleEnv) {
	case roleFake:
		err = serveFake(os.Stdin, os.Stdout, os.Getenv(latencyEnv))
	case roleCell:
		err = runCellProcess(os.Stdin)
	default:
		return false, 0
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "billkeybench:", err)
		return true, 1
	}
	return true, 0
}

// helperCommand is this program re-executed in role, with extra environment.
func helperCommand(ctx context.Context, role string, env ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("locate own executable: %w", err)
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), append([]string{roleEnv + "=" + role}, env...)...)
	cmd.WaitDelay = 5 * time.Second
	return cmd, nil
}

// tailBuffer keeps the last max bytes written to it: a helper's output, for errors.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

// fakeAddrs is the first line a fake process prints: where its API and its control
// endpoints listen.
type fakeAddrs struct {
	API     string `json:"api"`
	Control string `json:"control"`
}

// fakeProc is a running fake process.
type fakeProc struct {
	fakeAddrs
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *tailBuffer
}

// startFake starts a fake process whose API delays every call by latency, and waits
// (at most 30 s) until it listens.
func startFake(ctx context.Context, latency time.Duration) (*fakeProc, error) {
	cmd, err := helperCommand(ctx, roleFake, latencyEnv+"="+latency.String())
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	out := &tailBuffer{max: 8 << 10}
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start fake: %w", err)
	}
	p := &fakeProc{cmd: cmd, stdin: stdin, out: out}
	line := make(chan []byte, 1)
	go func() {
		r := bufio.NewReader(stdout)
		b, _ := r.ReadBytes('\n')
		line <- b
		_, _ = io.Copy(out, r)
	}()
	select {
	case b := <-line:
		if err := json.Unmarshal(b, &p.fakeAddrs); err != nil || p.API == "" || p.Control == "" {
			p.stop()
			return nil, fmt.Errorf("fake did not start: %s", out.String())
		}
		return p, nil
	case <-time.After(30 * time.Second):
		p.stop()
		return nil, errors.New("fake did not start within 30s")
	}
}

// stop ends the fake: closing its standard input asks it to exit; after 5 s it is killed.
func (p *fakeProc) stop() {
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// runCellChild runs spec in a cell process, killed after budget, and returns its result.
func runCellChild(ctx context.Context, spec cellSpec, budget time.Duration) (CellResult, error) {
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	cmd, err := helperCommand(ctx, roleCell)
	if err != nil {
		return CellResult{}, err
	}
	in, err := json.Marshal(spec)
	if err != nil {
		return CellResult{}, err
	}
	cmd.Stdin = bytes.NewReader(in)
	out := &tailBuffer{max: 8 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	runErr := cmd.Run()
	b, readErr := os.ReadFile(spec.ResultPath)
	_ = os.Remove(spec.ResultPath)
	if readErr != nil {
		if runErr == nil {
			runErr = readErr
		}
		if ctx.Err() != nil {
			runErr = fmt.Errorf("cell killed after its budget of %s", budget)
		}
		return CellResult{}, fmt.Errorf("cell process: %v: %s", runErr, out.String())
	}
	var res CellResult
	if err := json.Unmarshal(b, &res); err != nil {
		return CellResult{}, fmt.Errorf("cell result: %w", err)
	}
	return res, nil
}
