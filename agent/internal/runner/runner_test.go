package runner_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// funcJob is a job whose Run is a function of the test's.
type funcJob struct {
	id     string
	params []jobs.Param
	run    func(ctx context.Context, p jobs.Params) error
}

func (j funcJob) ID() string                                   { return j.id }
func (j funcJob) Description() string                          { return "test job " + j.id }
func (j funcJob) Params() []jobs.Param                         { return j.params }
func (j funcJob) Run(ctx context.Context, p jobs.Params) error { return j.run(ctx, p) }

type env struct {
	store  store.Store
	runner *runner.Runner
	events *events.Broker
}

func newEnv(t *testing.T, s store.Store, maxLines int, js ...jobs.Job) *env {
	t.Helper()
	reg := jobs.NewRegistry()
	if err := reg.Register(js...); err != nil {
		t.Fatal(err)
	}
	b := events.NewBroker(0)
	r, err := runner.New(runner.Config{Store: s, Jobs: reg, Events: b, Node: "node-1", MaxLogLines: maxLines, LogFlushInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	return &env{store: s, runner: r, events: b}
}

func (e *env) rule(t *testing.T, r store.Rule) store.Rule {
	t.Helper()
	if r.Schedule == "" {
		r.Schedule = "rate(1 hour)"
	}
	r.Enabled = true
	got, err := e.store.RuleCreate(context.Background(), r)
	if err != nil {
		t.Fatalf("create rule: %v", err)
	}
	return got
}

// waitStatus polls the store until the run is in one of want.
func (e *env) waitStatus(t *testing.T, id string, want ...api.RunStatus) store.Run {
	t.Helper()
	var run store.Run
	wait.For(t, 10*time.Second, func() (bool, string) {
		var err error
		run, err = e.store.RunGet(context.Background(), id)
		if err != nil {
			t.Fatalf("get run %s: %v", id, err)
		}
		return slices.Contains(want, run.Status), fmt.Sprintf("run %s is %s (error %q), want %v", id, run.Status, run.Error, want)
	})
	return run
}

func (e *env) logLines(t *testing.T, id string) []store.LogLine {
	t.Helper()
	lines, err := e.store.RunLogList(context.Background(), id, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

func start(t *testing.T, e *env, rule store.Rule) store.Run {
	t.Helper()
	run, created, err := e.runner.Start(context.Background(), runner.StartParams{Rule: rule, Trigger: api.TriggerManual, TriggeredBy: "tester"})
	if err != nil || !created {
		t.Fatalf("Start: run %+v created %v err %v", run, created, err)
	}
	return run
}

func TestSucceededRunIsRecordedWithLogAndProgress(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		var got jobs.Params
		e := newEnv(t, s, 0, funcJob{id: "work", params: []jobs.Param{{Name: "n", Type: jobs.TypeInt, Default: "3"}, {Name: "password", Secret: true}}, run: func(ctx context.Context, p jobs.Params) error {
			got = p
			jobs.Logger(ctx).Info("working", "n", p["n"])
			jobs.Progress(ctx, 100, "done")
			return nil
		}})
		_, evs, _, cancel := e.events.Subscribe(0)
		defer cancel()
		rule := e.rule(t, store.Rule{Name: "r1", Job: "work", Parameters: map[string]string{"password": "hunter2"}})
		run := start(t, e, rule)
		if run.Status != api.StatusRunning || run.Node != "node-1" || run.TriggeredBy != "tester" {
			t.Errorf("started run = %+v, want running on node-1 by tester", run)
		}
		if run.Parameters["password"] != api.MaskedValue || run.Parameters["n"] != "3" {
			t.Errorf("recorded parameters %v: want the secret masked and the default applied", run.Parameters)
		}
		fin := e.waitStatus(t, run.ID, api.StatusSucceeded)
		if got["password"] != "hunter2" {
			t.Errorf("job got password %q, want the real value", got["password"])
		}
		if fin.FinishedAt.IsZero() || fin.Error != "" {
			t.Errorf("finished run = %+v", fin)
		}
		lines := e.logLines(t, run.ID)
		if len(lines) != 1 || lines[0].Message != "working n=3" || lines[0].Level != "info" || lines[0].Seq != 1 {
			t.Errorf("log = %+v, want one info line 'working n=3'", lines)
		}
		if fin.Progress.Percent != 100 {
			t.Errorf("progress = %+v, want 100", fin.Progress)
		}
		var types []string
		for len(types) == 0 || types[len(types)-1] != api.EventRunFinished {
			select {
			case ev := <-evs:
				types = append(types, ev.Type)
			case <-time.After(5 * time.Second):
				t.Fatalf("events so far %v: no run.finished", types)
			}
		}
		want := []string{api.EventRunStarted, api.EventRunLog, api.EventRunProgress, api.EventRunFinished}
		if len(types) != len(want) {
			t.Fatalf("events %v, want %v", types, want)
		}
		for i := range want {
			if types[i] != want[i] {
				t.Errorf("events %v, want %v", types, want)
			}
		}
	})
}

func TestFailedAndPanickingJobs(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		e := newEnv(t, s, 0,
			funcJob{id: "fail", run: func(context.Context, jobs.Params) error { return errors.New("disk full") }},
			funcJob{id: "boom", run: func(context.Context, jobs.Params) error { panic("boom") }},
		)
		failed := e.waitStatus(t, start(t, e, e.rule(t, store.Rule{Name: "f", Job: "fail"})).ID, api.StatusFailed, api.StatusSucceeded)
		if failed.Status != api.StatusFailed || failed.Error != "disk full" {
			t.Errorf("failing job: %s %q, want failed 'disk full'", failed.Status, failed.Error)
		}
		panicked := e.waitStatus(t, start(t, e, e.rule(t, store.Rule{Name: "p", Job: "boom"})).ID, api.StatusFailed, api.StatusSucceeded)
		if panicked.Status != api.StatusFailed || panicked.Error != "job panicked: boom" {
			t.Errorf("panicking job: %s %q, want failed 'job panicked: boom'", panicked.Status, panicked.Error)
		}
		lines := e.logLines(t, panicked.ID)
		if len(lines) != 1 || !strings.HasPrefix(lines[0].Message, "panic: boom\ngoroutine ") || lines[0].Level != "error" {
			t.Errorf("panic log = %+v, want the panic and its stack", lines)
		}
	})
}

