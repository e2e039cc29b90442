package runner_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// watchedStore is a real store that counts what the runner writes, and
// the log appends it refuses.
type watchedStore struct {
	store.Store
	writes      atomic.Int64 // calls of the methods below
	failedLogs  atomic.Int64 // RunLogAppend calls that failed
	otherErrors atomic.Int64 // of those, failed with other than ErrUnavailable
}

func (w *watchedStore) RunLogAppend(ctx context.Context, id string, lines []store.LogLine) error {
	w.writes.Add(1)
	err := w.Store.RunLogAppend(ctx, id, lines)
	if err != nil {
		w.failedLogs.Add(1)
		if !errors.Is(err, store.ErrUnavailable) {
			w.otherErrors.Add(1)
		}
	}
	return err
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
