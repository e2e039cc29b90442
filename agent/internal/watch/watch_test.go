package watch_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/agent/internal/watch"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// The tests run in a synctest bubble: time is virtual and starts at
// 2000-01-01T00:00:00Z, so fire times are known. The store is real.

var t0 = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func at(hms string) time.Time {
	d, err := time.ParseDuration(hms)
	if err != nil {
		panic(err)
	}
	return t0.Add(d)
}

type noop struct{}

func (noop) ID() string                             { return "noop" }
func (noop) Description() string                    { return "does nothing" }
func (noop) Params() []jobs.Param                   { return nil }
func (noop) Run(context.Context, jobs.Params) error { return nil }

// env is an agent's parts the watch works with: a store, the runner
// that records fires (as the local scheduler and the webhook do) and the
// broker between them.
type env struct {
	store  store.Store
	events *events.Broker
	runner *runner.Runner
	watch  *watch.Watch
	mode   string

	mu     sync.Mutex
	missed []store.Run // run.missed events published
}

func newEnv(t *testing.T, kind, mode string) *env {
	t.Helper()
	s := storetesting.Open(t, kind)
	return newEnvOn(t, s, mode, "node-1")
}

// newEnvOn starts an agent's watch on s; several may share a PostgreSQL
// store.
func newEnvOn(t *testing.T, s store.Store, mode, node string) *env {
	t.Helper()
	reg := jobs.NewRegistry()
	if err := reg.Register(noop{}); err != nil {
		t.Fatal(err)
	}
	b := events.NewBroker(0)
	r, err := runner.New(runner.Config{Store: s, Jobs: reg, Events: b, Node: node})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: s, events: b, runner: r, mode: mode}
	_, ch, _, cancelSub := b.Subscribe(0)
	go func() {
		for ev := range ch {
			if ev.Type == api.EventRunMissed {
				e.mu.Lock()
				e.missed = append(e.missed, *ev.Run)
				e.mu.Unlock()
			}
		}
	}()
	e.watch = watch.New(watch.Config{Store: s, Events: b, Mode: mode, Node: node})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.watch.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cancelSub()
		_ = r.Shutdown(context.Background())
	})
	return e
}

func (e *env) rule(t *testing.T, name, schedule string) store.Rule {
	t.Helper()
	r, err := e.store.RuleCreate(context.Background(), store.Rule{Name: name, Job: "noop", Schedule: schedule, Enabled: true})
	if err != nil {
		t.Fatalf("create rule %s: %v", name, err)
	}
	return r
}

// fire records the fire of rule at fireTime now, as the local scheduler
// does (its time) or EventBridge (its event time, a few seconds later).
func (e *env) fire(t *testing.T, rule string, fireTime time.Time) {
	t.Helper()
	p := runner.FireParams{Rule: rule, At: fireTime, EventID: "local:" + rule + ":" + fireTime.Format(time.RFC3339), By: "scheduler"}
	if e.mode != watch.ModeLocal {
		p.At = fireTime.Add(3 * time.Second)
		p.EventID, p.By, p.RecordDisabled = "eb-"+fireTime.Format(time.RFC3339), "eventbridge", true
	}
	if _, _, err := e.runner.Fire(context.Background(), p); err != nil {
		t.Fatalf("fire %s at %s: %v", rule, fireTime, err)
	}
}

// sleepUntil advances the virtual clock to t and lets the watch act.
func sleepUntil(t time.Time) {
	time.Sleep(time.Until(t))
	synctest.Wait()
}

func (e *env) missedRuns(t *testing.T) []store.Run {
	t.Helper()
	runs, _, err := e.store.RunList(context.Background(), store.RunFilter{Statuses: []api.RunStatus{api.StatusMissed}})
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func (e *env) published() []store.Run {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]store.Run(nil), e.missed...)
}

func (e *env) wantMissing(t *testing.T, rule string, want time.Time) {
	t.Helper()
	got, ok := e.watch.MissedFire(rule)
	switch {
	case want.IsZero() && ok:
		t.Errorf("at %s rule %s is missing its fire at %s, want not missing", time.Now().Format("15:04:05"), rule, got.Format("15:04:05"))
	case !want.IsZero() && (!ok || !got.Equal(want)):
		t.Errorf("at %s rule %s: missing %v (%s), want missing its fire at %s", time.Now().Format("15:04:05"), rule, ok, got.Format("15:04:05"), want.Format("15:04:05"))
	}
}

func TestMissedFireIsRecordedAndALateOneClearsIt(t *testing.T) {
	for _, mode := range []string{watch.ModeLocal, watch.ModeEventBridge} {
		t.Run(mode, func(t *testing.T) {
			for _, kind := range storetesting.Kinds {
				t.Run(kind, func(t *testing.T) {
					t.Parallel()
					synctest.Test(t, func(t *testing.T) { testMissedAndLate(t, kind, mode) })
				})
			}
		})
	}
}