// blockingJob runs until released or cancelled; with ignore it does not
// look at its context at all.
type blockingJob struct {
	id      string
	ignore  bool
	started chan struct{}
	release chan struct{}
}

func newBlocking(id string, ignore bool) *blockingJob {
	return &blockingJob{id: id, ignore: ignore, started: make(chan struct{}, 10), release: make(chan struct{})}
}

func (j *blockingJob) ID() string           { return j.id }
func (j *blockingJob) Description() string  { return "blocks" }
func (j *blockingJob) Params() []jobs.Param { return nil }
func (j *blockingJob) Run(ctx context.Context, _ jobs.Params) error {
	j.started <- struct{}{}
	if j.ignore {
		<-j.release
		return nil
	}
	select {
	case <-j.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestOperatorCancel(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		job := newBlocking("block", false)
		e := newEnv(t, s, 0, job)
		run := start(t, e, e.rule(t, store.Rule{Name: "r", Job: "block"}))
		<-job.started
		c, err := e.runner.Cancel(context.Background(), run.ID, "alice", "wrong day")
		if err != nil || c.Status != api.StatusCancelling || c.CancelledBy != "alice" {
			t.Fatalf("Cancel = %+v, %v; want cancelling by alice", c, err)
		}
		fin := e.waitStatus(t, run.ID, api.StatusCancelled)
		if fin.Error != "cancelled by alice: wrong day" || fin.CancelledBy != "alice" || fin.CancelReason != "wrong day" {
			t.Errorf("cancelled run = %+v", fin)
		}
		if _, err := e.runner.Cancel(context.Background(), run.ID, "bob", ""); !errors.Is(err, store.ErrConflict) {
			t.Errorf("cancel of a finished run: %v, want ErrConflict", err)
		}
		if _, err := e.runner.Cancel(context.Background(), "01234567-no-such-run", "bob", ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("cancel of an unknown run: %v, want ErrNotFound", err)
		}
	})
}

