package runner_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// dispatching is a runner with its dispatcher running, on virtual time
// when called in a synctest bubble.
type dispatching struct {
	store  store.Store
	runner *runner.Runner
	events *events.Broker
	stop   func()
}

func newDispatching(t *testing.T, s store.Store, cfg runner.Config, js ...jobs.Job) *dispatching {
	t.Helper()
	reg := jobs.NewRegistry()
	if err := reg.Register(js...); err != nil {
		t.Fatal(err)
	}
	b := events.NewBroker(0)
	cfg.Store, cfg.Jobs, cfg.Events = s, reg, b
	if cfg.Node == "" {
		cfg.Node = "node-1"
	}
	cfg.RuleCacheTTL = -1
	r, err := runner.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Dispatch(ctx); close(done) }()
	d := &dispatching{store: s, runner: r, events: b}
	var once sync.Once
	d.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer scancel()
			_ = r.Shutdown(sctx)
		})
	}
	t.Cleanup(d.stop)
	return d
}

// eachVirtual runs f on a fresh store of every kind, in a synctest bubble:
// on virtual time.
func eachVirtual(t *testing.T, f func(t *testing.T, s store.Store)) {
	for _, kind := range storetesting.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) { f(t, storetesting.Open(t, kind)) })
		})
	}
}

func createRule(t *testing.T, s store.Store, r store.Rule) store.Rule {
	t.Helper()
	if r.Schedule == "" {
		r.Schedule = "rate(1 hour)"
	}
	r.Enabled = true
	got, err := s.RuleCreate(context.Background(), r)
	if err != nil {
		t.Fatalf("create rule: %v", err)
	}
	return got
}

func series(t *testing.T, s store.Store, id string) []store.Run {
	t.Helper()
	runs, _, err := s.RunList(context.Background(), store.RunFilter{Series: id})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(runs) // oldest first
	return runs
}

func TestRetryBackoff(t *testing.T) {
	p := store.RetryPolicy{Attempts: 10, Backoff: time.Minute, MaxBackoff: 5 * time.Minute, Jitter: 0.5}
	for n, want := range []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute} {
		if got := runner.RetryBackoff(p, n+1, 0); got != want {
			t.Errorf("retry %d without jitter: %v, want %v", n+1, got, want)
		}
		if got := runner.RetryBackoff(p, n+1, 0.999999); got <= want/2 || got > want {
			t.Errorf("retry %d with the most jitter: %v, want in (%v, %v]", n+1, got, want/2, want)
		}
	}
	if got := runner.RetryBackoff(store.RetryPolicy{Attempts: 1}, 3, 0.5); got != 0 {
		t.Errorf("no backoff: %v, want 0", got)
	}
	if got := runner.RetryBackoff(store.RetryPolicy{Backoff: time.Hour}, 200, 0); got <= 0 {
		t.Errorf("a large retry number without a maximum overflows: %v", got)
	}
}

// A run that keeps failing is retried Attempts times, each after its
// backoff (doubling, capped), one series; the backoff's jitter stays in
// its bounds. On virtual time.
func TestRetriesFollowTheBackoffOnVirtualTime(t *testing.T) {
	for _, kind := range storetesting.Kinds {
		t.Run(kind, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := storetesting.Open(t, kind)
				var (
					mu     sync.Mutex
					starts []time.Time
				)
				d := newDispatching(t, s, runner.Config{}, funcJob{id: "flaky", run: func(ctx context.Context, p jobs.Params) error {
					mu.Lock()
					starts = append(starts, time.Now())
					mu.Unlock()
					return errors.New("boom")
				}})
				rule := createRule(t, s, store.Rule{Name: "r", Job: "flaky", Policy: store.RunPolicy{
					Retry: &store.RetryPolicy{Attempts: 3, Backoff: time.Minute, MaxBackoff: 3 * time.Minute}}})
				first, _, err := d.runner.Start(context.Background(), runner.StartParams{Rule: rule, Trigger: api.TriggerManual})
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Hour)
				synctest.Wait()
				mu.Lock()
				got := slices.Clone(starts)
				mu.Unlock()
				var gaps []time.Duration
				for i := 1; i < len(got); i++ {
					gaps = append(gaps, got[i].Sub(got[i-1]))
				}
				if want := []time.Duration{time.Minute, 2 * time.Minute, 3 * time.Minute}; !slices.Equal(gaps, want) {
					t.Fatalf("gaps between attempts: %v, want %v (1 first run, 3 retries)", gaps, want)
				}
				runs := series(t, s, first.ID)
				if len(runs) != 4 {
					t.Fatalf("series of %d runs, want 4", len(runs))
				}
				for i, r := range runs {
					if r.Attempt != i+1 || r.Status != api.StatusFailed || (i > 0 && (r.RetryOf != first.ID || r.Trigger != api.TriggerRetry)) {
						t.Errorf("run %d of the series: attempt %d status %s retryOf %q trigger %s", i, r.Attempt, r.Status, r.RetryOf, r.Trigger)
					}
				}
			})
		})
	}
}

