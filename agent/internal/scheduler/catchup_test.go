package scheduler_test

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/scheduler"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/schedule"
)

type noopJob struct{}

func (noopJob) ID() string                             { return "noop" }
func (noopJob) Description() string                    { return "does nothing" }
func (noopJob) Params() []jobs.Param                   { return nil }
func (noopJob) Run(context.Context, jobs.Params) error { return nil }

// eachStoreInBubble runs f as a parallel subtest for each kind of store, in
// a synctest bubble that also opens the store: PostgreSQL's connection pool
// cannot be shared across a bubble's edge.
func eachStoreInBubble(t *testing.T, f func(t *testing.T, s store.Store)) {
	for _, kind := range storetesting.Kinds {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				f(t, storetesting.Open(t, kind))
			})
		})
	}
}

// catchUpEnv is a real runner on a real store, in a synctest bubble whose
// clock starts at 2000-01-01T00:00:00Z.
type catchUpEnv struct {
	store  store.Store
	runner *runner.Runner
}

func newCatchUpEnv(t *testing.T, s store.Store, tweak ...func(*runner.Config)) *catchUpEnv {
	t.Helper()
	reg := jobs.NewRegistry()
	if err := reg.Register(noopJob{}); err != nil {
		t.Fatal(err)
	}
	cfg := runner.Config{Store: s, Jobs: reg, Events: events.NewBroker(0), Node: "n1", RuleCacheTTL: -1}
	for _, f := range tweak {
		f(&cfg)
	}
	r, err := runner.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
	return &catchUpEnv{store: s, runner: r}
}