func TestJobThatIgnoresCancelStaysCancelling(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		job := newBlocking("stubborn", true)
		e := newEnv(t, s, 0, job)
		run := start(t, e, e.rule(t, store.Rule{Name: "r", Job: "stubborn"}))
		<-job.started
		if _, err := e.runner.Cancel(context.Background(), run.ID, "alice", ""); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		if got := e.waitStatus(t, run.ID, api.StatusCancelling, api.StatusCancelled); got.Status != api.StatusCancelling {
			t.Fatalf("run of a job ignoring its context is %s, want cancelling until it returns", got.Status)
		}
		close(job.release)
		fin := e.waitStatus(t, run.ID, api.StatusCancelled)
		if fin.Error != "cancelled by alice (the job finished its work anyway)" {
			t.Errorf("error = %q", fin.Error)
		}
	})
}

func TestTimeoutFailsTheRun(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		job := newBlocking("slow", false)
		e := newEnv(t, s, 0, job)
		run := start(t, e, e.rule(t, store.Rule{Name: "r", Job: "slow", Timeout: 50 * time.Millisecond}))
		fin := e.waitStatus(t, run.ID, api.StatusFailed)
		if fin.Error != "timed out after 50ms (the rule's timeout)" || fin.CancelledBy != "timeout" {
			t.Errorf("timed out run: error %q cancelledBy %q", fin.Error, fin.CancelledBy)
		}
	})
}

func TestOverlapSkip(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		job := newBlocking("long", false)
		e := newEnv(t, s, 0, job)
		skipRule := e.rule(t, store.Rule{Name: "skip", Job: "long", Overlap: api.OverlapSkip})
		allowRule := e.rule(t, store.Rule{Name: "allow", Job: "long", Overlap: api.OverlapAllow})
		first := start(t, e, skipRule)
		second := start(t, e, skipRule)
		if second.Status != api.StatusSkipped || !strings.Contains(second.Error, first.ID) {
			t.Errorf("second run of a skip rule = %s %q, want skipped naming %s", second.Status, second.Error, first.ID)
		}
		a1, a2 := start(t, e, allowRule), start(t, e, allowRule)
		if a1.Status != api.StatusRunning || a2.Status != api.StatusRunning {
			t.Errorf("allow rule runs = %s, %s; want both running", a1.Status, a2.Status)
		}
		close(job.release)
		e.waitStatus(t, first.ID, api.StatusSucceeded)
		// Once the first is done, the skip rule runs again.
		third := start(t, e, skipRule)
		if third.Status != api.StatusRunning {
			t.Errorf("run after the first finished = %s, want running", third.Status)
		}
	})
}

func TestShutdownCancelsThenInterrupts(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		polite, stubborn := newBlocking("polite", false), newBlocking("stubborn", true)
		e := newEnv(t, s, 0, polite, stubborn)
		p := start(t, e, e.rule(t, store.Rule{Name: "p", Job: "polite"}))
		st := start(t, e, e.rule(t, store.Rule{Name: "s", Job: "stubborn"}))
		<-polite.started
		<-stubborn.started
		// The last quarter of the deadline records the stubborn run.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := e.runner.Shutdown(ctx)
		if err == nil || !strings.Contains(err.Error(), "1 job(s) did not return") {
			t.Errorf("Shutdown = %v, want one job reported as not returning", err)
		}
		pr := e.waitStatus(t, p.ID, api.StatusCancelled)
		if pr.CancelledBy != "agent node-1" || pr.Error != "cancelled: the agent is shutting down" {
			t.Errorf("polite run after shutdown = %+v", pr)
		}
		sr := e.waitStatus(t, st.ID, api.StatusInterrupted)
		if !strings.Contains(sr.Error, "grace period") {
			t.Errorf("stubborn run error = %q", sr.Error)
		}
		if _, _, err := e.runner.Start(context.Background(), runner.StartParams{Rule: store.Rule{Name: "p", Job: "polite"}, Trigger: api.TriggerManual}); !errors.Is(err, runner.ErrShuttingDown) {
			t.Errorf("Start after Shutdown: %v, want ErrShuttingDown", err)
		}
		close(stubborn.release)
		// The stubborn job's late return does not overwrite interrupted.
		time.Sleep(50 * time.Millisecond)
		if got := e.waitStatus(t, st.ID, api.StatusInterrupted, api.StatusCancelled); got.Status != api.StatusInterrupted {
			t.Errorf("late return changed the run to %s", got.Status)
		}
	})
}