func testMissedAndLate(t *testing.T, kind, mode string) {
	e := newEnv(t, kind, mode)
	e.rule(t, "every5", "cron(0/5 * * * ? *)")

	sleepUntil(at("5m"))
	e.fire(t, "every5", at("5m"))
	sleepUntil(at("7m1s")) // past the 00:05 fire's deadline
	if runs := e.missedRuns(t); len(runs) != 0 {
		t.Fatalf("a fire that came was taken for missed: %+v", runs)
	}
	e.wantMissing(t, "every5", time.Time{})

	// 00:10 does not come: missed at 00:12 (grace 2m), within a second.
	sleepUntil(at("11m59s"))
	if runs := e.missedRuns(t); len(runs) != 0 {
		t.Fatalf("missed before the grace passed: %+v", runs)
	}
	sleepUntil(at("12m1s"))
	runs := e.missedRuns(t)
	if len(runs) != 1 {
		t.Fatalf("missed runs at 00:12:01: %d, want 1 (the 00:10 fire)", len(runs))
	}
	r := runs[0]
	if !r.ScheduledAt.Equal(at("10m")) || r.Trigger != api.TriggerSchedule || r.Rule != "every5" || r.Job != "noop" ||
		r.EventID != "missed:every5:2000-01-01T00:10:00Z" || !r.FinishedAt.Equal(r.CreatedAt) || !r.StartedAt.IsZero() {
		t.Errorf("the missed run: %+v", r)
	}
	if want := "missed: expected a fire at 2000-01-01T00:10:00Z (grace 2m0s); nothing arrived."; !strings.HasPrefix(r.Error, want) {
		t.Errorf("its error: %q, want it to start %q", r.Error, want)
	}
	wantHint := map[string]string{watch.ModeLocal: "local scheduler", watch.ModeEventBridge: "connection may be deauthorized"}[mode]
	if !strings.Contains(r.Error, wantHint) {
		t.Errorf("its error: %q, want a hint about %q", r.Error, wantHint)
	}
	if pub := e.published(); len(pub) != 1 || pub[0].ID != r.ID {
		t.Errorf("run.missed events: %+v, want one of run %s", pub, r.ID)
	}
	e.wantMissing(t, "every5", at("10m"))
	if n := e.watch.Missing(); n != 1 {
		t.Errorf("Missing() = %d, want 1", n)
	}

	// EventBridge retries: the 00:10 delivery arrives late and clears it.
	sleepUntil(at("13m"))
	e.fire(t, "every5", at("10m"))
	synctest.Wait()
	e.wantMissing(t, "every5", time.Time{})
	if n := e.watch.Missing(); n != 0 {
		t.Errorf("Missing() after the late fire = %d, want 0", n)
	}

	sleepUntil(at("15m"))
	e.fire(t, "every5", at("15m"))
	sleepUntil(at("17m30s"))
	if runs := e.missedRuns(t); len(runs) != 1 {
		t.Errorf("missed runs after a fire that came: %d, want still 1", len(runs))
	}
}

// In the EventBridge backends rate() fire times are AWS's: each interval
// from the rule's change on must hold some fire.
func TestMissedIntervalOfAnAWSRate(t *testing.T) {
	for _, kind := range storetesting.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, kind, watch.ModeEventBridge)
				e.rule(t, "rate5", "rate(5 minutes)")
				// AWS fires at 00:05, 00:10 (withheld), 00:15; the watch
				// expects from 00:01 on (a minute for the change to spread):
				// [00:01, 00:06), [00:06, 00:11) by 00:13, ...
				sleepUntil(at("5m"))
				e.fire(t, "rate5", at("5m"))
				sleepUntil(at("12m59s"))
				if runs := e.missedRuns(t); len(runs) != 0 {
					t.Fatalf("missed while every interval had a fire: %+v", runs)
				}
				sleepUntil(at("13m1s"))
				runs := e.missedRuns(t)
				if len(runs) != 1 || !runs[0].ScheduledAt.Equal(at("6m")) {
					t.Fatalf("missed runs at 00:13:01: %+v, want one for the interval from 00:06", runs)
				}
				if want := "expected a fire between 2000-01-01T00:06:00Z and 2000-01-01T00:11:00Z (rate(5 minutes)"; !strings.Contains(runs[0].Error, want) {
					t.Errorf("its error: %q, want %q", runs[0].Error, want)
				}
				e.wantMissing(t, "rate5", at("6m"))
				sleepUntil(at("14m"))
				e.fire(t, "rate5", at("10m")) // the late delivery
				synctest.Wait()
				e.wantMissing(t, "rate5", time.Time{})
				sleepUntil(at("15m"))
				e.fire(t, "rate5", at("15m"))
				sleepUntil(at("18m30s"))
				if runs := e.missedRuns(t); len(runs) != 1 {
					t.Errorf("missed runs: %d, want still 1", len(runs))
				}
			})
		})
	}
}