// hourly stores an hourly rule created now with the given catch-up policy.
func (e *catchUpEnv) hourly(t *testing.T, catchUp api.CatchUp, window time.Duration) {
	t.Helper()
	_, err := e.store.RuleCreate(context.Background(), store.Rule{
		Name: "hourly", Job: "noop", Schedule: "cron(0 * * * ? *)", Enabled: true, CreatedAt: time.Now(),
		Policy: store.RunPolicy{CatchUp: catchUp, CatchUpWindow: window},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// scheduler runs a local scheduler on the env until the returned stop.
func (e *catchUpEnv) scheduler(leader func(context.Context) (bool, error)) (stop func()) {
	return start(scheduler.New(scheduler.Config{Store: e.store, Firer: e.runner, Leader: leader}))
}

// runs lists the rule's runs oldest first as "trigger@15:04".
func (e *catchUpEnv) runs(t *testing.T) []string {
	t.Helper()
	runs, _, err := e.store.RunList(context.Background(), store.RunFilter{Rule: "hourly", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range slices.Backward(runs) {
		if r.EventID != scheduler.EventID(r.Rule, r.ScheduledAt) {
			t.Errorf("run %s has event id %q, want the scheduler's %q", r.ID, r.EventID, scheduler.EventID(r.Rule, r.ScheduledAt))
		}
		out = append(out, string(r.Trigger)+"@"+r.ScheduledAt.UTC().Format("15:04"))
	}
	return out
}

// A scheduler runs from 00:00 to 01:30 (firing 01:00), the agent is down
// until 05:30 (02:00 to 05:00 missed) and starts again: what runs then
// depends on the rule's catchUp, inside its 3h window (03:00 to 05:00).
func TestCatchUpAfterDowntime(t *testing.T) {
	for _, tc := range []struct {
		catchUp api.CatchUp
		want    string
	}{
		{"", "schedule@01:00 schedule@06:00"},
		{api.CatchUpLatest, "schedule@01:00 catchup@05:00 schedule@06:00"},
		{api.CatchUpAll, "schedule@01:00 catchup@03:00 catchup@04:00 catchup@05:00 schedule@06:00"},
	} {
		t.Run("catchUp="+string(tc.catchUp), func(t *testing.T) {
			eachStoreInBubble(t, func(t *testing.T, s store.Store) {
				e := newCatchUpEnv(t, s)
				e.hourly(t, tc.catchUp, 3*time.Hour)
				stop := e.scheduler(nil)
				time.Sleep(90 * time.Minute)
				stop()
				time.Sleep(4 * time.Hour) // down until 05:30
				stop = e.scheduler(nil)
				time.Sleep(time.Minute)
				synctest.Wait()
				caughtUp := strings.Join(e.runs(t), " ")
				time.Sleep(30 * time.Minute) // 06:00 fires as usual
				stop()
				// Another start finds nothing more to catch up.
				stop = e.scheduler(nil)
				time.Sleep(time.Minute)
				stop()
				if got := strings.Join(e.runs(t), " "); got != tc.want {
					t.Errorf("runs = %s\nwant   %s\n(after the restart at 05:30: %s)", got, tc.want, caughtUp)
				}
			})
		})
	}
}

// A fire another agent already ran (it has a run with the same event id)
// is not run again, and for "latest" a later fire that ran means nothing is
// behind.
func TestCatchUpSkipsFiresThatRan(t *testing.T) {
	for _, tc := range []struct {
		catchUp api.CatchUp
		ran     []string // fire times recorded while the scheduler was down
		want    string
	}{
		{api.CatchUpAll, []string{"04:00"}, "schedule@04:00 catchup@03:00 catchup@05:00"},
		{api.CatchUpLatest, []string{"03:00"}, "schedule@03:00 catchup@05:00"},
		{api.CatchUpLatest, []string{"05:00"}, "schedule@05:00"},
	} {
		t.Run(string(tc.catchUp)+"/ran="+strings.Join(tc.ran, ","), func(t *testing.T) {
			eachStoreInBubble(t, func(t *testing.T, s store.Store) {
				e := newCatchUpEnv(t, s)
				e.hourly(t, tc.catchUp, 3*time.Hour)
				time.Sleep(5*time.Hour + 30*time.Minute)
				for _, hm := range tc.ran {
					at := rfc("2000-01-01T" + hm + ":00Z")
					_, _, err := e.runner.Fire(context.Background(), runner.FireParams{
						Rule: "hourly", EventID: scheduler.EventID("hourly", at), At: at, By: "scheduler",
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				stop := e.scheduler(nil)
				time.Sleep(time.Minute)
				stop()
				if got := strings.Join(e.runs(t), " "); got != tc.want {
					t.Errorf("runs = %s\nwant   %s", got, tc.want)
				}
			})
		})
	}
}

// Fires from while the rule was disabled are not caught up: the window
// starts at the rule's last change (enabling it again).
func TestCatchUpNotFromWhileTheRuleWasDisabled(t *testing.T) {
	eachStoreInBubble(t, func(t *testing.T, s store.Store) {
		e := newCatchUpEnv(t, s)
		e.hourly(t, api.CatchUpAll, 6*time.Hour)
		stop := e.scheduler(nil)
		time.Sleep(90 * time.Minute) // 01:00 fires
		stop()
		ctx := context.Background()
		r, err := s.RuleGet(ctx, "hourly")
		if err != nil {
			t.Fatal(err)
		}
		r.Enabled, r.UpdatedAt = false, time.Now()
		if r, err = s.RuleUpdate(ctx, r); err != nil { // the version the next update expects
			t.Fatal(err)
		}
		time.Sleep(3*time.Hour + 40*time.Minute) // 05:10: enabled again
		r.Enabled, r.UpdatedAt = true, time.Now()
		if _, err := s.RuleUpdate(ctx, r); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Minute) // 05:30: the scheduler starts
		stop = e.scheduler(nil)
		time.Sleep(time.Minute)
		stop()
		if got, want := strings.Join(e.runs(t), " "), "schedule@01:00"; got != want {
			t.Errorf("runs = %s\nwant   %s (nothing from while it was disabled)", got, want)
		}
	})
}

// Fires that fell in a maintenance window while the agent was down are not
// caught up once it ended: they would have been skipped.
func TestCatchUpSkipsFiresOfAMaintenanceWindow(t *testing.T) {
	eachStoreInBubble(t, func(t *testing.T, s store.Store) {
		e := newCatchUpEnv(t, s)
		e.hourly(t, api.CatchUpAll, 6*time.Hour)
		stop := e.scheduler(nil)
		time.Sleep(80 * time.Minute) // 01:00 fires; the agent stops at 01:20
		stop()
		ctx := context.Background()
		// Maintenance from 01:30 to 03:30, ended by then.
		on := store.Maintenance{On: true, Since: rfc("2000-01-01T01:30:00Z"), Until: rfc("2000-01-01T03:30:00Z")}
		if err := s.MaintenanceSet(ctx, on.Ended(on.Until)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3*time.Hour + 20*time.Minute) // back at 04:40
		stop = e.scheduler(nil)
		time.Sleep(time.Minute)
		stop()
		if got, want := strings.Join(e.runs(t), " "), "schedule@01:00 catchup@04:00"; got != want {
			t.Errorf("runs = %s\nwant   %s (02:00 and 03:00 fell in maintenance)", got, want)
		}
	})
}

// A fire the dead-man's switch recorded missed did not run: catch-up runs
// it.
func TestCatchUpRunsAFireRecordedMissed(t *testing.T) {
	eachStoreInBubble(t, func(t *testing.T, s store.Store) {
		e := newCatchUpEnv(t, s)
		e.hourly(t, api.CatchUpLatest, 3*time.Hour)
		time.Sleep(5*time.Hour + 30*time.Minute)
		at := rfc("2000-01-01T05:00:00Z")
		_, _, err := s.RunCreate(context.Background(), store.RunCreateParams{Run: store.Run{
			Rule: "hourly", Job: "noop", Status: api.StatusMissed, Trigger: api.TriggerSchedule,
			EventID: "missed:hourly:" + at.Format(time.RFC3339), ScheduledAt: at, Error: "missed: expected a fire at 05:00",
		}})
		if err != nil {
			t.Fatal(err)
		}
		stop := e.scheduler(nil)
		time.Sleep(time.Minute)
		stop()
		runs, _, err := s.RunList(context.Background(), store.RunFilter{Rule: "hourly", Trigger: api.TriggerCatchUp})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 || !runs[0].ScheduledAt.Equal(at) {
			t.Fatalf("catch-up runs %+v, want one for the fire at 05:00 that was recorded missed", runs)
		}
	})
}

// A follower that becomes the leader (the leader died at 01:30) catches up
// what no one fired meanwhile; while it follows it runs nothing.
func TestCatchUpWhenBecomingLeader(t *testing.T) {
	eachStoreInBubble(t, func(t *testing.T, s store.Store) {
		e := newCatchUpEnv(t, s)
		e.hourly(t, api.CatchUpAll, 3*time.Hour)
		var leading atomic.Bool
		stop := e.scheduler(func(context.Context) (bool, error) { return leading.Load(), nil })
		defer stop()
		time.Sleep(5*time.Hour + 30*time.Minute)
		if got := e.runs(t); len(got) != 0 {
			t.Fatalf("a follower ran %v", got)
		}
		leading.Store(true)
		time.Sleep(2 * time.Minute) // it asks at its next wake-up, within a minute
		want := "catchup@03:00 catchup@04:00 catchup@05:00"
		if got := strings.Join(e.runs(t), " "); got != want {
			t.Errorf("runs after taking over = %s\nwant   %s", got, want)
		}
	})
}

// The window bounds what is caught up, and so does the rule's creation: a
// rule created at 03:30 with a 12h window catches up 04:00 and 05:00 only.
func TestCatchUpNotBeforeTheRuleWasCreated(t *testing.T) {
	eachStoreInBubble(t, func(t *testing.T, s store.Store) {
		e := newCatchUpEnv(t, s)
		time.Sleep(3*time.Hour + 30*time.Minute)
		e.hourly(t, api.CatchUpAll, 12*time.Hour)
		time.Sleep(2 * time.Hour) // 05:30
		stop := e.scheduler(nil)
		time.Sleep(time.Minute)
		stop()
		if got, want := strings.Join(e.runs(t), " "), "catchup@04:00 catchup@05:00"; got != want {
			t.Errorf("runs = %s\nwant   %s", got, want)
		}
	})
}

// A caught-up fire of a rule whose job this agent lacks is recorded failed,
// as a scheduled fire is, not lost.
func TestCatchUpOfAnUnknownJobIsRecordedFailed(t *testing.T) {
	eachStoreInBubble(t, func(t *testing.T, s store.Store) {
		e := newCatchUpEnv(t, s)
		_, err := s.RuleCreate(context.Background(), store.Rule{
			Name: "hourly", Job: "gone", Schedule: "cron(0 * * * ? *)", Enabled: true, CreatedAt: time.Now(),
			Policy: store.RunPolicy{CatchUp: api.CatchUpLatest, CatchUpWindow: time.Hour},
		})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(90 * time.Minute)
		stop := e.scheduler(nil)
		time.Sleep(time.Second)
		stop()
		runs, _, err := s.RunList(context.Background(), store.RunFilter{Rule: "hourly"})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 || runs[0].Trigger != api.TriggerCatchUp || runs[0].Status != api.StatusFailed ||
			!strings.Contains(runs[0].Error, `job "gone" is not registered`) {
			t.Errorf("runs %+v, want one failed catch-up of 01:00 saying the job is not registered", runs)
		}
	})
}

// With a flexible window, a fire whose point in the window has not come
// yet when the scheduler starts is not missed: it runs at that point as a
// scheduled fire; only those whose point passed are caught up.
func TestCatchUpWithAFlexibleWindow(t *testing.T) {
	eachStoreInBubble(t, func(t *testing.T, s store.Store) {
		e := newCatchUpEnv(t, s)
		_, err := s.RuleCreate(context.Background(), store.Rule{
			Name: "hourly", Job: "noop", Schedule: "cron(0 * * * ? *)", Enabled: true, CreatedAt: time.Now(),
			FlexibleWindow: time.Hour, Policy: store.RunPolicy{CatchUp: api.CatchUpAll, CatchUpWindow: 3 * time.Hour},
		})
		if err != nil {
			t.Fatal(err)
		}
		// Start again between 05:00 and its point in the window.
		five := rfc("2000-01-01T05:00:00Z")
		off := schedule.WindowOffset("hourly", five, time.Hour)
		if off < 2*time.Minute {
			t.Fatalf("05:00's point is %s into its window: too early to start before it", off)
		}
		time.Sleep(time.Until(five.Add(off / 2)))
		restart := time.Now()
		var want []string
		var later []string
		for _, hm := range []string{"03:00", "04:00", "05:00"} {
			at := rfc("2000-01-01T" + hm + ":00Z")
			if at.Add(schedule.WindowOffset("hourly", at, time.Hour)).After(restart) {
				later = append(later, "schedule@"+hm)
			} else {
				want = append(want, "catchup@"+hm)
			}
		}
		want = append(want, later...)
		stop := e.scheduler(nil)
		time.Sleep(time.Hour) // every point of 05:00's window has passed
		stop()
		var got []string
		for _, r := range e.runs(t) {
			if !strings.HasSuffix(r, "@06:00") {
				got = append(got, r)
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("runs = %s\nwant   %s", strings.Join(got, " "), strings.Join(want, " "))
		}
	})
}
