package sqlite_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// TestManyWritersNeverBusy runs what a busy agent does from many goroutines at
// once, writes and reads mixed: none may fail with SQLITE_BUSY, because all
// writes queue on the one writer connection.
func TestManyWritersNeverBusy(t *testing.T) {
	t.Parallel()
	s := open(t)
	defer s.Close()
	ctx := t.Context()
	const goroutines, rounds = 32, 15
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range rounds {
				r, _, err := s.RunCreate(ctx, store.RunCreateParams{
					Run:          store.Run{Rule: fmt.Sprint("rule-", g%4), Job: "demo", EventID: fmt.Sprint(g, "-", i)},
					SkipIfActive: true,
				})
				if err == nil && r.Status == api.StatusRunning {
					err = s.RunLogAppend(ctx, r.ID, []store.LogLine{{Level: "info", Message: "a"}, {Level: "info", Message: "b"}})
					if err == nil {
						err = s.RunSetProgress(ctx, r.ID, api.Progress{Percent: 50})
					}
					if err == nil {
						_, err = s.RunFinish(ctx, store.RunFinishParams{ID: r.ID, Status: api.StatusSucceeded})
					}
				}
				if err == nil {
					_, _, err = s.RunList(ctx, store.RunFilter{Limit: 10})
				}
				if err == nil {
					err = s.AuditAppend(ctx, store.AuditEntry{Actor: "test", Action: "run.create", Target: r.ID})
				}
				if err != nil {
					t.Errorf("goroutine %d round %d: %v", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	runs, _, err := s.RunList(ctx, store.RunFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != goroutines*rounds {
		t.Fatalf("%d runs stored, want %d", len(runs), goroutines*rounds)
	}
}
