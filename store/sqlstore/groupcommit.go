package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// maxGroup bounds the writes one group commit carries, so that the first of them waits
// for a bounded transaction.
const maxGroup = 64

// groupCommit runs the writes of a SQLite store. Writes that queue while a transaction
// runs share the next one, each inside a savepoint of its own, so a busy store makes one
// commit (one fsync, with synchronous FULL) for many writes; every write still returns
// only once its transaction is on disk (docs/guarantees.md, R18). SQLite has a single
// writer, so grouping costs a write no waiting it would not have done anyway.
//
// A goroutine runs the groups while writes are queued and ends when the queue is empty.
// Statements run under a context of their own: cancelling a caller's context while its
// statement runs would interrupt SQLite, which rolls back the whole transaction and with
// it the writes of other callers.
type groupCommit struct {
	db *sql.DB

	mu      sync.Mutex
	queue   []*queuedWrite
	running bool

	groups atomic.Int64 // transactions begun, for tests
}

// queuedWrite is one caller's write. state moves from writeQueued to writeTaken when a
// group starts it, or to writeAbandoned when its caller stops waiting first.
type queuedWrite struct {
	fn    func(ctx context.Context, q querier) error
	state atomic.Int32
	done  chan error // buffered: the group never waits for the caller
}

const (
	writeQueued int32 = iota
	writeTaken
	writeAbandoned
)

// do queues fn and waits until the group that ran it has committed or rolled back. When
// ctx ends first, a write not yet started is dropped and do returns ctx's error; a write
// already started is waited for, so the caller learns what happened to it.
func (g *groupCommit) do(ctx context.Context, fn func(ctx context.Context, q querier) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &queuedWrite{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	start := !g.running
	g.running = true
	g.mu.Unlock()
	if start {
		go g.run()
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		if w.state.CompareAndSwap(writeQueued, writeAbandoned) {
			return ctx.Err()
		}
		return <-w.done
	}
}

// run commits groups until the queue is empty.
func (g *groupCommit) run() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), maxGroup)
		if n == 0 {
			g.queue = nil
			g.running = false
			g.mu.Unlock()
			return
		}
		group := append([]*queuedWrite(nil), g.queue[:n]...)
		g.queue = append(g.queue[:0], g.queue[n:]...)
		g.mu.Unlock()
		if rest := g.commit(group); len(rest) > 0 {
			g.mu.Lock()
			g.queue = append(rest, g.queue...)
			g.mu.Unlock()
		}
	}
}

// commit runs the writes of group in one transaction and answers each. A write whose
// function fails is rolled back to its savepoint alone. When the transaction itself breaks
// (a savepoint cannot be set, rolled back to or released, or a write panics), it is rolled
// back, the write that broke it fails, and the others are returned to be queued again.
func (g *groupCommit) commit(group []*queuedWrite) (rest []*queuedWrite) {
	ctx := context.Background()
	g.groups.Add(1)
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		for _, w := range group {
			if w.state.CompareAndSwap(writeQueued, writeTaken) {
				w.done <- err
			}
		}
		return nil
	}
	ran := make([]*queuedWrite, 0, len(group))
	errs := make([]error, 0, len(group))
	for i, w := range group {
		if !w.state.CompareAndSwap(writeQueued, writeTaken) {
			continue // its caller is gone
		}
		err := runSavepoint(ctx, tx, w.fn)
		var broken *brokenTx
		if errors.As(err, &broken) {
			// The writes that ran before it were undone with the transaction: they run
			// again in the next group, with the writes not yet started.
			_ = tx.Rollback()
			w.done <- broken.err
			for _, r := range ran {
				r.state.Store(writeQueued)
			}
			return append(ran, group[i+1:]...)
		}
		ran = append(ran, w)
		errs = append(errs, err)
	}
	if err := tx.Commit(); err != nil {
		for i, w := range ran {
			if errs[i] == nil {
				errs[i] = err
			}
			w.done <- errs[i]
		}
		return nil
	}
	for i, w := range ran {
		w.done <- errs[i]
	}
	return nil
}

// brokenTx is runSavepoint's error when the transaction can no longer be trusted: a
// savepoint statement failed, or the write panicked.
type brokenTx struct{ err error }

func (b *brokenTx) Error() string { return b.err.Error() }
func (b *brokenTx) Unwrap() error { return b.err }

// runSavepoint runs fn inside a savepoint of tx and returns fn's error, its writes then
// undone; or a *brokenTx.
func runSavepoint(ctx context.Context, tx *sql.Tx, fn func(ctx context.Context, q querier) error) (err error) {
	if _, err := tx.ExecContext(ctx, "SAVEPOINT billkey_write"); err != nil {
		return &brokenTx{fmt.Errorf("savepoint: %w", err)}
	}
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = &brokenTx{fmt.Errorf("write panicked: %v", r)}
			}
		}()
		err = fn(ctx, tx)
	}()
	var b *brokenTx
	if errors.As(err, &b) {
		return err
	}
	if err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO billkey_write"); rerr != nil {
			return &brokenTx{errors.Join(err, fmt.Errorf("rollback to savepoint: %w", rerr))}
		}
	}
	if _, rerr := tx.ExecContext(ctx, "RELEASE billkey_write"); rerr != nil {
		return &brokenTx{errors.Join(err, fmt.Errorf("release savepoint: %w", rerr))}
	}
	return err
}