// The jitter takes a random part, up to Jitter, off each backoff, never more.
func TestRetryJitterStaysInItsBounds(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		var (
			mu     sync.Mutex
			starts []time.Time
		)
		d := newDispatching(t, s, runner.Config{}, funcJob{id: "flaky", run: func(ctx context.Context, p jobs.Params) error {
			mu.Lock()
			starts = append(starts, time.Now())
			mu.Unlock()
			return errors.New("boom")
		}})
		rule := createRule(t, s, store.Rule{Name: "r", Job: "flaky", Policy: store.RunPolicy{
			Retry: &store.RetryPolicy{Attempts: 6, Backoff: time.Minute, MaxBackoff: 8 * time.Minute, Jitter: 0.5}}})
		jittered := 0
		for range 5 {
			mu.Lock()
			starts = starts[:0]
			mu.Unlock()
			if _, _, err := d.runner.Start(context.Background(), runner.StartParams{Rule: rule, Trigger: api.TriggerManual}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Hour)
			synctest.Wait()
			mu.Lock()
			got := slices.Clone(starts)
			mu.Unlock()
			if len(got) != 7 {
				t.Fatalf("%d runs, want the first and 6 retries", len(got))
			}
			for i := 1; i < len(got); i++ {
				full := min(time.Minute<<(i-1), 8*time.Minute)
				gap := got[i].Sub(got[i-1])
				if gap < full/2 || gap > full {
					t.Errorf("retry %d came %v after the run before, want in [%v, %v]", i, gap, full/2, full)
				}
				if gap < full {
					jittered++
				}
			}
		}
		if jittered == 0 {
			t.Errorf("no retry of 30 came before its full backoff: no jitter")
		}
	})
}

// gate is a job whose runs block until released, recording their order.
type gate struct {
	mu      sync.Mutex
	started []string // the "n" parameter of each run, in start order
	release chan struct{}
}

func newGate() *gate { return &gate{release: make(chan struct{}, 100)} }

func (g *gate) job(id string) funcJob {
	return funcJob{id: id, params: []jobs.Param{{Name: "n"}}, run: func(ctx context.Context, p jobs.Params) error {
		g.mu.Lock()
		g.started = append(g.started, p["n"])
		g.mu.Unlock()
		select {
		case <-g.release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
}

func (g *gate) order() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.started)
}

func startN(t *testing.T, r *runner.Runner, rule store.Rule, n string) store.Run {
	t.Helper()
	run, _, err := r.Start(context.Background(), runner.StartParams{Rule: rule, Trigger: api.TriggerManual, Overrides: map[string]string{"n": n}})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// A rule with overlap "queue" runs its runs one after the other, in the
// order they came; a queued run cancelled never runs.
func TestOverlapQueueRunsInOrderAndCancelledNeverRuns(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		g := newGate()
		d := newDispatching(t, s, runner.Config{}, g.job("g"))
		_, evs, _, cancel := d.events.Subscribe(0)
		defer cancel()
		rule := createRule(t, s, store.Rule{Name: "q", Job: "g", Overlap: api.OverlapQueue})
		runs := []store.Run{startN(t, d.runner, rule, "1"), startN(t, d.runner, rule, "2"), startN(t, d.runner, rule, "3"), startN(t, d.runner, rule, "4")}
		for i, r := range runs {
			want := api.StatusQueued
			if i == 0 {
				want = api.StatusRunning
			}
			if r.Status != want {
				t.Fatalf("run %d: %s, want %s", i+1, r.Status, want)
			}
		}
		queuedEvents := 0
		for len(evs) > 0 {
			if e := <-evs; e.Type == api.EventRunQueued {
				queuedEvents++
			}
		}
		if queuedEvents != 3 {
			t.Errorf("%d run.queued events, want 3", queuedEvents)
		}
		got, err := d.runner.Cancel(context.Background(), runs[2].ID, "alice", "not this one")
		if err != nil || got.Status != api.StatusCancelled {
			t.Fatalf("cancel a queued run: %s, %v; want cancelled at once", got.Status, err)
		}
		for i, want := range []int{2, 3, 3} {
			synctest.Wait()
			g.release <- struct{}{}
			// The next starts when the one before ends, at once: the
			// dispatcher is woken, not left to its 3s poll. (The
			// PostgreSQL store lingers 5ms to batch finishes.)
			time.Sleep(100 * time.Millisecond)
			synctest.Wait()
			if n := len(g.order()); n != want {
				t.Fatalf("after %d run(s) ended, %d started at once, want %d", i+1, n, want)
			}
		}
		if o := g.order(); !slices.Equal(o, []string{"1", "2", "4"}) {
			t.Fatalf("runs started in the order %v, want [1 2 4]: one at a time, in order, the cancelled one never", o)
		}
		if r, _ := s.RunGet(context.Background(), runs[2].ID); r.Status != api.StatusCancelled || !r.StartedAt.IsZero() {
			t.Fatalf("the cancelled queued run: %s started %v", r.Status, r.StartedAt)
		}
	})
}

