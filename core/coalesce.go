package core

import (
	"sync"
	"time"
)

// coalescer runs one call per key at a time: callers arriving while it runs wait for it
// and share its result instead of starting their own. Identical webhooks arriving
// together thus cost one lookup at iamport.
type coalescer struct {
	mu    sync.Mutex
	calls map[string]*sharedCall
}

type sharedCall struct {
	done   chan struct{}
	result string
	err    error
}

// do runs fn for key, or waits for the run already in flight for key and returns its
// result.
func (g *coalescer) do(key string, fn func() (string, error)) (string, error) {
	g.mu.Lock()
	if g.calls == nil {
		g.calls = make(map[string]*sharedCall)
	}
	if c, ok := g.calls[key]; ok {
		g.mu.Unlock()
		<-c.done
		return c.result, c.err
	}
	c := &sharedCall{done: make(chan struct{})}
	g.calls[key] = c
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(c.done)
	}()
	c.result, c.err = fn()
	return c.result, c.err
}

// Bounds of the memory of ids that led to nothing.
const (
	nothingTTL  = time.Minute
	nothingSize = 4096
)

// recentNothing remembers, for a minute, ids whose lookup led to nothing (iamport did
// not know them, or they named a payment that is not ours), so a flood of notifications
// for them costs no further lookups. Bounded: when full it forgets everything.
type recentNothing struct {
	mu sync.Mutex
	at map[string]time.Time
}

func (r *recentNothing) add(id string, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.at == nil || len(r.at) >= nothingSize {
		r.at = make(map[string]time.Time)
	}
	r.at[id] = now
}

func (r *recentNothing) seen(id string, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	at, ok := r.at[id]
	if ok && now.Sub(at) >= nothingTTL {
		delete(r.at, id)
		return false
	}
	return ok
}
