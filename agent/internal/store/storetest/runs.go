package storetest

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

func wantRun(t *testing.T, got, want store.Run, what string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func getRun(t *testing.T, s store.Store, id string) store.Run {
	t.Helper()
	r, err := s.RunGet(t.Context(), id)
	must(t, err, "get run "+id)
	return r
}

func testRuns(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("CreateDefaults", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		before := time.Now().Add(-time.Second)
		r := create(t, s, store.Run{Rule: "r", Job: "demo"})
		id, err := uuid.Parse(r.ID)
		if err != nil || id.Version() != 7 {
			t.Errorf("generated id %q is not a UUIDv7 (%v)", r.ID, err)
		}
		if r.Status != api.StatusRunning {
			t.Errorf("status defaults to running, got %q", r.Status)
		}
		if r.CreatedAt.Before(before) || r.CreatedAt.After(time.Now()) {
			t.Errorf("CreatedAt defaults to now, got %v", r.CreatedAt)
		}
		if !r.StartedAt.Equal(r.CreatedAt) || !r.FinishedAt.IsZero() {
			t.Errorf("a running run starts when created and has not finished: got started %v finished %v", r.StartedAt, r.FinishedAt)
		}
		if r.Parameters == nil {
			t.Errorf("parameters read back as nil, want an empty map")
		}
		wantRun(t, getRun(t, s, r.ID), r, "RunGet after RunCreate")
	})
	t.Run("CreateRoundTrip", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		in := store.Run{
			ID: "0190d1a8-0000-7000-8000-000000000001", Rule: "nightly", Job: "sql", Status: api.StatusRunning,
			Trigger: api.TriggerRestart, Parameters: map[string]string{"table": "demo_orders", "by": "2", "secret": api.MaskedValue, "q": `"ü\n"`},
			EventID: "ev-1", RestartOf: "0190d1a8-0000-7000-8000-000000000000", TriggeredBy: "ops",
			Node: "node-a", ScheduledAt: oddTime(-time.Minute), CreatedAt: oddTime(0), StartedAt: oddTime(time.Second),
			Progress: api.Progress{Percent: 3, Message: "warming up"},
			Attempt:  3, RetryOf: "0190d1a8-0000-7000-8000-0000000000ff", WarnAfter: 90 * time.Second,
		}
		want := in
		want.ScheduledAt, want.CreatedAt, want.StartedAt = stored(in.ScheduledAt), stored(in.CreatedAt), stored(in.StartedAt)
		got := create(t, s, in)
		wantRun(t, got, want, "RunCreate's answer")
		wantRun(t, getRun(t, s, in.ID), want, "RunGet after RunCreate")
	})
	t.Run("FiresBetween", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		base := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
		for i, rule := range []string{"a", "b", "a", "c"} {
			in := newRun(rule)
			in.ScheduledAt = base.Add(time.Duration(i) * time.Minute)
			if rule == "c" {
				in.Status, in.Error = api.StatusSkipped, "skipped: the rule is disabled"
			}
			create(t, s, in)
		}
		create(t, s, newRun("manual")) // no fire time: not a fire
		got, err := s.RunFiresBetween(t.Context(), base.Add(time.Minute), base.Add(4*time.Minute))
		must(t, err, "list fires")
		want := []store.FireSeen{
			{Rule: "b", ScheduledAt: base.Add(time.Minute), Status: api.StatusRunning},
			{Rule: "a", ScheduledAt: base.Add(2 * time.Minute), Status: api.StatusRunning},
			{Rule: "c", ScheduledAt: base.Add(3 * time.Minute), Status: api.StatusSkipped},
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fires in [10:01, 10:04):\n got %+v\nwant %+v", got, want)
		}
	})
	t.Run("CreateSkippedByCaller", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		in := newRun("r")
		in.Status, in.Error = api.StatusSkipped, "skipped: the rule is disabled"
		r := create(t, s, in)
		if r.Status != api.StatusSkipped || !r.StartedAt.IsZero() || !r.FinishedAt.Equal(r.CreatedAt) || r.Error != in.Error {
			t.Fatalf("a skipped run never starts and finishes when created: got %+v", r)
		}
		wantRun(t, getRun(t, s, r.ID), r, "RunGet of a skipped run")
	})
	t.Run("CreateMissedByCaller", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		in := newRun("r")
		in.ScheduledAt = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
		in.EventID = "missed:r:2026-12-02T10:00:00Z"
		in.Status, in.Error = api.StatusMissed, "missed: expected a fire at 2026-12-02T10:00:00Z (grace 2m0s); nothing arrived"
		r := create(t, s, in)
		if r.Status != api.StatusMissed || !r.StartedAt.IsZero() || !r.FinishedAt.Equal(r.CreatedAt) || r.Error != in.Error {
			t.Fatalf("a missed run never starts and finishes when created: got %+v", r)
		}
		wantRun(t, getRun(t, s, r.ID), r, "RunGet of a missed run")
		// Two agents recording the same missed fire make one run.
		again, created, err := s.RunCreate(t.Context(), store.RunCreateParams{Run: in})
		must(t, err, "record the missed fire again")
		if created || again.ID != r.ID {
			t.Fatalf("the same missed fire recorded twice: created %v, run %s, first %s", created, again.ID, r.ID)
		}
	})
	t.Run("CreateRejectsFinalStatus", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		in := newRun("r")
		in.Status = api.StatusSucceeded
		if _, _, err := s.RunCreate(t.Context(), store.RunCreateParams{Run: in}); err == nil {
			t.Fatalf("creating a run that has succeeded already: no error")
		}
	})
	t.Run("GetMissing", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		_, err := s.RunGet(t.Context(), "0190d1a8-0000-7000-8000-00000000dead")
		wantErr(t, err, store.ErrNotFound, "get a missing run")
	})
	t.Run("CountByStatus", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		create(t, s, newRun("a"))
		create(t, s, newRun("a"))
		finish(t, s, create(t, s, newRun("a")).ID, api.StatusFailed)
		counts, err := s.RunCountByStatus(t.Context(), store.RunFilter{})
		must(t, err, "count runs")
		if counts[api.StatusRunning] != 2 || counts[api.StatusFailed] != 1 || counts[api.StatusSucceeded] != 0 {
			t.Fatalf("counts: got %v, want 2 running and 1 failed", counts)
		}
	})
	t.Run("CountByStatusFiltered", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		now := time.Now()
		old := newRun("a")
		old.CreatedAt = now.Add(-48 * time.Hour)
		finish(t, s, create(t, s, old).ID, api.StatusFailed)
		finish(t, s, create(t, s, newRun("a")).ID, api.StatusFailed)
		create(t, s, newRun("a"))
		other := newRun("b")
		other.Job = "other"
		create(t, s, other)
		for _, c := range []struct {
			name string
			f    store.RunFilter
			want map[api.RunStatus]int64
		}{
			{"rule", store.RunFilter{Rule: "a"}, map[api.RunStatus]int64{api.StatusFailed: 2, api.StatusRunning: 1}},
			{"rule and since", store.RunFilter{Rule: "a", Since: now.Add(-time.Hour)}, map[api.RunStatus]int64{api.StatusFailed: 1, api.StatusRunning: 1}},
			{"job", store.RunFilter{Job: "other"}, map[api.RunStatus]int64{api.StatusRunning: 1}},
			{"statuses", store.RunFilter{Statuses: []api.RunStatus{api.StatusFailed}}, map[api.RunStatus]int64{api.StatusFailed: 2}},
			{"nothing", store.RunFilter{Rule: "none"}, map[api.RunStatus]int64{}},
			// A page's limit and cursor do not change a count.
			{"limit and cursor", store.RunFilter{Rule: "a", Limit: 1, Cursor: "0"}, map[api.RunStatus]int64{api.StatusFailed: 2, api.StatusRunning: 1}},
		} {
			counts, err := s.RunCountByStatus(t.Context(), c.f)
			must(t, err, "count runs by "+c.name)
			for _, st := range api.RunStatuses {
				if counts[st] != c.want[st] {
					t.Errorf("count by %s: got %v, want %v (every status present)", c.name, counts, c.want)
					break
				}
				if _, ok := counts[st]; !ok {
					t.Errorf("count by %s: status %s missing from %v", c.name, st, counts)
				}
			}
		}
	})
	t.Run("Prune", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		now := time.Now()
		old := func(status api.RunStatus, event string) store.Run {
			r := newRun("r")
			r.CreatedAt, r.EventID = now.Add(-48*time.Hour), event
			r = create(t, s, r)
			must(t, s.RunLogAppend(ctx, r.ID, []store.LogLine{{Level: "info", Message: "old"}}), "append log")
			if status.Terminal() {
				finish(t, s, r.ID, status)
			}
			return r
		}
		oldDone := old(api.StatusSucceeded, "ev-old")
		oldFailed := old(api.StatusFailed, "")
		oldActive := old(api.StatusRunning, "ev-active")
		recent := create(t, s, newRun("r"))
		finish(t, s, recent.ID, api.StatusSucceeded)

		n, err := s.RunPrune(ctx, now.Add(-24*time.Hour))
		must(t, err, "prune")
		if n != 2 {
			t.Fatalf("prune: %d runs deleted, want the 2 old finished ones", n)
		}
		for _, id := range []string{oldDone.ID, oldFailed.ID} {
			_, err := s.RunGet(ctx, id)
			wantErr(t, err, store.ErrNotFound, "get a pruned run")
			lines, err := s.RunLogList(ctx, id, 0, 0)
			must(t, err, "list log of a pruned run")
			if len(lines) != 0 {
				t.Fatalf("a pruned run kept %d log lines", len(lines))
			}
		}
		getRun(t, s, oldActive.ID)
		getRun(t, s, recent.ID)
		// The delivery record went with the run: the event id is new again.
		again := newRun("r")
		again.EventID = "ev-old"
		if _, created, err := s.RunCreate(ctx, store.RunCreateParams{Run: again}); err != nil || !created {
			t.Fatalf("event id of a pruned run: created=%v err=%v, want a new run", created, err)
		}
		// The active run's delivery record stays.
		dup := newRun("r")
		dup.EventID = "ev-active"
		if r, created, err := s.RunCreate(ctx, store.RunCreateParams{Run: dup}); err != nil || created || r.ID != oldActive.ID {
			t.Fatalf("event id of a kept run: got %s created=%v err=%v, want %s", r.ID, created, err, oldActive.ID)
		}
	})
}

