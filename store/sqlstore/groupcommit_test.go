package sqlstore

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/billkey/billkey/store/sqlstore/sqlitedb"
)

// groupTestStore is a migrated SQLite store on a file, with a table t(v) to write to.
func groupTestStore(t *testing.T) *Store {
	t.Helper()
	db, err := sqlitedb.Open(filepath.Join(t.TempDir(), "group.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	s, err := New(db, SQLite)
	require.NoError(t, err)
	_, err = db.Exec("CREATE TABLE t (v INTEGER PRIMARY KEY)")
	require.NoError(t, err)
	return s
}

// insertV is a write of v into t.
func insertV(v int) func(ctx context.Context, q querier) error {
	return func(ctx context.Context, q querier) error {
		_, err := q.ExecContext(ctx, "INSERT INTO t (v) VALUES (?)", v)
		return err
	}
}

func storedVs(t *testing.T, s *Store) []int {
	t.Helper()
	rows, err := s.db.Query("SELECT v FROM t ORDER BY v")
	require.NoError(t, err)
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		require.NoError(t, rows.Scan(&v))
		out = append(out, v)
	}
	require.NoError(t, rows.Err())
	return out
}

// holdFirstGroup starts a write that blocks until release is closed, and returns once it
// runs: writes queued meanwhile wait for the next group.
func holdFirstGroup(t *testing.T, s *Store, release <-chan struct{}) <-chan error {
	t.Helper()
	running := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.write(context.Background(), func(ctx context.Context, q querier) error {
			close(running)
			<-release
			return insertV(0)(ctx, q)
		})
	}()
	select {
	case <-running:
	case <-time.After(10 * time.Second):
		t.Fatal("the first write never ran")
	}
	return done
}

// waitQueued waits until n writes are queued behind the running group.
func waitQueued(t *testing.T, s *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.group.mu.Lock()
		got := len(s.group.queue)
		s.group.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writes queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// queuedBehind queues writes, one at a time and in order, behind a held group.
type queuedBehind struct {
	t       *testing.T
	s       *Store
	n       int
	results chan error
}

func queueBehind(t *testing.T, s *Store) *queuedBehind {
	return &queuedBehind{t: t, s: s, results: make(chan error, 16)}
}

// add queues fn and returns once it waits in the queue.
func (b *queuedBehind) add(fn func(ctx context.Context, q querier) error) {
	b.n++
	go func() { b.results <- b.s.write(context.Background(), fn) }()
	waitQueued(b.t, b.s, b.n)
}

// failures waits for every queued write and returns the errors of those that failed.
func (b *queuedBehind) failures() []error {
	var failed []error
	for range b.n {
		if err := <-b.results; err != nil {
			failed = append(failed, err)
		}
	}
	return failed
}

func TestGroupCommitSharesOneTransaction(t *testing.T) {
	s := groupTestStore(t)
	release := make(chan struct{})
	first := holdFirstGroup(t, s, release)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 1; i <= n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i-1] = s.write(context.Background(), insertV(i))
		}()
	}
	waitQueued(t, s, n)
	select {
	case err := <-first:
		t.Fatalf("a write returned (%v) before its transaction was committed", err)
	default:
	}
	close(release)
	require.NoError(t, <-first)
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	assert.Len(t, storedVs(t, s), n+1)
	assert.EqualValues(t, 2, s.group.groups.Load(), "the held write's group, then one for all that queued behind it")
}

func TestGroupCommitRollsBackAFailedWriteAlone(t *testing.T) {
	s := groupTestStore(t)
	release := make(chan struct{})
	first := holdFirstGroup(t, s, release)
	boom := errors.New("boom")
	queued := queueBehind(t, s)
	queued.add(insertV(1))
	queued.add(func(ctx context.Context, q querier) error {
		require.NoError(t, insertV(2)(ctx, q))
		return boom
	})
	queued.add(insertV(1)) // a duplicate: fails
	queued.add(insertV(3))
	close(release)
	require.NoError(t, <-first)
	failed := queued.failures()
	require.Len(t, failed, 2)
	assert.True(t, errors.Is(failed[0], boom) || errors.Is(failed[1], boom))
	assert.Equal(t, []int{0, 1, 3}, storedVs(t, s), "the failed writes left nothing, the others all landed")
	assert.EqualValues(t, 2, s.group.groups.Load())
}

func TestGroupCommitDropsAWriteWhoseCallerLeft(t *testing.T) {
	s := groupTestStore(t)
	release := make(chan struct{})
	first := holdFirstGroup(t, s, release)
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{}, 1)
	left := make(chan error, 1)
	go func() {
		left <- s.write(ctx, func(ctx context.Context, q querier) error {
			ran <- struct{}{}
			return insertV(7)(ctx, q)
		})
	}()
	waitQueued(t, s, 1)
	cancel()
	assert.ErrorIs(t, <-left, context.Canceled)
	close(release)
	require.NoError(t, <-first)
	require.NoError(t, s.write(context.Background(), insertV(8)))
	assert.Empty(t, ran, "a write whose caller stopped waiting before it started never runs")
	assert.Equal(t, []int{0, 8}, storedVs(t, s))
}

func TestGroupCommitWaitsForAStartedWrite(t *testing.T) {
	s := groupTestStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	err := s.write(ctx, func(ctx context.Context, q querier) error {
		cancel() // the caller gives up while its statement runs
		return insertV(5)(ctx, q)
	})
	require.NoError(t, err, "the write had started: its caller learns it committed")
	assert.Equal(t, []int{5}, storedVs(t, s))
}

func TestGroupCommitBrokenTransactionRunsTheOthersAgain(t *testing.T) {
	s := groupTestStore(t)
	release := make(chan struct{})
	first := holdFirstGroup(t, s, release)
	queued := queueBehind(t, s)
	queued.add(insertV(1))
	queued.add(func(ctx context.Context, q querier) error { panic("write bug") })
	queued.add(insertV(3))
	close(release)
	require.NoError(t, <-first)
	var msgs []string
	for _, err := range queued.failures() {
		msgs = append(msgs, err.Error())
	}
	assert.Equal(t, []string{"write panicked: write bug"}, msgs, "only the write that broke the transaction fails")
	assert.Equal(t, []int{0, 1, 3}, storedVs(t, s), "the write rolled back with it and the one not yet started ran in the next group")
	assert.EqualValues(t, 3, s.group.groups.Load())
}

func TestGroupCommitReportsAClosedDatabase(t *testing.T) {
	s := groupTestStore(t)
	require.NoError(t, s.db.Close())
	err := s.write(context.Background(), insertV(1))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "database is closed")
}