// A job limit of 1 holds the job's second run queued, whatever its rule,
// until the first ends; a retry queued meanwhile waits its turn too.
func TestJobLimitQueuesAndReleases(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		g := newGate()
		d := newDispatching(t, s, runner.Config{JobLimits: map[string]int{"g": 1}}, g.job("g"), g.job("free"))
		a := createRule(t, s, store.Rule{Name: "a", Job: "g"})
		b := createRule(t, s, store.Rule{Name: "b", Job: "g"})
		free := createRule(t, s, store.Rule{Name: "free", Job: "free"})
		first := startN(t, d.runner, a, "a1")
		second := startN(t, d.runner, b, "b1")
		other := startN(t, d.runner, free, "f1")
		if first.Status != api.StatusRunning || second.Status != api.StatusQueued || other.Status != api.StatusRunning {
			t.Fatalf("statuses %s, %s, %s; want running, queued (limit 1), running (no limit)", first.Status, second.Status, other.Status)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if o := g.order(); len(o) != 2 {
			t.Fatalf("started %v while the limit is reached, want a1 and f1 only", o)
		}
		g.release <- struct{}{}
		g.release <- struct{}{}
		synctest.Wait()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		o := g.order()
		if len(o) != 3 || o[2] != "b1" {
			t.Fatalf("started %v, want b1 third once a slot freed", o)
		}
		g.release <- struct{}{}
	})
}

// A retry queued with its backoff survives the agent: the next runner on
// the same database runs it once, when it is due, with the failed run's
// parameters and the rule's secret (which runs keep masked).
func TestRetryIsDurableAcrossARestart(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		var (
			mu   sync.Mutex
			seen []jobs.Params
		)
		job := funcJob{id: "j", params: []jobs.Param{{Name: "n"}, {Name: "password", Secret: true}}, run: func(ctx context.Context, p jobs.Params) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, p)
			if len(seen) == 1 {
				return errors.New("first attempt fails")
			}
			return nil
		}}
		first := newDispatching(t, s, runner.Config{Node: "before"}, job)
		rule := createRule(t, s, store.Rule{Name: "r", Job: "j", Parameters: map[string]string{"password": "hunter2", "n": "rule's"},
			Policy: store.RunPolicy{Retry: &store.RetryPolicy{Attempts: 2, Backoff: 10 * time.Minute}}})
		run, _, err := first.runner.Start(context.Background(), runner.StartParams{Rule: rule, Trigger: api.TriggerManual, Overrides: map[string]string{"n": "override"}})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		first.stop()
		// The agent is down when the retry comes due.
		time.Sleep(time.Hour)
		second := newDispatching(t, s, runner.Config{Node: "after"}, job)
		_ = second
		time.Sleep(time.Minute)
		synctest.Wait()
		runs := series(t, s, run.ID)
		if len(runs) != 2 || runs[1].Status != api.StatusSucceeded || runs[1].Node != "after" || runs[1].Attempt != 2 {
			t.Fatalf("series after the restart: %+v; want the failed run and its retry, succeeded on the new agent", runs)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != 2 || seen[1]["n"] != "override" || seen[1]["password"] != "hunter2" {
			t.Fatalf("the job ran %d times; the retry got %v, want n=override and the rule's password", len(seen), seen[len(seen)-1])
		}
	})
}