func TestConcurrentDuplicateFiresMakeOneRun(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		e := newEnv(t, s, 0, funcJob{id: "noop", run: func(context.Context, jobs.Params) error { return nil }})
		e.rule(t, store.Rule{Name: "r", Job: "noop"})
		var wg sync.WaitGroup
		var mu sync.Mutex
		ids := map[string]int{}
		createdCount := 0
		for range 20 {
			wg.Go(func() {
				run, created, err := e.runner.Fire(context.Background(), runner.FireParams{Rule: "r", EventID: "evt-1", By: "eventbridge"})
				if err != nil {
					t.Errorf("Fire: %v", err)
					return
				}
				mu.Lock()
				defer mu.Unlock()
				ids[run.ID]++
				if created {
					createdCount++
				}
			})
		}
		wg.Wait()
		if len(ids) != 1 || createdCount != 1 {
			t.Errorf("20 deliveries of one event: %d distinct runs, %d created; want 1 and 1", len(ids), createdCount)
		}
	})
}

func TestFireRefusesUnknownAndDisabledRules(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		e := newEnv(t, s, 0, funcJob{id: "noop", run: func(context.Context, jobs.Params) error { return nil }})
		if _, _, err := e.runner.Fire(context.Background(), runner.FireParams{Rule: "nope", EventID: "e"}); !errors.Is(err, runner.ErrUnknownRule) {
			t.Errorf("Fire unknown rule: %v, want ErrUnknownRule", err)
		}
		if _, err := s.RuleCreate(context.Background(), store.Rule{Name: "off", Job: "noop", Schedule: "rate(1 hour)", Enabled: false}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.runner.Fire(context.Background(), runner.FireParams{Rule: "off", EventID: "e"}); !errors.Is(err, runner.ErrRuleDisabled) {
			t.Errorf("Fire disabled rule: %v, want ErrRuleDisabled", err)
		}
	})
}

func TestFireRecordsADisabledRuleSkippedWhenAsked(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		e := newEnv(t, s, 0, funcJob{id: "noop", params: []jobs.Param{{Name: "key", Secret: true}}, run: func(context.Context, jobs.Params) error { return nil }})
		if _, err := s.RuleCreate(context.Background(), store.Rule{Name: "off", Job: "noop", Schedule: "rate(1 hour)", Parameters: map[string]string{"key": "s3cret"}}); err != nil {
			t.Fatal(err)
		}
		p := runner.FireParams{Rule: "off", EventID: "e-off", By: "eventbridge", RecordDisabled: true}
		run, created, err := e.runner.Fire(context.Background(), p)
		if err != nil || !created || run.Status != api.StatusSkipped || run.Error != "skipped: the rule is disabled" ||
			run.Trigger != api.TriggerSchedule || run.TriggeredBy != "eventbridge" || run.Parameters["key"] != api.MaskedValue {
			t.Errorf("Fire of a disabled rule, recorded: %+v %v %v; want a new skipped run, its secret masked", run, created, err)
		}
		again, created, err := e.runner.Fire(context.Background(), p)
		if err != nil || created || again.ID != run.ID {
			t.Errorf("the same event again: %s %v %v, want the first run %s, not created", again.ID, created, err, run.ID)
		}
	})
}

func TestBadParametersAndUnknownJobs(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		e := newEnv(t, s, 0, funcJob{id: "typed", params: []jobs.Param{{Name: "n", Type: jobs.TypeInt, Required: true}, {Name: "key", Secret: true}}, run: func(context.Context, jobs.Params) error { return nil }})
		rule := e.rule(t, store.Rule{Name: "r", Job: "typed", Parameters: map[string]string{"n": "1", "key": "s3cret"}})
		// A manual run with a bad override is refused and not recorded.
		_, _, err := e.runner.Start(context.Background(), runner.StartParams{Rule: rule, Trigger: api.TriggerManual, Overrides: map[string]string{"n": "many"}})
		var verr *jobs.ValidationError
		if !errors.As(err, &verr) || verr.Fields[0].Error() != `n: "many" is not an integer` {
			t.Errorf("manual start with n=many: %v, want a validation error", err)
		}
		runs, _, _ := s.RunList(context.Background(), store.RunFilter{})
		if len(runs) != 0 {
			t.Errorf("a refused manual run was recorded: %+v", runs)
		}
		// A scheduled fire of a rule whose job is gone is recorded as failed.
		if _, err := s.RuleCreate(context.Background(), store.Rule{Name: "orphan", Job: "removed", Schedule: "rate(1 hour)", Enabled: true, Parameters: map[string]string{"key": "s3cret"}}); err != nil {
			t.Fatal(err)
		}
		run, created, err := e.runner.Fire(context.Background(), runner.FireParams{Rule: "orphan", EventID: "e1"})
		if err != nil || !created || run.Status != api.StatusFailed || !strings.Contains(run.Error, `job "removed" is not registered`) {
			t.Errorf("fire of a rule with an unknown job: %+v %v %v; want a failed run", run, created, err)
		}
		if run.Parameters["key"] != api.MaskedValue {
			t.Errorf("parameters of a job the agent cannot see are recorded as %v, want every value masked", run.Parameters)
		}
	})
}