// Nothing is expected of a disabled rule, nor while maintenance is on.
func TestNoMissWhenDisabledOrInMaintenance(t *testing.T) {
	for _, kind := range storetesting.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				e := newEnv(t, kind, watch.ModeLocal)
				ctx := context.Background()
				off := e.rule(t, "off", "cron(* * * * ? *)")
				off.Enabled = false
				off, err := e.store.RuleUpdate(ctx, off)
				if err != nil {
					t.Fatal(err)
				}
				e.events.Publish(events.Event{Type: api.EventRuleChanged, RuleName: off.Name, Rule: &off})
				e.rule(t, "on", "cron(* * * * ? *)")
				if err := e.store.MaintenanceSet(ctx, store.Maintenance{On: true, Until: at("10m"), Reason: "upgrade"}); err != nil {
					t.Fatal(err)
				}
				sleepUntil(at("10m"))
				if runs := e.missedRuns(t); len(runs) != 0 {
					t.Fatalf("missed runs in maintenance: %+v", runs)
				}
				// Maintenance ended at 00:10: the fires from 00:10 on are
				// expected, of the enabled rule only.
				sleepUntil(at("13m1s"))
				var got []string
				for _, r := range e.missedRuns(t) {
					got = append(got, r.Rule+"@"+r.ScheduledAt.Format("15:04"))
				}
				if want := "on@00:11 on@00:10"; strings.Join(got, " ") != want {
					t.Fatalf("missed runs at 00:13:01: %v, want %s", got, want)
				}
			})
		})
	}
}

// Several agents on one PostgreSQL each watch; a miss is recorded and
// published once.
func TestSeveralAgentsRecordAMissOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := storetesting.Open(t, "postgres")
		a := newEnvOn(t, s, watch.ModeEventBridge, "node-a")
		b := newEnvOn(t, s, watch.ModeEventBridge, "node-b")
		a.rule(t, "hourly", "cron(0 * * * ? *)")
		sleepUntil(at("2h3m"))
		runs := a.missedRuns(t)
		if len(runs) != 2 {
			t.Fatalf("missed runs: %d, want 2 (01:00 and 02:00), each once", len(runs))
		}
		if n := len(a.published()) + len(b.published()); n != 2 {
			t.Errorf("run.missed events published by the two agents: %d, want 2", n)
		}
		a.wantMissing(t, "hourly", at("2h"))
		b.wantMissing(t, "hourly", at("2h"))

		// An AWS rate() is checked by interval: an agent started later
		// checks the same intervals, so each is recorded once too.
		a.rule(t, "rate7", "rate(7 minutes)")
		sleepUntil(at("2h5m30s"))
		c := newEnvOn(t, s, watch.ModeEventBridge, "node-c")
		sleepUntil(at("2h40m"))
		var got []string
		for _, r := range a.missedRuns(t) {
			if r.Rule == "rate7" {
				got = append(got, r.ScheduledAt.Format("15:04"))
			}
		}
		// Intervals from 02:04 (the change at 02:03, plus a minute), due
		// 2 minutes after each ends; c checks them from 02:11 on.
		if want := "02:25 02:18 02:11 02:04"; strings.Join(got, " ") != want {
			t.Errorf("missed intervals of rate7: %v, want %s", got, want)
		}
		if n := len(a.published()) + len(b.published()) + len(c.published()); n != 2+4 {
			t.Errorf("run.missed events published by the three agents: %d, want 6", n)
		}
	})
}

// After a restart, a rule whose missed fire was not followed by one is
// still missing; the next fire that comes clears it.
func TestMissingSurvivesARestart(t *testing.T) {
	for _, kind := range storetesting.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := storetesting.Open(t, kind)
				first := newEnvOn(t, s, watch.ModeLocal, "node-1")
				first.rule(t, "every5", "cron(0/5 * * * ? *)")
				first.rule(t, "quiet", "cron(0/5 * * * ? *)")
				sleepUntil(at("5m"))
				first.fire(t, "every5", at("5m"))
				sleepUntil(at("7m1s"))
				first.wantMissing(t, "quiet", at("5m"))
				first.wantMissing(t, "every5", time.Time{})

				again := newEnvOn(t, s, watch.ModeLocal, "node-1") // as the agent starts again
				synctest.Wait()
				again.wantMissing(t, "quiet", at("5m"))
				again.wantMissing(t, "every5", time.Time{})
				sleepUntil(at("10m"))
				again.fire(t, "quiet", at("10m"))
				synctest.Wait()
				again.wantMissing(t, "quiet", time.Time{})
			})
		})
	}
}
