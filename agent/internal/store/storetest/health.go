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
		if lastEnd := ended[len(ended)-1]; a.LastEnded != lastEnd.Status || !a.LastEndedAt.Equal(lastEnd.FinishedAt) {
			t.Errorf("a's last ended = %s at %v, want %s at %v", a.LastEnded, a.LastEndedAt, lastEnd.Status, lastEnd.FinishedAt)
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
	// A run created first may finish last: the last success, failure
	// and ended status are of the runs that finished last, which is what
	// the per-rule metrics alert on, and what a run's finish event says.
	t.Run("LastEndsByFinishNotCreation", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		at := func(h, m int) time.Time { return time.Date(2026, 12, 1, h, m, 0, 0, time.UTC) }
		start := func(h int) store.Run {
			in := newRun("o")
			in.StartedAt = at(h, 0)
			return create(t, s, in)
		}
		end := func(r store.Run, st api.RunStatus, when time.Time) {
			_, err := s.RunFinish(t.Context(), store.RunFinishParams{ID: r.ID, Status: st, FinishedAt: when})
			must(t, err, "finish run")
		}
		check := func(what string, success, failure time.Time, last api.RunStatus, lastAt time.Time, lastRun string) {
			t.Helper()
			got, err := s.RuleHealthList(t.Context(), []string{"o"})
			must(t, err, "RuleHealthList")
			h := got["o"]
			if !h.LastSuccess.Equal(success) || !h.LastFailure.Equal(failure) || h.LastEnded != last || !h.LastEndedAt.Equal(lastAt) {
				t.Errorf("%s: last success %v, failure %v, ended %s at %v; want %v, %v, %s at %v",
					what, h.LastSuccess, h.LastFailure, h.LastEnded, h.LastEndedAt, success, failure, last, lastAt)
			}
			if h.LastRun == nil || h.LastRun.ID != lastRun {
				t.Errorf("%s: last run %+v, want the newest created, %s", what, h.LastRun, lastRun)
			}
		}
		a, b := start(10), start(11)
		end(b, api.StatusSucceeded, at(11, 1))
		end(a, api.StatusFailed, at(12, 0))
		check("a created 10:00 failed at 12:00, b created 11:00 succeeded at 11:01", at(11, 1), at(12, 0), api.StatusFailed, at(12, 0), b.ID)
		c, d := start(12), start(13)
		end(d, api.StatusSucceeded, at(13, 10))
		end(c, api.StatusSucceeded, at(13, 30))
		check("then c created 12:00 succeeded at 13:30, d created 13:00 at 13:10", at(13, 30), at(12, 0), api.StatusSucceeded, at(13, 30), d.ID)
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