func TestLogIsCappedPerRun(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		e := newEnv(t, s, 5, funcJob{id: "chatty", run: func(ctx context.Context, _ jobs.Params) error {
			for i := range 12 {
				jobs.Logger(ctx).Log(ctx, slog.LevelInfo, "line", "i", i)
			}
			return nil
		}})
		run := start(t, e, e.rule(t, store.Rule{Name: "r", Job: "chatty"}))
		e.waitStatus(t, run.ID, api.StatusSucceeded)
		lines := e.logLines(t, run.ID)
		if len(lines) != 6 {
			t.Fatalf("stored %d lines, want 5 and a note", len(lines))
		}
		if last := lines[5]; last.Message != "7 more log line(s) dropped: a run keeps at most 5" || last.Seq != 6 {
			t.Errorf("last line = %+v", last)
		}
	})
}

func TestRuleChangesReachFire(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := storetesting.Open(t, "sqlite")
		reg := jobs.NewRegistry()
		if err := reg.Register(funcJob{id: "noop", run: func(context.Context, jobs.Params) error { return nil }}); err != nil {
			t.Fatal(err)
		}
		r, err := runner.New(runner.Config{Store: s, Jobs: reg, Events: events.NewBroker(0), Node: "n", RuleCacheTTL: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Shutdown(context.Background())
		ctx := context.Background()
		rule, err := s.RuleCreate(ctx, store.Rule{Name: "r", Job: "noop", Schedule: "rate(1 hour)", Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		fire := func(id string) error {
			_, _, err := r.Fire(ctx, runner.FireParams{Rule: "r", EventID: id})
			return err
		}
		if err := fire("1"); err != nil {
			t.Fatal(err)
		}
		rule.Enabled = false
		if rule, err = s.RuleUpdate(ctx, rule); err != nil { // the version the next update expects
			t.Fatal(err)
		}
		r.ForgetRule("r")
		if err := fire("2"); !errors.Is(err, runner.ErrRuleDisabled) {
			t.Errorf("fire after a change and ForgetRule: %v, want ErrRuleDisabled", err)
		}
		// A change made elsewhere is seen once the cache entry expires.
		rule.Enabled = true
		if _, err := s.RuleUpdate(ctx, rule); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond) // past the TTL, on the bubble's virtual clock
		if err := fire("3"); err != nil {
			t.Errorf("fire after the TTL: %v, want the re-enabled rule to fire", err)
		}
	})
}

func TestEventsAfterACancelCarryTheRunAsItIs(t *testing.T) {
	t.Parallel()
	s := storetesting.Open(t, "sqlite")
	e := newEnv(t, s, 0, funcJob{id: "tidy", run: func(ctx context.Context, _ jobs.Params) error {
		<-ctx.Done()
		jobs.Logger(ctx).Info("cleaning up")
		jobs.Progress(ctx, 99, "cleaning up")
		return ctx.Err()
	}})
	_, evs, _, cancel := e.events.Subscribe(0)
	defer cancel()
	run := start(t, e, e.rule(t, store.Rule{Name: "r", Job: "tidy"}))
	if _, err := e.runner.Cancel(context.Background(), run.ID, "alice", ""); err != nil {
		t.Fatal(err)
	}
	seen := map[string]api.RunStatus{}
	for len(seen) < 3 {
		select {
		case ev := <-evs:
			if ev.Type == api.EventRunLog || ev.Type == api.EventRunProgress || ev.Type == api.EventRunFinished {
				seen[ev.Type] = ev.Run.Status
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("events so far: %v", seen)
		}
	}
	if seen[api.EventRunLog] != api.StatusCancelling || seen[api.EventRunProgress] != api.StatusCancelling || seen[api.EventRunFinished] != api.StatusCancelled {
		t.Errorf("statuses carried by the events after the cancel: %v; want cancelling, cancelling, cancelled", seen)
	}
}
