package notify_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/notify"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// recorder is a Notifier that keeps what it is sent; it can be told to
// fail the first n attempts.
type recorder struct {
	name string
	mu   sync.Mutex
	msgs []notify.Message
	fail int
	sent chan struct{}
}

func newRecorder(name string) *recorder {
	return &recorder{name: name, sent: make(chan struct{}, 100)}
}

func (r *recorder) Name() string { return r.name }

func (r *recorder) Notify(_ context.Context, m notify.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail > 0 {
		r.fail--
		return errors.New("server said no")
	}
	r.msgs = append(r.msgs, m)
	r.sent <- struct{}{}
	return nil
}

func (r *recorder) messages() []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Message(nil), r.msgs...)
}

// waitN waits for n messages, or fails after a few seconds.
func (r *recorder) waitN(t *testing.T, n int) []notify.Message {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for len(r.messages()) < n {
		select {
		case <-r.sent:
		case <-deadline:
			t.Fatalf("%s got %d messages, want %d: %+v", r.name, len(r.messages()), n, r.messages())
		}
	}
	return r.messages()
}

// quiet checks that nothing more arrives for a moment.
func (r *recorder) quiet(t *testing.T, have int) {
	t.Helper()
	time.Sleep(150 * time.Millisecond)
	if got := r.messages(); len(got) != have {
		t.Errorf("%s got %d messages, want %d: %+v", r.name, len(got), have, got)
	}
}

// outcomeJob ends as each run's "outcome" parameter says.
type outcomeJob struct{}

func (outcomeJob) ID() string          { return "outcome" }
func (outcomeJob) Description() string { return "ends as told" }
func (outcomeJob) Params() []jobs.Param {
	return []jobs.Param{{Name: "outcome", Type: jobs.TypeEnum, Choices: []string{"ok", "fail", "block", "flaky"}, Default: "ok"}}
}

// flakyFailures counts the runs with outcome "flaky": the first fails, the
// others succeed (one test uses it).
var flakyFailures atomic.Int32

