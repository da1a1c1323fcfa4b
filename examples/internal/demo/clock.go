package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/billkey/billkey/iamport/iamporttest"
)

// remoteClockRefresh is how often an example that uses a shared fake reads the fake's
// clock again, so that a jump another example made reaches it within that time.
const remoteClockRefresh = time.Second

// clockTimeout bounds one request to a shared fake's clock control route.
const clockTimeout = 10 * time.Second

// demoClock is the one time the billkey service (core.Config.Now), the store's leases
// (sqlstore.WithClock) and the fake iamport share. The service counts periods, retries and
// expiries on it and the store measures its leases on it, so a clock that jumps must move
// them together (see the doc comment of core.Config.Now): in the sandbox it is the fake's
// own clock, the real time plus an offset the time machine grows. Live, it is the real
// time and never jumps.
//
// A jump must not land while a charge is in flight: the lease that charge holds would
// look expired at once, and a sweep could look its merchant_uid up (and resend it) while
// its `again` is still on its way. So billing requests and sweeps hold mu shared, and a
// jump holds it alone (App.HoldClock, App.Travel).
type demoClock struct {
	now func() time.Time
	// advance moves the fake's clock forward; nil when time cannot move (live).
	advance func(ctx context.Context, d time.Duration) error
	// remote, for a shared fake, follows its clock from this process; closed with the App.
	remote *iamporttest.RemoteClock

	mu sync.RWMutex
}

// wallClock is the real time: live mode, where the time machine does not exist.
func wallClock() *demoClock { return &demoClock{now: time.Now} }

// fakeClock is the clock of the private in-process fake. The fake keeps its offset in
// its state file, so the shop's time survives a restart with its records.
func fakeClock(f *iamporttest.Fake) *demoClock {
	return &demoClock{
		now: f.Now,
		advance: func(_ context.Context, d time.Duration) error {
			f.Advance(d)
			return nil
		},
	}
}

// sharedFakeClock follows the clock of the fake at base (cmd/fakeiamport), which every
// example using that fake follows too, and moves it through its clock control route.
func sharedFakeClock(base string) (*demoClock, error) {
	rc, err := iamporttest.NewRemoteClock(base, remoteClockRefresh)
	if err != nil {
		return nil, fmt.Errorf("read the shared fake's clock at %s%s: %w", base, iamporttest.ClockPath, err)
	}
	hc := &http.Client{Timeout: clockTimeout}
	return &demoClock{
		now:    rc.Now,
		remote: rc,
		advance: func(ctx context.Context, d time.Duration) error {
			if err := postClockChange(ctx, hc, base, iamporttest.ClockChange{Advance: d.String()}); err != nil {
				return err
			}
			return rc.Sync(ctx)
		},
	}, nil
}

// postClockChange asks the fake at base to move its clock.
func postClockChange(ctx context.Context, hc *http.Client, base string, ch iamporttest.ClockChange) error {
	body, err := json.Marshal(ch)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+iamporttest.ClockPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("move the shared fake's clock: %w", err)
	}
	defer res.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(res.Body, 1<<10))
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("move the shared fake's clock: HTTP %d: %s", res.StatusCode, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Now is the shop's time.
func (c *demoClock) Now() time.Time { return c.now() }

// canTravel reports whether the time machine exists: in the sandbox only.
func (c *demoClock) canTravel() bool { return c.advance != nil }

// hold keeps the clock where it is until release is called; a jump waits for it.
func (c *demoClock) hold() (release func()) {
	if !c.canTravel() {
		return func() {}
	}
	c.mu.RLock()
	return c.mu.RUnlock
}

// jump moves the clock forward by d once nothing holds it, and runs then, still alone,
// what must see the new time first (a sweep). d must be positive.
func (c *demoClock) jump(ctx context.Context, d time.Duration, then func()) error {
	if !c.canTravel() {
		return errNoTimeMachine
	}
	if d <= 0 {
		return errors.New("demo: the clock moves forward only")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.advance(ctx, d); err != nil {
		return err
	}
	then()
	return nil
}

// close stops following a shared fake's clock.
func (c *demoClock) close() {
	if c.remote != nil {
		c.remote.Close()
	}
}

// errNoTimeMachine: time moves only in the sandbox.
var errNoTimeMachine = errors.New("demo: the time machine exists only in the sandbox")