// A running run past its rule's warnAfter is announced slow, once; an
// operator's cancel of a failing run's retry ends the series.
func TestSlowRunAndCancelledRetry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := storetesting.Open(t, "sqlite")
		fail := make(chan struct{}, 1)
		d := newDispatching(t, s, runner.Config{}, funcJob{id: "j", run: func(ctx context.Context, p jobs.Params) error {
			select {
			case <-time.After(5 * time.Minute):
				return errors.New("too late anyway")
			case <-fail:
				return errors.New("boom")
			}
		}})
		_, evs, _, cancel := d.events.Subscribe(0)
		defer cancel()
		rule := createRule(t, s, store.Rule{Name: "r", Job: "j", Policy: store.RunPolicy{WarnAfter: 2 * time.Minute,
			Retry: &store.RetryPolicy{Attempts: 5, Backoff: time.Hour}}})
		run, _, err := d.runner.Start(context.Background(), runner.StartParams{Rule: rule, Trigger: api.TriggerManual})
		if err != nil || run.WarnAfter != 2*time.Minute {
			t.Fatalf("start: %+v %v; want WarnAfter copied from the rule", run, err)
		}
		time.Sleep(6 * time.Minute)
		synctest.Wait()
		slow, queued := 0, []store.Run{}
		for len(evs) > 0 {
			e := <-evs
			switch e.Type {
			case api.EventRunSlow:
				slow++
				if e.Run.ID != run.ID {
					t.Errorf("run.slow for %s, want %s", e.Run.ID, run.ID)
				}
			case api.EventRunQueued:
				queued = append(queued, *e.Run)
			}
		}
		if slow != 1 || len(queued) != 1 {
			t.Fatalf("%d run.slow and %d run.queued events; want one of each (the run went 5m, warnAfter 2m; it failed)", slow, len(queued))
		}
		retry := queued[0]
		if _, err := d.runner.Cancel(context.Background(), retry.ID, "alice", "enough"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Hour)
		synctest.Wait()
		runs := series(t, s, run.ID)
		if len(runs) != 2 || runs[1].Status != api.StatusCancelled {
			t.Fatalf("series after the retry was cancelled: %d runs, last %s; want 2, cancelled, no more", len(runs), runs[len(runs)-1].Status)
		}
	})
}

// A run an operator cancels is not retried, whatever its rule's policy; a
// queued run whose job this agent lacks is recorded failed, saying so.
func TestCancelledRunIsNotRetriedAndAnUnknownJobFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := storetesting.Open(t, "sqlite")
		d := newDispatching(t, s, runner.Config{}, funcJob{id: "j", run: func(ctx context.Context, p jobs.Params) error {
			<-ctx.Done()
			return ctx.Err()
		}})
		rule := createRule(t, s, store.Rule{Name: "r", Job: "j", Policy: store.RunPolicy{Retry: &store.RetryPolicy{Attempts: 3}}})
		run, _, err := d.runner.Start(context.Background(), runner.StartParams{Rule: rule, Trigger: api.TriggerManual})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, err := d.runner.Cancel(context.Background(), run.ID, "alice", "stop"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		if runs := series(t, s, run.ID); len(runs) != 1 || runs[0].Status != api.StatusCancelled {
			t.Fatalf("series of a cancelled run: %d runs, first %s; want it alone, cancelled", len(runs), runs[0].Status)
		}

		orphan, _, err := s.RunCreate(context.Background(), store.RunCreateParams{Run: store.Run{
			Rule: "r", Job: "gone", Status: api.StatusQueued, Trigger: api.TriggerRetry}})
		if err != nil {
			t.Fatal(err)
		}
		d.runner.Wake()
		time.Sleep(time.Second)
		synctest.Wait()
		got, err := s.RunGet(context.Background(), orphan.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != api.StatusFailed || got.Error != `job "gone" is not registered in this agent: unknown job` {
			t.Fatalf("a queued run of an unknown job: %s %q", got.Status, got.Error)
		}
	})
}