func (outcomeJob) Run(ctx context.Context, p jobs.Params) error {
	switch p["outcome"] {
	case "flaky":
		if flakyFailures.Add(1) == 1 {
			return errors.New("flaked")
		}
	case "fail":
		return errors.New("disk full\nsecond line")
	case "block":
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

type env struct {
	store  store.Store
	events *events.Broker
	runner *runner.Runner
	a, b   *recorder
	disp   *notify.Dispatcher
	logs   *lockedBuffer // the dispatcher's log
	stop   func()        // ends the dispatcher's Run and waits for it
}

// lockedBuffer collects a log written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newEnv(t *testing.T, fold time.Duration) *env {
	t.Helper()
	return newEnvWith(t, fold)
}

// newEnvWith uses the given notifiers, or two recorders (email, webhook).
func newEnvWith(t *testing.T, fold time.Duration, notifiers ...notify.Notifier) *env {
	t.Helper()
	s := storetesting.Open(t, "sqlite")
	reg := jobs.NewRegistry()
	if err := reg.Register(outcomeJob{}); err != nil {
		t.Fatal(err)
	}
	broker := events.NewBroker(0)
	r, err := runner.New(runner.Config{Store: s, Jobs: reg, Events: broker, Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: s, events: broker, runner: r, a: newRecorder("email"), b: newRecorder("webhook"), logs: &lockedBuffer{}}
	if len(notifiers) == 0 {
		notifiers = []notify.Notifier{e.a, e.b}
	}
	e.disp = notify.New(notify.Config{
		Store: s, Events: broker, Notifiers: notifiers,
		FoldWindow: fold, Attempts: 3, Backoff: 10 * time.Millisecond, BaseURL: func() string { return "http://agent:8080" },
		Logger: slog.New(slog.NewTextHandler(e.logs, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.disp.Run(ctx); close(done) }()
	e.stop = func() { cancel(); <-done }
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = r.Shutdown(sctx)
		e.stop()
	})
	wait.For(t, 5*time.Second, func() (bool, string) {
		return broker.Subscribers() > 0, "the dispatcher never subscribed to the events"
	})
	return e
}

func (e *env) rule(t *testing.T, name string, policy store.NotifyPolicy) store.Rule {
	t.Helper()
	r, err := e.store.RuleCreate(context.Background(), store.Rule{Name: name, Job: "outcome", Schedule: "rate(1 day)", Enabled: true, Notify: policy})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *env) run(t *testing.T, rule store.Rule, outcome string) store.Run {
	t.Helper()
	run, _, err := e.runner.Start(context.Background(), runner.StartParams{Rule: rule, Trigger: api.TriggerManual, Overrides: map[string]string{"outcome": outcome}})
	if err != nil {
		t.Fatal(err)
	}
	if outcome != "block" {
		e.waitDone(t, run.ID)
	}
	return run
}

func (e *env) waitDone(t *testing.T, id string) {
	t.Helper()
	wait.For(t, 5*time.Second, func() (bool, string) {
		r, _ := e.store.RunGet(context.Background(), id)
		return r.Status.Terminal(), fmt.Sprintf("run %s did not finish: it is %s", id, r.Status)
	})
}

// The dispatcher's tests that wait on fold windows and retry backoff run in
// synctest bubbles, the store, runner and recorders built inside them: the
// windows, the backoff and the pauses of quiet pass on a virtual clock.

func TestFailureThenRecovery(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, time.Minute)
		r := e.rule(t, "nightly", store.NotifyPolicy{})
		e.run(t, r, "ok") // a success with no failure before: nothing
		failed := e.run(t, r, "fail")
		msgs := e.a.waitN(t, 1)
		m := msgs[0]
		if m.Kind != notify.Failed || m.RunID != failed.ID || m.Error != "disk full\nsecond line" || m.Link != "http://agent:8080/api/v1/runs/"+failed.ID || m.Count != 1 {
			t.Errorf("failure message = %+v", m)
		}
		e.b.waitN(t, 1) // both channels by default
		e.run(t, r, "ok")
		msgs = e.a.waitN(t, 2)
		if msgs[1].Kind != notify.Recovered {
			t.Errorf("second message = %+v, want recovered", msgs[1])
		}
		e.run(t, r, "ok") // a second success is not news
		e.a.quiet(t, 2)
	})
}

// A failure whose retry is queued does not notify: the series has not
// failed yet. Its last attempt's failure does, once, and a retry that
// succeeds after failures nobody heard of is not a recovery.
func TestRetriedRunsNotifyHowTheSeriesEnded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, time.Minute)
		ctx, cancel := context.WithCancel(context.Background())
		dispatched := make(chan struct{})
		go func() { e.runner.Dispatch(ctx); close(dispatched) }()
		defer func() { cancel(); <-dispatched }()
		retried := func(name string) store.Rule {
			r, err := e.store.RuleCreate(ctx, store.Rule{Name: name, Job: "outcome", Schedule: "rate(1 day)", Enabled: true,
				Policy: store.RunPolicy{Retry: &store.RetryPolicy{Attempts: 2, Backoff: time.Second, MaxBackoff: time.Second}}})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		series := func(first store.Run, n int, last api.RunStatus) []store.Run {
			var runs []store.Run
			wait.For(t, 10*time.Second, func() (bool, string) {
				runs, _, _ = e.store.RunList(ctx, store.RunFilter{Series: first.ID})
				return len(runs) == n && runs[0].Status == last, fmt.Sprintf("series of %s: %d runs, want %d ending %s", first.ID, len(runs), n, last)
			})
			return runs // newest first
		}

		flaky := e.run(t, retried("flaky"), "flaky")
		series(flaky, 2, api.StatusSucceeded)
		e.a.quiet(t, 0)

		// A success of the rule while a failed run's retry waits is no
		// recovery either: nobody heard of that failure.
		slowRetry, err := e.store.RuleCreate(ctx, store.Rule{Name: "slow-retry", Job: "outcome", Schedule: "rate(1 day)", Enabled: true,
			Policy: store.RunPolicy{Retry: &store.RetryPolicy{Attempts: 1, Backoff: time.Hour, MaxBackoff: time.Hour}}})
		if err != nil {
			t.Fatal(err)
		}
		waiting := e.run(t, slowRetry, "fail")
		series(waiting, 2, api.StatusQueued)
		e.run(t, slowRetry, "ok")
		e.a.quiet(t, 0)

		failing := e.run(t, retried("failing"), "fail")
		runs := series(failing, 3, api.StatusFailed)
		msgs := e.a.waitN(t, 1)
		if m := msgs[0]; m.Kind != notify.Failed || m.RunID != runs[0].ID || m.Attempt != 3 || m.FirstRun != failing.ID {
			t.Errorf("message = %+v, want the failure of the last attempt %s (3, first run %s)", m, runs[0].ID, failing.ID)
		}
		if got, want := msgs[0].Subject(), "[jobbridge] failing failed after 3 attempts (run "+runs[0].ID[len(runs[0].ID)-8:]+")"; got != want {
			t.Errorf("subject %q, want %q", got, want)
		}
		if want := "Attempt:  3 (the first run: " + failing.ID + ")\n"; !strings.Contains(msgs[0].Text(), want) {
			t.Errorf("text lacks %q:\n%s", want, msgs[0].Text())
		}
		e.a.quiet(t, 1)
	})
}

