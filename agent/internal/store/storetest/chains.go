package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// chainedRun is a run a chain of parent's starts.
func chainedRun(parent store.Run, rule string, i int) store.Run {
	return store.Run{Rule: rule, Job: "demo", Trigger: api.TriggerChain, ParentRun: parent.ID, ChainDepth: parent.ChainDepth + 1,
		EventID: "chain:" + parent.ID + ":" + string(rune('0'+i)), TriggeredBy: "chain:" + parent.Rule,
		Parameters: map[string]string{"duration": "1s"}}
}

func testChains(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("FinishCreatesTheChainedRuns", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		parent := create(t, s, newRun("a"))
		queued, failed := chainedRun(parent, "b", 0), chainedRun(parent, "c", 1)
		failed.Status, failed.Error = api.StatusFailed, "${output.file}: the parent run's output has no field \"file\""
		p := store.RunFinishParams{ID: parent.ID, Status: api.StatusSucceeded, Output: []byte(`{"n":1}`), Chained: []store.Run{queued, failed}}
		_, err := s.RunFinish(t.Context(), p)
		must(t, err, "finish with chained runs")
		if p.Chained[0].ID == "" || p.Chained[1].ID == "" {
			t.Fatalf("the chained runs' ids are not set: %+v", p.Chained)
		}
		got := getRun(t, s, p.Chained[0].ID)
		if got.Status != api.StatusQueued || got.Trigger != api.TriggerChain || got.ParentRun != parent.ID || got.ChainDepth != 1 ||
			got.EventID != queued.EventID || !got.StartedAt.IsZero() || !got.FinishedAt.IsZero() {
			t.Fatalf("the queued chained run as stored: %+v", got)
		}
		got = getRun(t, s, p.Chained[1].ID)
		if got.Status != api.StatusFailed || got.Error != failed.Error || got.FinishedAt.IsZero() || !got.StartedAt.IsZero() {
			t.Fatalf("the chained run that could not be made, as stored: %+v", got)
		}
		children := listAll(t, s, store.RunFilter{Parent: parent.ID})
		if g := sortedIDs(children); !slices.Equal(g, sortedIDs(p.Chained)) {
			t.Fatalf("runs of parent %s: %v, want the two chained ones", parent.ID, g)
		}
		// The finish of a finished run is refused, and makes no chained run.
		again := []store.Run{chainedRun(parent, "b", 0)}
		_, err = s.RunFinish(t.Context(), store.RunFinishParams{ID: parent.ID, Status: api.StatusSucceeded, Chained: again})
		wantErr(t, err, store.ErrConflict, "finish a finished run with chained runs")
		if n := len(listAll(t, s, store.RunFilter{Parent: parent.ID})); n != 2 {
			t.Fatalf("runs of the parent after a refused finish: %d, want still 2", n)
		}
		if n := len(listAll(t, s, store.RunFilter{Rule: "b"})); n != 1 {
			t.Fatalf("runs of rule b: %d, want 1", n)
		}
	})
	t.Run("NoChainedRunsWhenARetryFollows", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		first := create(t, s, newRun("a"))
		retry := store.Run{Rule: "a", Job: "demo", Status: api.StatusQueued, Trigger: api.TriggerRetry, Attempt: 2,
			RetryOf: first.ID, NotBefore: time.Now().Add(time.Minute)}
		p := store.RunFinishParams{ID: first.ID, Status: api.StatusFailed, Then: &retry, Chained: []store.Run{chainedRun(first, "b", 0)}}
		_, err := s.RunFinish(t.Context(), p)
		must(t, err, "finish with a retry and chained runs")
		if got := getRun(t, s, retry.ID); got.Status != api.StatusQueued {
			t.Fatalf("the retry: %+v", got)
		}
		if got := listAll(t, s, store.RunFilter{Parent: first.ID}); len(got) != 0 {
			t.Fatalf("chained runs made though a retry follows: %+v", got)
		}
		if got := listAll(t, s, store.RunFilter{Rule: "b"}); len(got) != 0 {
			t.Fatalf("runs of rule b though a retry follows: %+v", got)
		}
	})
	t.Run("ChainedRunsWhenTheRetryDoesNotFollow", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		first := create(t, s, newRun("a"))
		// An operator asked to cancel it: the retry ends there, the chains fire.
		_, err := s.RunSetCancelling(t.Context(), first.ID, "alice", "")
		must(t, err, "cancel")
		retry := store.Run{Rule: "a", Job: "demo", Status: api.StatusQueued, Trigger: api.TriggerRetry, Attempt: 2, RetryOf: first.ID}
		p := store.RunFinishParams{ID: first.ID, Status: api.StatusFailed, Then: &retry, Chained: []store.Run{chainedRun(first, "b", 0)}}
		_, err = s.RunFinish(t.Context(), p)
		must(t, err, "finish")
		if got := listAll(t, s, store.RunFilter{Parent: first.ID}); len(got) != 1 {
			t.Fatalf("chained runs after a finish no retry follows: %d, want 1", len(got))
		}
	})
}