// Retries are timed by the agent's clock (Config.Now), not the wall's:
// one due 10 minutes after a failure waits while the agent's clock stands
// still, whatever the wall clock does, and starts once the agent's clock
// reaches it.
func TestRetriesComeDueByTheAgentsClock(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		var mu sync.Mutex
		agentNow := time.Now().Add(-24 * time.Hour).UTC().Truncate(time.Second) // behind the wall
		now := func() time.Time {
			mu.Lock()
			defer mu.Unlock()
			return agentNow
		}
		calls := 0
		job := funcJob{id: "j", run: func(context.Context, jobs.Params) error {
			mu.Lock()
			defer mu.Unlock()
			calls++
			if calls == 1 {
				return errors.New("first attempt fails")
			}
			return nil
		}}
		d := newDispatching(t, s, runner.Config{Now: now}, job)
		rule := createRule(t, s, store.Rule{Name: "r", Job: "j",
			Policy: store.RunPolicy{Retry: &store.RetryPolicy{Attempts: 1, Backoff: 10 * time.Minute}}})
		run, _, err := d.runner.Start(context.Background(), runner.StartParams{Rule: rule, Trigger: api.TriggerManual})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour) // on the wall
		synctest.Wait()
		runs := series(t, s, run.ID)
		if len(runs) != 2 || runs[1].Status != api.StatusQueued || !runs[1].NotBefore.Equal(now().Add(10*time.Minute)) {
			t.Fatalf("series an hour (wall) after the failure: %+v; want the failed run and its retry queued for 10m after the agent's now (%s)", runs, now())
		}
		mu.Lock()
		agentNow = agentNow.Add(10 * time.Minute)
		mu.Unlock()
		time.Sleep(5 * time.Second) // the dispatcher claims every 3s
		synctest.Wait()
		if runs = series(t, s, run.ID); len(runs) != 2 || runs[1].Status != api.StatusSucceeded {
			t.Fatalf("series once the agent's clock reached the retry: %+v; want the retry succeeded", runs)
		}
	})
}

// While Paused (maintenance is on), a retry that comes due waits, and a
// manual run that had to queue still starts; the retry starts once the
// pause ends. On virtual time, both stores.
func TestPausedDispatcherStartsOnlyOperatorsRuns(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		var paused sync.Mutex
		pausedOn := true
		isPaused := func() bool { paused.Lock(); defer paused.Unlock(); return pausedOn }
		d := newDispatching(t, s, runner.Config{Paused: isPaused, ClaimInterval: time.Second}, funcJob{id: "j", run: func(ctx context.Context, p jobs.Params) error {
			return nil
		}})
		rule := createRule(t, s, store.Rule{Name: "r", Job: "j"})
		at := time.Now()
		queue := func(trigger api.Trigger) store.Run {
			run, _, err := s.RunCreate(context.Background(), store.RunCreateParams{Run: store.Run{
				Rule: rule.Name, Job: rule.Job, Status: api.StatusQueued, Trigger: trigger, NotBefore: at.Add(time.Minute),
			}})
			if err != nil {
				t.Fatal(err)
			}
			return run
		}
		retry, manual := queue(api.TriggerRetry), queue(api.TriggerManual)
		status := func(id string) api.RunStatus {
			r, err := s.RunGet(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			return r.Status
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if got, want := []api.RunStatus{status(retry.ID), status(manual.ID)}, []api.RunStatus{api.StatusQueued, api.StatusSucceeded}; !slices.Equal(got, want) {
			t.Fatalf("paused: retry and manual run are %v, want %v", got, want)
		}
		paused.Lock()
		pausedOn = false
		paused.Unlock()
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if got := status(retry.ID); got != api.StatusSucceeded {
			t.Fatalf("after the pause the retry is %s, want succeeded", got)
		}
		d.stop()
	})
}

