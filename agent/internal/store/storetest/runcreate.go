package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

func testRunCreate(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("DuplicateDelivery", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		in := newRun("r")
		in.EventID = "ev-1"
		first := create(t, s, in)
		in.Parameters = map[string]string{"other": "values"}
		got, created, err := s.RunCreate(ctx, store.RunCreateParams{Run: in})
		must(t, err, "create a run for a delivered event id")
		if created {
			t.Fatalf("a repeated event id made a new run")
		}
		wantRun(t, got, first, "a repeated event id answers the first run")
		finish(t, s, first.ID, api.StatusSucceeded)
		if _, created, _ := s.RunCreate(ctx, store.RunCreateParams{Run: in}); created {
			t.Fatalf("a repeated event id made a new run once the first finished")
		}
		in.EventID = "ev-2"
		create(t, s, in)
	})
	t.Run("ConcurrentDuplicateDeliveries", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		const n = 20
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			created int
			runIDs  = map[string]bool{}
		)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				in := newRun("r")
				in.EventID = "ev-same"
				in.Node = fmt.Sprint("node-", i)
				r, c, err := s.RunCreate(t.Context(), store.RunCreateParams{Run: in, SkipIfActive: i%2 == 0})
				if err != nil {
					t.Errorf("delivery %d: %v", i, err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				runIDs[r.ID] = true
				if c {
					created++
				}
			})
		}
		close(start)
		wg.Wait()
		runs, _, err := s.RunList(t.Context(), store.RunFilter{})
		must(t, err, "list runs")
		if created != 1 || len(runIDs) != 1 || len(runs) != 1 {
			t.Fatalf("%d concurrent deliveries of one event: %d created, %d distinct runs answered, %d stored; want 1 each",
				n, created, len(runIDs), len(runs))
		}
		if runs[0].Status != api.StatusRunning {
			t.Fatalf("the one run is %s, want running", runs[0].Status)
		}
	})
	t.Run("SkipIfActive", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		skipping := func(rule string) (store.Run, bool) {
			r, created, err := s.RunCreate(ctx, store.RunCreateParams{Run: newRun(rule), SkipIfActive: true})
			must(t, err, "create with SkipIfActive")
			if !created {
				t.Fatalf("a skipped run is still recorded: created = false")
			}
			return r, r.Status == api.StatusSkipped
		}
		active := create(t, s, newRun("r"))
		r, skipped := skipping("r")
		if !skipped {
			t.Fatalf("a run of a rule with a running run: got %s, want skipped", r.Status)
		}
		if !r.StartedAt.IsZero() || !r.FinishedAt.Equal(r.CreatedAt) ||
			!strings.Contains(r.Error, active.ID) || !strings.Contains(r.Error, "rule r") {
			t.Fatalf("skipped run: got %+v; want never started, finished when created, an error naming run %s and rule r", r, active.ID)
		}
		wantRun(t, getRun(t, s, r.ID), r, "stored skipped run")
		if r, skipped := skipping("other"); skipped {
			t.Fatalf("another rule's run is skipped: %+v", r)
		}
		if _, err := s.RunSetCancelling(ctx, active.ID, "ops", ""); err != nil {
			t.Fatal(err)
		}
		if r, skipped := skipping("r"); !skipped {
			t.Fatalf("a cancelling run is still active, got %s", r.Status)
		}
		create(t, s, newRun("r")) // without SkipIfActive, runs overlap
		if _, err := s.RunInterruptActive(ctx, "", "stop", oddTime(0)); err != nil {
			t.Fatal(err)
		}
		if r, skipped := skipping("r"); skipped {
			t.Fatalf("no run of the rule is active, yet the new one was skipped: %+v", r)
		}
	})
	t.Run("ConcurrentSkipIfActive", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		const n = 12
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			running int
		)
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				in := newRun("r")
				in.EventID = fmt.Sprint("ev-", i)
				r, _, err := s.RunCreate(t.Context(), store.RunCreateParams{Run: in, SkipIfActive: true})
				if err != nil {
					t.Errorf("create %d: %v", i, err)
					return
				}
				if r.Status == api.StatusRunning {
					mu.Lock()
					running++
					mu.Unlock()
				}
			})
		}
		close(start)
		wg.Wait()
		counts, err := s.RunCountByStatus(t.Context(), store.RunFilter{})
		must(t, err, "count runs")
		if running != 1 || counts[api.StatusRunning] != 1 || counts[api.StatusSkipped] != n-1 {
			t.Fatalf("%d concurrent fires with SkipIfActive: %d answered running, stored %v; want 1 running, %d skipped",
				n, running, counts, n-1)
		}
	})
}