func TestRepeatedFailuresAreFolded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, 400*time.Millisecond)
		r := e.rule(t, "flaky", store.NotifyPolicy{})
		for range 4 {
			e.run(t, r, "fail")
		}
		if got := e.a.waitN(t, 1); len(got) != 1 {
			t.Fatalf("messages during the storm: %d", len(got))
		}
		msgs := e.a.waitN(t, 2) // the window ends
		if msgs[1].Count != 3 || msgs[1].Kind != notify.Failed {
			t.Errorf("folded message = %+v, want the 3 failures after the first", msgs[1])
		}
		if s := msgs[1].Subject(); s != "[jobbridge] flaky: 3 runs failed since "+msgs[1].Since.UTC().Format("15:04 UTC") {
			t.Errorf("folded subject = %q", s)
		}
		e.a.quiet(t, 2)
	})
}

func TestRecoveryFlushesFoldedFailures(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, time.Hour)
		r := e.rule(t, "flaky", store.NotifyPolicy{})
		e.run(t, r, "fail")
		e.run(t, r, "fail")
		e.run(t, r, "ok")
		msgs := e.a.waitN(t, 3)
		if msgs[0].Count != 1 || msgs[1].Count != 1 || msgs[1].Kind != notify.Failed || msgs[2].Kind != notify.Recovered {
			t.Errorf("messages = %+v; want failure, the folded one, recovery", msgs)
		}
	})
}

// When Run ends (the agent stops), what is folded is sent rather than
// lost with the window's timer.
func TestStoppingSendsWhatIsFolded(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, time.Hour)
		r := e.rule(t, "flaky", store.NotifyPolicy{})
		e.run(t, r, "fail")
		e.run(t, r, "fail")
		e.run(t, r, "fail")
		e.a.waitN(t, 1)
		synctest.Wait() // the later failures are folded, not sent
		e.stop()
		msgs := e.a.waitN(t, 2)
		if msgs[1].Kind != notify.Failed || msgs[1].Count != 2 {
			t.Errorf("message sent as the dispatcher stopped = %+v, want the 2 folded failures", msgs[1])
		}
	})
}

