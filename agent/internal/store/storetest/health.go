package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

func testRuleHealth(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("WindowLastTimesAndLastRun", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		base := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
		// Rule a: 25 runs that ended, one skipped and one missed fire
		// between them, then one still running.
		cycle := []api.RunStatus{api.StatusSucceeded, api.StatusFailed, api.StatusSucceeded, api.StatusCancelled, api.StatusInterrupted}
		var ended []store.HealthRun
		var lastSuccess, lastFailure time.Time
		for i := range 25 {
			in := newRun("a")
			in.StartedAt = base.Add(time.Duration(i) * time.Minute)
			r := create(t, s, in)
			st := cycle[i%len(cycle)]
			end := in.StartedAt.Add(time.Duration(i+1) * time.Second)
			f, err := s.RunFinish(t.Context(), store.RunFinishParams{ID: r.ID, Status: st, FinishedAt: end})
			must(t, err, "finish run")
			ended = append(ended, store.HealthRun{ID: f.ID, Status: st, StartedAt: stored(in.StartedAt), FinishedAt: stored(end)})
			switch st {
			case api.StatusSucceeded:
				lastSuccess = stored(end)
			case api.StatusFailed:
				lastFailure = stored(end)
			}
			if i == 22 {
				for _, st := range []api.RunStatus{api.StatusSkipped, api.StatusMissed} {
					sk := newRun("a")
					sk.Status = st
					create(t, s, sk)
				}
			}
		}
		running := create(t, s, newRun("a"))
		// Rule b: failures only; rule c: one of another rule's runs is not its.
		for range 3 {
			finish(t, s, create(t, s, newRun("b")).ID, api.StatusFailed)
		}

		got, err := s.RuleHealthList(t.Context(), []string{"a", "b", "none", "a"})
		must(t, err, "RuleHealthList")
		if len(got) != 3 {
			t.Fatalf("RuleHealthList answered %d rules, want a, b and none: %v", len(got), got)
		}
		a := got["a"]
		if a.LastRun == nil || a.LastRun.ID != running.ID || a.LastRun.Status != api.StatusRunning {
			t.Errorf("a's last run = %+v, want the running run %s", a.LastRun, running.ID)
		}
		if !a.LastSuccess.Equal(lastSuccess) || !a.LastFailure.Equal(lastFailure) {
			t.Errorf("a's last success/failure = %v/%v, want %v/%v", a.LastSuccess, a.LastFailure, lastSuccess, lastFailure)
		}
		want := ended[len(ended)-api.HealthWindow:]
		if !slices.Equal(a.Recent, want) {
			t.Errorf("a's recent runs (oldest first, the last %d that ended):\n got %+v\nwant %+v", api.HealthWindow, a.Recent, want)
		}
		if d := a.Recent[len(a.Recent)-1].Duration(); d != 25*time.Second {
			t.Errorf("the last run's duration = %v, want 25s", d)
		}
		b := got["b"]
		if !b.LastSuccess.IsZero() || b.LastFailure.IsZero() || len(b.Recent) != 3 || b.LastRun == nil {
			t.Errorf("b (three failures) = %+v, want no success, a failure, 3 recent and a last run", b)
		}
		if n := got["none"]; n.LastRun != nil || !n.LastSuccess.IsZero() || !n.LastFailure.IsZero() || len(n.Recent) != 0 {
			t.Errorf("a rule without runs = %+v, want zero", n)
		}
	})
	t.Run("NoNames", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		got, err := s.RuleHealthList(t.Context(), nil)
		must(t, err, "RuleHealthList of no rules")
		if len(got) != 0 {
			t.Errorf("RuleHealthList(nil) = %v, want empty", got)
		}
	})
}
