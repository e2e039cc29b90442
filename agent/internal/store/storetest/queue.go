package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// createWith records a run with the given create parameters.
func createWith(t *testing.T, s store.Store, p store.RunCreateParams) store.Run {
	t.Helper()
	got, created, err := s.RunCreate(t.Context(), p)
	must(t, err, "create run")
	if !created {
		t.Fatalf("create run: created = false for a new run")
	}
	return got
}

// claim claims with p and returns the ids claimed.
func claim(t *testing.T, s store.Store, p store.RunClaimParams) []store.Run {
	t.Helper()
	if p.Node == "" {
		p.Node = "claimer"
	}
	runs, err := s.RunClaim(t.Context(), p)
	must(t, err, "claim runs")
	return runs
}

func wantIDs(t *testing.T, got []store.Run, want []string, what string) {
	t.Helper()
	if g := ids(got); !slices.Equal(g, want) {
		t.Fatalf("%s: got %v, want %v", what, g, want)
	}
}

func testQueue(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("QueuedRoundTripAndClaim", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		in := newRun("r")
		in.Status, in.Trigger, in.Attempt, in.RetryOf = api.StatusQueued, api.TriggerRetry, 2, "first"
		in.NotBefore, in.Node, in.StartedAt = oddTime(0), "creator", oddTime(0)
		q := create(t, s, in)
		if q.Status != api.StatusQueued || !q.StartedAt.IsZero() || !q.FinishedAt.IsZero() {
			t.Fatalf("a queued run: status %s started %v finished %v; want queued, neither", q.Status, q.StartedAt, q.FinishedAt)
		}
		if !q.NotBefore.Equal(stored(oddTime(0))) || q.Attempt != 2 || q.RetryOf != "first" {
			t.Fatalf("queued run read back %+v", q)
		}
		wantRun(t, getRun(t, s, q.ID), q, "RunGet of a queued run")
		// Not yet due: nothing to claim.
		wantIDs(t, claim(t, s, store.RunClaimParams{Now: oddTime(-time.Second)}), nil, "claim before NotBefore")
		now := oddTime(time.Second)
		got := claim(t, s, store.RunClaimParams{Node: "n2", Now: now})
		wantIDs(t, got, []string{q.ID}, "claim after NotBefore")
		if r := got[0]; r.Status != api.StatusRunning || r.Node != "n2" || !r.StartedAt.Equal(stored(now)) {
			t.Fatalf("claimed run: status %s node %s started %v; want running on n2 at %v", r.Status, r.Node, r.StartedAt, stored(now))
		}
		wantRun(t, getRun(t, s, q.ID), got[0], "RunGet of the claimed run")
		wantIDs(t, claim(t, s, store.RunClaimParams{Now: now}), nil, "claim again")
		// A claimed run finishes like any other.
		finish(t, s, q.ID, api.StatusSucceeded)
	})
	t.Run("ClaimOrderTriggersAndMax", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		var want []string
		for i, trig := range []api.Trigger{api.TriggerSchedule, api.TriggerManual, api.TriggerRetry, api.TriggerRestart} {
			r := newRun("r" + string(rune('a'+i)))
			r.Status, r.Trigger = api.StatusQueued, trig
			want = append(want, create(t, s, r).ID)
		}
		got := claim(t, s, store.RunClaimParams{Triggers: []api.Trigger{api.TriggerManual, api.TriggerRestart}})
		wantIDs(t, got, []string{want[1], want[3]}, "claim of manual and restart runs only")
		wantIDs(t, claim(t, s, store.RunClaimParams{Max: 1}), want[:1], "claim of one, oldest first")
		wantIDs(t, claim(t, s, store.RunClaimParams{}), want[2:3], "claim of the rest")
	})
	t.Run("QueueIfActive", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		first := createWith(t, s, store.RunCreateParams{Run: newRun("q"), QueueIfActive: true})
		if first.Status != api.StatusRunning || first.Serial {
			t.Fatalf("first run of a queue rule: %s serial %v, want running", first.Status, first.Serial)
		}
		second := createWith(t, s, store.RunCreateParams{Run: newRun("q"), QueueIfActive: true})
		third := createWith(t, s, store.RunCreateParams{Run: newRun("q"), QueueIfActive: true})
		other := createWith(t, s, store.RunCreateParams{Run: newRun("other"), QueueIfActive: true})
		for _, r := range []store.Run{second, third} {
			if r.Status != api.StatusQueued || !r.Serial || !r.StartedAt.IsZero() {
				t.Fatalf("run behind an active one: %s serial %v started %v; want queued, serial", r.Status, r.Serial, r.StartedAt)
			}
		}
		if other.Status != api.StatusRunning {
			t.Fatalf("another rule's run: %s, want running", other.Status)
		}
		wantIDs(t, claim(t, s, store.RunClaimParams{}), nil, "claim while the first runs")
		finish(t, s, first.ID, api.StatusSucceeded)
		wantIDs(t, claim(t, s, store.RunClaimParams{}), []string{second.ID}, "claim after the first finished: the second only")
		wantIDs(t, claim(t, s, store.RunClaimParams{}), nil, "claim while the second runs")
		finish(t, s, second.ID, api.StatusFailed)
		wantIDs(t, claim(t, s, store.RunClaimParams{}), []string{third.ID}, "claim after the second finished")
		// A queued run waits for queued runs of its rule, not only active ones.
		finish(t, s, third.ID, api.StatusSucceeded)
		a := newRun("q")
		a.Status, a.NotBefore = api.StatusQueued, time.Now().Add(time.Hour)
		later := create(t, s, a)
		behind := createWith(t, s, store.RunCreateParams{Run: newRun("q"), QueueIfActive: true})
		if behind.Status != api.StatusQueued {
			t.Fatalf("a run behind a queued one: %s, want queued", behind.Status)
		}
		wantIDs(t, claim(t, s, store.RunClaimParams{}), nil, "claim while an earlier run of the rule waits for its time")
		wantIDs(t, claim(t, s, store.RunClaimParams{Now: time.Now().Add(2 * time.Hour)}), []string{later.ID}, "claim once it is due")
	})
	t.Run("JobLimit", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		limit := func(r store.Run) store.Run {
			return createWith(t, s, store.RunCreateParams{Run: r, JobLimit: 2})
		}
		a, b, c, d := limit(newRun("a")), limit(newRun("b")), limit(newRun("c")), limit(newRun("d"))
		if a.Status != api.StatusRunning || b.Status != api.StatusRunning {
			t.Fatalf("the first two runs of a job limited to 2: %s, %s; want running", a.Status, b.Status)
		}
		if c.Status != api.StatusQueued || d.Status != api.StatusQueued || c.Serial {
			t.Fatalf("runs beyond the limit: %s, %s (serial %v); want queued, not serial", c.Status, d.Status, c.Serial)
		}
		other := newRun("x")
		other.Job = "other"
		if o := limit(other); o.Status != api.StatusRunning {
			t.Fatalf("another job's run: %s, want running", o.Status)
		}
		limits := map[string]int{"demo": 2}
		wantIDs(t, claim(t, s, store.RunClaimParams{JobLimits: limits}), nil, "claim at the limit")
		wantIDs(t, claim(t, s, store.RunClaimParams{JobLimits: map[string]int{"demo": 3}}), []string{c.ID}, "claim with a limit of 3")
		finish(t, s, a.ID, api.StatusSucceeded)
		finish(t, s, b.ID, api.StatusSucceeded)
		// Room for one (c runs), but d waits in line: a new run queues behind it.
		e := limit(newRun("e"))
		if e.Status != api.StatusQueued {
			t.Fatalf("a run while an earlier one of the job is queued: %s, want queued (first come, first served)", e.Status)
		}
		wantIDs(t, claim(t, s, store.RunClaimParams{JobLimits: limits}), []string{d.ID}, "claim with one slot free: the oldest")
		// Runs interrupted (their agent died) free their slots.
		if _, err := s.RunInterruptActive(t.Context(), "", "gone", time.Time{}); err != nil {
			t.Fatal(err)
		}
		wantIDs(t, claim(t, s, store.RunClaimParams{JobLimits: limits}), []string{e.ID}, "claim after the active runs were interrupted")
	})
	t.Run("CancelQueued", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		r := newRun("r")
		r.Status = api.StatusQueued
		q := create(t, s, r)
		got, err := s.RunSetCancelling(t.Context(), q.ID, "alice", "not today")
		must(t, err, "cancel a queued run")
		if got.Status != api.StatusCancelled || got.FinishedAt.IsZero() || got.CancelledBy != "alice" ||
			got.CancelReason != "not today" || got.Error == "" || !got.StartedAt.IsZero() {
			t.Fatalf("a queued run cancelled: %+v; want cancelled at once, by alice, never started", got)
		}
		wantRun(t, getRun(t, s, q.ID), got, "RunGet of the cancelled queued run")
		wantIDs(t, claim(t, s, store.RunClaimParams{}), nil, "claim after the cancel")
		_, err = s.RunSetCancelling(t.Context(), q.ID, "bob", "")
		wantErr(t, err, store.ErrConflict, "cancel it again")
		// Pruning leaves queued runs alone.
		r2 := newRun("r")
		r2.Status, r2.CreatedAt = api.StatusQueued, time.Now().Add(-time.Hour)
		waiting := create(t, s, r2)
		_, err = s.RunPrune(t.Context(), time.Now().Add(time.Minute))
		must(t, err, "prune")
		if got := getRun(t, s, waiting.ID); got.Status != api.StatusQueued {
			t.Fatalf("queued run after a prune: %s", got.Status)
		}
	})
	t.Run("FinishThenAndSeries", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		first := create(t, s, newRun("r"))
		retry := store.Run{Rule: "r", Job: "demo", Status: api.StatusQueued, Trigger: api.TriggerRetry, Attempt: 2,
			RetryOf: first.ID, NotBefore: time.Now().Add(time.Minute), Parameters: map[string]string{"duration": "1s"}}
		done, err := s.RunFinish(t.Context(), store.RunFinishParams{ID: first.ID, Status: api.StatusFailed, Error: "boom", Then: &retry})
		must(t, err, "finish with a retry")
		if done.Status != api.StatusFailed {
			t.Fatalf("finished run: %s", done.Status)
		}
		if retry.ID == "" {
			t.Fatalf("the retry's id is not set on Then")
		}
		got := getRun(t, s, retry.ID)
		if got.Status != api.StatusQueued || got.Attempt != 2 || got.RetryOf != first.ID || got.Trigger != api.TriggerRetry {
			t.Fatalf("the retry as stored: %+v", got)
		}
		// A refused finish creates nothing.
		again := store.Run{Rule: "r", Job: "demo", Status: api.StatusQueued, Trigger: api.TriggerRetry, Attempt: 2, RetryOf: first.ID}
		_, err = s.RunFinish(t.Context(), store.RunFinishParams{ID: first.ID, Status: api.StatusFailed, Then: &again})
		wantErr(t, err, store.ErrConflict, "finish a finished run with a retry")
		create(t, s, newRun("r")) // not of the series
		series := listAll(t, s, store.RunFilter{Series: first.ID})
		if g := sortedIDs(series); !slices.Equal(g, sortedIDs([]store.Run{first, got})) {
			t.Fatalf("series of %s: %v, want the first run and its retry only (the refused one was not created)", first.ID, g)
		}
	})
}