// An operator's cancel recorded by another agent (the run shows
// cancelling) ends the series even when the job fails on its own before
// the cancel reaches it: no retry follows.
func TestAFailureAfterAnOperatorsCancelIsNotRetried(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		release := make(chan struct{})
		d := newDispatching(t, s, runner.Config{}, funcJob{id: "j", run: func(ctx context.Context, p jobs.Params) error {
			<-release
			return errors.New("failed on its own")
		}})
		rule := createRule(t, s, store.Rule{Name: "r", Job: "j", Policy: store.RunPolicy{
			Retry: &store.RetryPolicy{Attempts: 3, Backoff: time.Second, MaxBackoff: time.Second}}})
		first, _, err := d.runner.Start(context.Background(), runner.StartParams{Rule: rule, Trigger: api.TriggerManual})
		if err != nil {
			t.Fatal(err)
		}
		// Another agent records the cancel; the relay that would reach
		// this one has not come yet.
		if _, err := s.RunSetCancelling(context.Background(), first.ID, "alice", "wrong target"); err != nil {
			t.Fatal(err)
		}
		close(release)
		time.Sleep(time.Minute)
		synctest.Wait()
		runs := series(t, s, first.ID)
		if len(runs) != 1 || runs[0].CancelledBy != "alice" {
			t.Fatalf("series %+v, want the first run alone, cancelled by alice", runs)
		}
		d.stop()
	})
}

// A queued run whose rule was deleted while it waited does not start: it
// is recorded failed, saying so, as a restart of it would be refused.
func TestAQueuedRunOfADeletedRuleDoesNotStart(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		ran := make(chan struct{}, 1)
		d := newDispatching(t, s, runner.Config{ClaimInterval: time.Second}, funcJob{id: "j", run: func(ctx context.Context, p jobs.Params) error {
			ran <- struct{}{}
			return nil
		}})
		rule := createRule(t, s, store.Rule{Name: "r", Job: "j"})
		run, _, err := s.RunCreate(context.Background(), store.RunCreateParams{Run: store.Run{
			Rule: rule.Name, Job: rule.Job, Status: api.StatusQueued, Trigger: api.TriggerRetry, NotBefore: time.Now().Add(time.Minute),
		}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RuleDelete(context.Background(), rule.Name); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		got, err := s.RunGet(context.Background(), run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != api.StatusFailed || got.Error != `rule "r" was deleted while the run waited: unknown rule` || len(ran) != 0 {
			t.Fatalf("queued run of a deleted rule: %s %q (job ran: %v), want failed, saying the rule was deleted", got.Status, got.Error, len(ran) != 0)
		}
		d.stop()
	})
}

// A rule with overlap "skip" never runs two at once: a retry that comes
// due while another run of the rule goes waits for it, then starts.
func TestARetryOfASkipRuleWaitsForTheRunGoing(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		release := make(chan struct{})
		var mu sync.Mutex
		running, most := 0, 0
		d := newDispatching(t, s, runner.Config{ClaimInterval: time.Second}, funcJob{id: "j", run: func(ctx context.Context, p jobs.Params) error {
			mu.Lock()
			running++
			most = max(most, running)
			mu.Unlock()
			defer func() { mu.Lock(); running--; mu.Unlock() }()
			if p["mode"] == "block" {
				<-release
				return nil
			}
			return errors.New("boom")
		}, params: []jobs.Param{{Name: "mode", Type: jobs.TypeString}}})
		rule := createRule(t, s, store.Rule{Name: "r", Job: "j", Overlap: api.OverlapSkip, Policy: store.RunPolicy{
			Retry: &store.RetryPolicy{Attempts: 1, Backoff: time.Second, MaxBackoff: time.Second}}})
		first, _, err := d.runner.Start(context.Background(), runner.StartParams{Rule: rule, Trigger: api.TriggerManual})
		if err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the first run has failed; its retry is due in 1s
		if _, _, err := d.runner.Start(context.Background(), runner.StartParams{Rule: rule, Trigger: api.TriggerManual,
			Overrides: map[string]string{"mode": "block"}}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		if runs := series(t, s, first.ID); len(runs) != 2 || runs[1].Status != api.StatusQueued {
			t.Fatalf("while another run goes, the series is %+v; want the retry still queued", runs)
		}
		close(release)
		time.Sleep(time.Minute)
		synctest.Wait()
		if runs := series(t, s, first.ID); len(runs) != 2 || runs[1].Status != api.StatusFailed {
			t.Fatalf("after the run ended, the series is %+v; want the retry run (and failed)", runs)
		}
		mu.Lock()
		defer mu.Unlock()
		if most != 1 {
			t.Fatalf("%d runs of a skip rule went at once, want 1", most)
		}
		d.stop()
	})
}