func TestPerRuleSelection(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, time.Minute)
		quiet := e.rule(t, "quiet", store.NotifyPolicy{On: []string{notify.None}})
		onlyCancel := e.rule(t, "cancel-only", store.NotifyPolicy{On: []string{"cancelled"}, Channels: []string{"webhook"}})
		e.run(t, quiet, "fail")
		e.run(t, onlyCancel, "fail")
		run := e.run(t, onlyCancel, "block")
		if _, err := e.runner.Cancel(context.Background(), run.ID, "alice", "not today"); err != nil {
			t.Fatal(err)
		}
		e.waitDone(t, run.ID)
		msgs := e.b.waitN(t, 1)
		if msgs[0].Kind != notify.Cancelled || msgs[0].Rule != "cancel-only" || msgs[0].Error != "cancelled by alice: not today" {
			t.Errorf("webhook message = %+v", msgs[0])
		}
		e.a.quiet(t, 0) // the rule chose the webhook only, and "quiet" chose none
		e.b.quiet(t, 1)
	})
}

func TestShutdownCancellationsDoNotNotify(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	r := e.rule(t, "long", store.NotifyPolicy{On: []string{"cancelled", "failed"}})
	run := e.run(t, r, "block")
	wait.For(t, 5*time.Second, func() (bool, string) {
		got, _ := e.store.RunGet(context.Background(), run.ID)
		return got.Status == api.StatusRunning, fmt.Sprintf("run %s is %s, want running", run.ID, got.Status)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.runner.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _ := e.store.RunGet(context.Background(), run.ID); got.Status != api.StatusCancelled {
		t.Fatalf("run after shutdown: %s", got.Status)
	}
	e.a.quiet(t, 0)
}

// An operator may give any reason, the text the agent writes for a
// shutdown too: the cancel is still the operator's and notifies.
func TestOperatorCancelWithTheShutdownReasonNotifies(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	r := e.rule(t, "long", store.NotifyPolicy{On: []string{"cancelled"}})
	run := e.run(t, r, "block")
	if _, err := e.runner.Cancel(context.Background(), run.ID, "alice", runner.ShutdownReason); err != nil {
		t.Fatal(err)
	}
	e.waitDone(t, run.ID)
	if m := e.a.waitN(t, 1)[0]; m.Kind != notify.Cancelled || m.RunID != run.ID {
		t.Errorf("message = %+v, want the run's cancel", m)
	}
}

func TestTimeoutKind(t *testing.T) {
	t.Parallel()
	e := newEnv(t, time.Minute)
	r, err := e.store.RuleCreate(context.Background(), store.Rule{Name: "slow", Job: "outcome", Schedule: "rate(1 day)", Enabled: true, Timeout: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	run := e.run(t, r, "block")
	e.waitDone(t, run.ID)
	if m := e.a.waitN(t, 1)[0]; m.Kind != notify.Timeout || m.Subject() != "[jobbridge] slow timed out (run "+run.ID[len(run.ID)-8:]+")" {
		t.Errorf("timeout message = %+v (%s)", m, m.Subject())
	}
}

func TestAFailingChannelIsRetriedThenRecordedWithoutTouchingTheRun(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, time.Minute)
		e.a.fail = 2 // succeeds on the third of 3 attempts
		e.b.fail = 5 // never within 3 attempts
		r := e.rule(t, "r", store.NotifyPolicy{})
		run := e.run(t, r, "fail")
		e.a.waitN(t, 1)
		var st []notify.ChannelStatus
		wait.Poll(t, 5*time.Second, func() (bool, string) {
			st = e.disp.Status()
			return st[1].Failed == 1, ""
		})
		if !st[0].Healthy || st[0].Sent != 1 || st[1].Healthy || st[1].Failed != 1 || st[1].LastError == "" {
			t.Errorf("channel status = %+v", st)
		}
		var entries []store.AuditEntry
		actions := map[string]bool{}
		wait.Poll(t, 5*time.Second, func() (bool, string) {
			var err error
			if entries, _, err = e.store.AuditList(context.Background(), store.AuditFilter{Actor: "notify"}); err != nil {
				t.Fatal(err)
			}
			clear(actions)
			for _, en := range entries {
				actions[en.Action] = true
			}
			return len(actions) >= 2, ""
		})
		for _, en := range entries {
			if en.Target != run.ID {
				t.Errorf("audit entry %+v is not about run %s", en, run.ID)
			}
		}
		if !actions["notify.sent"] || !actions["notify.failed"] {
			t.Errorf("audit = %+v, want one sent and one failed", entries)
		}
		if got, _ := e.store.RunGet(context.Background(), run.ID); got.Status != api.StatusFailed || got.Error != "disk full\nsecond line" {
			t.Errorf("the run changed: %+v", got)
		}
	})
}

// A missed fire (the dead-man's switch) and a slow run notify by default,
// say which fire or how long, and follow the rule's choice like the
// outcomes; another agent's, relayed, are its own to notify.
func TestMissedAndSlowRunsNotify(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		e := newEnv(t, time.Minute)
		ctx := context.Background()
		e.rule(t, "nightly", store.NotifyPolicy{})
		e.rule(t, "failures-only", store.NotifyPolicy{On: []string{"failed"}})
		fire := time.Date(2000, 1, 1, 0, 10, 0, 0, time.UTC)
		missed := func(rule string) store.Run {
			r, _, err := e.store.RunCreate(ctx, store.RunCreateParams{Run: store.Run{
				Rule: rule, Job: "outcome", Status: api.StatusMissed, Trigger: api.TriggerSchedule, ScheduledAt: fire,
				EventID: "missed:" + rule, Error: "missed: expected a fire at 2000-01-01T00:10:00Z (grace 2m0s); nothing arrived.",
			}})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		m1 := missed("nightly")
		e.events.Publish(events.Event{Type: api.EventRunMissed, RuleName: "nightly", Run: &m1})
		m2 := missed("failures-only") // the rule wants failures only
		e.events.Publish(events.Event{Type: api.EventRunMissed, RuleName: "failures-only", Run: &m2})
		relayed := m1
		relayed.ID = "another-agents-run"
		e.events.Publish(events.Event{Type: api.EventRunMissed, RuleName: "nightly", Run: &relayed, Origin: "node-b"})

		msgs := e.a.waitN(t, 1)
		m := msgs[0]
		if m.Kind != notify.Missed || m.RunID != m1.ID || !m.Scheduled.Equal(fire) || !strings.HasPrefix(m.Error, "missed: expected a fire at") {
			t.Errorf("missed message = %+v", m)
		}
		if got, want := m.Subject(), "[jobbridge] nightly missed its fire of 2000-01-01 00:10 UTC: nothing arrived"; got != want {
			t.Errorf("missed subject = %q, want %q", got, want)
		}
		if !strings.Contains(m.Text(), "Fire:     2000-01-01T00:10:00Z\n") {
			t.Errorf("missed text lacks the fire time:\n%s", m.Text())
		}

		started := time.Now().UTC()
		slow, _, err := e.store.RunCreate(ctx, store.RunCreateParams{Run: store.Run{
			Rule: "nightly", Job: "outcome", Trigger: api.TriggerManual, StartedAt: started, WarnAfter: 10 * time.Minute,
		}})
		if err != nil {
			t.Fatal(err)
		}
		e.events.Publish(events.Event{Type: api.EventRunSlow, RuleName: "nightly", Run: &slow, Time: started.Add(12 * time.Minute)})
		msgs = e.a.waitN(t, 2)
		m = msgs[1]
		if m.Kind != notify.Slow || m.RunID != slow.ID || m.Running != 12*time.Minute || m.WarnAfter != 10*time.Minute {
			t.Errorf("slow message = %+v", m)
		}
		if got, want := m.Subject(), "[jobbridge] nightly is slow: run "+slow.ID[len(slow.ID)-8:]+" still running after 12m0s"; got != want {
			t.Errorf("slow subject = %q, want %q", got, want)
		}
		if !strings.Contains(m.Text(), "Running:  12m0s (warnAfter 10m0s)\n") {
			t.Errorf("slow text lacks how long:\n%s", m.Text())
		}
		e.a.quiet(t, 2)
		e.b.quiet(t, 2)
	})
}
