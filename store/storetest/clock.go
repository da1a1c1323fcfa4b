package storetest

import (
	"sync"
	"time"
)

// clock is the store's clock in a subtest: it stands still until the subtest moves it,
// so a lease's end is known to the millisecond and a test never waits for one.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock(start time.Time) *clock { return &clock{now: start.UTC()} }

// Now returns the clock's time; it is the func() time.Time handed to the store.
func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// advance moves the clock forward by d.
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