func testRunTransitions(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("Cancelling", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		r := create(t, s, newRun("r"))
		got, err := s.RunSetCancelling(ctx, r.ID, "ops", "deploy")
		must(t, err, "cancel")
		want := r
		want.Status, want.CancelledBy, want.CancelReason = api.StatusCancelling, "ops", "deploy"
		wantRun(t, got, want, "RunSetCancelling's answer")
		wantRun(t, getRun(t, s, r.ID), want, "run after RunSetCancelling")

		got, err = s.RunSetCancelling(ctx, r.ID, "someone-else", "again")
		must(t, err, "cancel a cancelling run")
		wantRun(t, got, want, "cancelling a cancelling run changes nothing")

		finish(t, s, r.ID, api.StatusCancelled)
		_, err = s.RunSetCancelling(ctx, r.ID, "ops", "late")
		wantErr(t, err, store.ErrConflict, "cancel a finished run")
		_, err = s.RunSetCancelling(ctx, "0190d1a8-0000-7000-8000-00000000dead", "ops", "")
		wantErr(t, err, store.ErrNotFound, "cancel a missing run")
	})
	t.Run("Progress", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		r := create(t, s, newRun("r"))
		p := api.Progress{Percent: 42, Message: "halfway-ish"}
		must(t, s.RunSetProgress(ctx, r.ID, p), "set progress")
		if got := getRun(t, s, r.ID).Progress; got != p {
			t.Fatalf("progress: got %+v, want %+v", got, p)
		}
		_, err := s.RunSetCancelling(ctx, r.ID, "ops", "")
		must(t, err, "cancel")
		must(t, s.RunSetProgress(ctx, r.ID, api.Progress{Percent: 50}), "set progress of a cancelling run")
		finish(t, s, r.ID, api.StatusCancelled)
		wantErr(t, s.RunSetProgress(ctx, r.ID, p), store.ErrConflict, "set progress of a finished run")
		wantErr(t, s.RunSetProgress(ctx, "0190d1a8-0000-7000-8000-00000000dead", p), store.ErrNotFound, "set progress of a missing run")
	})
	t.Run("Finish", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		r := create(t, s, newRun("r"))
		at := oddTime(time.Hour)
		got, err := s.RunFinish(ctx, store.RunFinishParams{ID: r.ID, Status: api.StatusFailed, Error: "boom", FinishedAt: at})
		must(t, err, "finish")
		want := r
		want.Status, want.Error, want.FinishedAt = api.StatusFailed, "boom", stored(at)
		wantRun(t, got, want, "RunFinish's answer")
		wantRun(t, getRun(t, s, r.ID), want, "run after RunFinish")

		_, err = s.RunFinish(ctx, store.RunFinishParams{ID: r.ID, Status: api.StatusSucceeded})
		wantErr(t, err, store.ErrConflict, "finish a run twice")
		wantRun(t, getRun(t, s, r.ID), want, "a second finish changes nothing")
		_, err = s.RunFinish(ctx, store.RunFinishParams{ID: "0190d1a8-0000-7000-8000-00000000dead", Status: api.StatusFailed})
		wantErr(t, err, store.ErrNotFound, "finish a missing run")

		r2 := create(t, s, newRun("r"))
		if _, err := s.RunFinish(ctx, store.RunFinishParams{ID: r2.ID, Status: api.StatusRunning}); err == nil {
			t.Fatalf("finish with status running: no error")
		}
		before := time.Now().Add(-time.Second)
		got = finish(t, s, r2.ID, api.StatusSucceeded)
		if got.FinishedAt.Before(before) || got.FinishedAt.After(time.Now()) {
			t.Fatalf("FinishedAt defaults to now, got %v", got.FinishedAt)
		}
	})
	t.Run("FinishRecordsWhoCancelledOnce", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		// A timeout recorded at finish.
		r := create(t, s, newRun("r"))
		got, err := s.RunFinish(ctx, store.RunFinishParams{ID: r.ID, Status: api.StatusFailed, Error: "timed out", CancelledBy: "timeout", CancelReason: "30m"})
		must(t, err, "finish with a canceller")
		if got.CancelledBy != "timeout" || got.CancelReason != "30m" {
			t.Fatalf("finish recorded cancelledBy %q reason %q, want timeout 30m", got.CancelledBy, got.CancelReason)
		}
		// An operator's cancel recorded before is not overwritten.
		r2 := create(t, s, newRun("r"))
		_, err = s.RunSetCancelling(ctx, r2.ID, "alice", "wrong day")
		must(t, err, "set cancelling")
		got, err = s.RunFinish(ctx, store.RunFinishParams{ID: r2.ID, Status: api.StatusCancelled, CancelledBy: "agent n1", CancelReason: "shutdown"})
		must(t, err, "finish a cancelling run")
		if got.CancelledBy != "alice" || got.CancelReason != "wrong day" {
			t.Fatalf("finish overwrote the operator's cancel: %q %q", got.CancelledBy, got.CancelReason)
		}
	})
	t.Run("FinishReplacesAPresumedInterruption", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		// Another agent took the run's agent for dead; it was not, and
		// records how the run really ended.
		nr := newRun("r")
		nr.Node = "n1"
		r := create(t, s, nr)
		swept, err := s.RunInterruptActive(ctx, "n1", "interrupted: agent presumed dead", time.Time{})
		must(t, err, "interrupt")
		if len(swept) != 1 || swept[0].Status != api.StatusInterrupted {
			t.Fatalf("interrupt: got %+v, want the run interrupted", swept)
		}
		p := api.Progress{Percent: 100, Message: "done"}
		must(t, s.RunSetProgress(ctx, r.ID, p), "set progress of a run presumed interrupted")
		at := oddTime(time.Minute)
		got, err := s.RunFinish(ctx, store.RunFinishParams{ID: r.ID, Status: api.StatusSucceeded, FinishedAt: at})
		must(t, err, "finish a run presumed interrupted")
		if got.Status != api.StatusSucceeded || got.Error != "" || got.FinishedAt != stored(at) || got.Progress != p {
			t.Fatalf("finish of a run presumed interrupted: got %+v, want succeeded with no error and its progress, finished at %v", got, stored(at))
		}
		wantRun(t, getRun(t, s, r.ID), got, "run after its real outcome")
		_, err = s.RunFinish(ctx, store.RunFinishParams{ID: r.ID, Status: api.StatusFailed})
		wantErr(t, err, store.ErrConflict, "finish again once the real outcome is in")
		wantErr(t, s.RunSetProgress(ctx, r.ID, p), store.ErrConflict, "set progress once the real outcome is in")

		// An interruption the run's own agent recorded is final.
		r2 := create(t, s, newRun("r"))
		_, err = s.RunFinish(ctx, store.RunFinishParams{ID: r2.ID, Status: api.StatusInterrupted, Error: "interrupted: shutdown grace over"})
		must(t, err, "finish as interrupted")
		_, err = s.RunFinish(ctx, store.RunFinishParams{ID: r2.ID, Status: api.StatusCancelled})
		wantErr(t, err, store.ErrConflict, "finish a run its own agent recorded interrupted")
		if st := getRun(t, s, r2.ID).Status; st != api.StatusInterrupted {
			t.Fatalf("a run its agent recorded interrupted became %s", st)
		}
	})
	t.Run("InterruptActive", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		on := func(node string) store.Run {
			r := newRun("r")
			r.Node = node
			return create(t, s, r)
		}
		a1, a2, b1, aDone := on("a"), on("a"), on("b"), on("a")
		_, err := s.RunSetCancelling(ctx, a2.ID, "ops", "")
		must(t, err, "cancel")
		aDone = finish(t, s, aDone.ID, api.StatusSucceeded)

		at := oddTime(0)
		got, err := s.RunInterruptActive(ctx, "a", "agent stopped", at)
		must(t, err, "interrupt node a")
		if gotIDs := sortedIDs(got); !reflect.DeepEqual(gotIDs, sortedIDs([]store.Run{a1, a2})) {
			t.Fatalf("interrupt node a: got runs %v, want %v", gotIDs, sortedIDs([]store.Run{a1, a2}))
		}
		for _, r := range got {
			wantRun(t, r, getRun(t, s, r.ID), "returned interrupted run")
			if r.Status != api.StatusInterrupted || r.Error != "agent stopped" || r.FinishedAt != stored(at) {
				t.Fatalf("interrupted run: got %+v", r)
			}
		}
		wantRun(t, getRun(t, s, aDone.ID), aDone, "a finished run is not interrupted")
		if st := getRun(t, s, b1.ID).Status; st != api.StatusRunning {
			t.Fatalf("run on node b: got %s, want running", st)
		}
		got, err = s.RunInterruptActive(ctx, "", "all", time.Time{})
		must(t, err, "interrupt every node")
		if len(got) != 1 || got[0].ID != b1.ID || got[0].FinishedAt.IsZero() {
			t.Fatalf("interrupt every node: got %+v, want run %s finished now", got, b1.ID)
		}
	})
}

func sortedIDs(runs []store.Run) []string {
	out := ids(runs)
	slices.Sort(out)
	return out
}
