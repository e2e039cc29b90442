package runner_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// watchedStore is a real store that counts what the runner writes, and
// the log appends it refuses. A test may hold log appends at a gate.
type watchedStore struct {
	store.Store
	writes      atomic.Int64 // calls of the methods below
	failedLogs  atomic.Int64 // RunLogAppend calls that failed
	otherErrors atomic.Int64 // of those, failed with other than ErrUnavailable

	mu           sync.Mutex
	failedLogsOf map[string]int64 // failed RunLogAppend calls by run

	gate *logGate // nil: appends go through
}

// logGate holds each log append until the test lets it through: an append
// is sent on entered, then waits for pass. Once open is closed, appends go
// through.
type logGate struct {
	entered chan struct{}
	pass    chan struct{}
	open    chan struct{}
}

// gateLogs makes every later log append wait at the gate; set it before
// a run starts. The gate opens when the test ends.
func (w *watchedStore) gateLogs(t *testing.T) *logGate {
	g := &logGate{entered: make(chan struct{}), pass: make(chan struct{}), open: make(chan struct{})}
	t.Cleanup(g.openUp) // before the runner's shutdown, registered earlier
	w.gate = g
	return g
}

func (g *logGate) wait() {
	select {
	case g.entered <- struct{}{}:
	case <-g.open:
		return
	}
	select {
	case <-g.pass:
	case <-g.open:
	}
}

// next waits for an append to reach the gate, and holds it there.
func (g *logGate) next(t *testing.T) {
	t.Helper()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("no log append reached the gate")
	}
}

// let lets the append held at the gate through.
func (g *logGate) let() { g.pass <- struct{}{} }

// openUp lets every append through from now on.
func (g *logGate) openUp() {
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func (w *watchedStore) RunLogAppend(ctx context.Context, id string, lines []store.LogLine) error {
	w.writes.Add(1)
	if w.gate != nil {
		w.gate.wait()
	}
	err := w.Store.RunLogAppend(ctx, id, lines)
	if err != nil {
		w.failedLogs.Add(1)
		if !errors.Is(err, store.ErrUnavailable) {
			w.otherErrors.Add(1)
		}
		w.mu.Lock()
		if w.failedLogsOf == nil {
			w.failedLogsOf = map[string]int64{}
		}
		w.failedLogsOf[id]++
		w.mu.Unlock()
	}
	return err
}

// failedLogsFor returns how many log appends of each run have failed.
func (w *watchedStore) failedLogsFor(ids ...string) []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := make([]int64, len(ids))
	for i, id := range ids {
		n[i] = w.failedLogsOf[id]
	}
	return n
}

// waitRetriedSince waits until each run's log append has failed twice
// more than the counts given: the second of those writes was taken from
// the buffer after the first failed, so after the counts were read. A
// write taken before, whose note may not count the lines lost since, could
// otherwise go through once the disk is freed.
func (w *watchedStore) waitRetriedSince(t *testing.T, ids []string, before []int64) {
	t.Helper()
	wait.For(t, 10*time.Second, func() (bool, string) {
		now := w.failedLogsFor(ids...)
		for i := range ids {
			if now[i] < before[i]+2 {
				return false, fmt.Sprintf("run %s: %d failed log write(s) since, want 2", ids[i], now[i]-before[i])
			}
		}
		return true, ""
	})
}

func (w *watchedStore) RunSetProgress(ctx context.Context, id string, p api.Progress) error {
	w.writes.Add(1)
	return w.Store.RunSetProgress(ctx, id, p)
}

func (w *watchedStore) RunFinish(ctx context.Context, p store.RunFinishParams) (store.Run, error) {
	w.writes.Add(1)
	return w.Store.RunFinish(ctx, p)
}

func (w *watchedStore) RunSetCancelling(ctx context.Context, id, by, reason string) (store.Run, error) {
	w.writes.Add(1)
	return w.Store.RunSetCancelling(ctx, id, by, reason)
}

func (w *watchedStore) Ping(ctx context.Context) error {
	w.writes.Add(1)
	return w.Store.Ping(ctx)
}

// fillDisk makes a SQLite store's database refuse to grow, as a full disk
// does: its writer may use no page beyond those it has, and a table of
// filler takes every free one. Writes that need a new page then fail with
// SQLite's own SQLITE_FULL. freeDisk lifts the limit.
func fillDisk(t *testing.T, s store.Store) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Exec(ctx, "CREATE TABLE IF NOT EXISTS test_filler (b BLOB)"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec(ctx, "PRAGMA max_page_count = 1"); err != nil { // no fewer than it has
		t.Fatal(err)
	}
	for {
		_, err := s.Exec(ctx, "INSERT INTO test_filler VALUES (randomblob(1000))")
		if err == nil {
			continue
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("a full database's error is %v, want one wrapping store.ErrUnavailable", err)
		}
		return
	}
}

func freeDisk(t *testing.T, s store.Store) {
	t.Helper()
	if _, err := s.Exec(context.Background(), "PRAGMA max_page_count = 1073741823"); err != nil {
		t.Fatal(err)
	}
}
