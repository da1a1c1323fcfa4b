package iamporttest

import "time"

// fakeClock is the fake's time: frozen at a moment that only Advance moves (the default), or
// the wall clock plus an offset that Advance grows (WithRealClock).
type fakeClock struct {
	real   bool
	at     time.Time     // frozen: the time
	offset time.Duration // real: added to the wall clock
}

// newClock starts a clock at start (zero: now).
func newClock(start time.Time, real bool) fakeClock {
	switch {
	case real && start.IsZero():
		return fakeClock{real: true}
	case real:
		return fakeClock{real: true, offset: time.Until(start)}
	case start.IsZero():
		return fakeClock{at: time.Now()}
	}
	return fakeClock{at: start}
}

func (c *fakeClock) now() time.Time {
	if c.real {
		return time.Now().Add(c.offset)
	}
	return c.at
}

func (c *fakeClock) advance(d time.Duration) {
	if c.real {
		c.offset += d
		return
	}
	c.at = c.at.Add(d)
}
