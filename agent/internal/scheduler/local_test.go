package scheduler_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/scheduler"
	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// fakes: the scheduler only reads rules and starts runs, so a test can run
// it in a synctest bubble where time is virtual and exact.
type fakeStore struct {
	mu      sync.Mutex
	rules   []store.Rule
	lastRun map[string]store.Run
}

func (f *fakeStore) RuleList(context.Context) ([]store.Rule, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.Rule(nil), f.rules...), nil
}

func (f *fakeStore) RunList(_ context.Context, flt store.RunFilter) ([]store.Run, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.lastRun[flt.Rule]; ok {
		return []store.Run{r}, "", nil
	}
	return nil, "", nil
}

func (f *fakeStore) RunFiresBetween(context.Context, time.Time, time.Time) ([]store.FireSeen, error) {
	return nil, nil
}

func (f *fakeStore) MaintenanceGet(context.Context) (store.Maintenance, error) {
	return store.Maintenance{}, nil
}

func (f *fakeStore) setRules(rules ...store.Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = rules
}

type fire struct {
	params runner.FireParams
	when   time.Time // the (virtual) time the fire happened
}

type fakeFirer struct {
	mu    sync.Mutex
	fires []fire
	seen  map[string]bool
}

func (f *fakeFirer) Fire(_ context.Context, p runner.FireParams) (store.Run, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen == nil {
		f.seen = map[string]bool{}
	}
	if f.seen[p.EventID] {
		return store.Run{ID: "dup"}, false, nil
	}
	f.seen[p.EventID] = true
	f.fires = append(f.fires, fire{p, time.Now()})
	return store.Run{ID: p.EventID}, true, nil
}

func (f *fakeFirer) take() []fire {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.fires
	f.fires = nil
	return out
}

// start runs the scheduler in the bubble and returns a stop function.
func start(s *scheduler.Local) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		_ = s.Run(ctx)
		close(done)
	}()
	return func() {
		cancel()
		<-done
	}
}

func rfc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestFiresAtTheRightMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The bubble's clock starts at 2000-01-01T00:00:00Z.
		created := time.Now().Add(30 * time.Second)
		st := &fakeStore{rules: []store.Rule{
			{Name: "five", Schedule: "cron(0/5 * * * ? *)", Enabled: true, CreatedAt: created},
			{Name: "rate", Schedule: "rate(7 minutes)", Enabled: true, CreatedAt: created},
			{Name: "off", Schedule: "cron(* * * * ? *)", Enabled: false, CreatedAt: created},
		}}
		f := &fakeFirer{}
		stop := start(scheduler.New(scheduler.Config{Store: st, Firer: f}))
		time.Sleep(16 * time.Minute)
		stop()

		var got []string
		for _, fr := range f.take() {
			if !fr.when.Equal(fr.params.At) {
				t.Errorf("%s fired at %s for fire time %s, want exactly on time", fr.params.Rule, fr.when, fr.params.At)
			}
			if fr.params.EventID != scheduler.EventID(fr.params.Rule, fr.params.At) || fr.params.By != "scheduler" {
				t.Errorf("fire %+v: want the derived event id and By scheduler", fr.params)
			}
			got = append(got, fr.params.Rule+"@"+fr.params.At.Format("15:04:05"))
		}
		want := "five@00:05:00 rate@00:07:00 five@00:10:00 rate@00:14:00 five@00:15:00"
		if strings.Join(got, " ") != want {
			t.Errorf("fires = %s\nwant    %s", strings.Join(got, " "), want)
		}
	})
}

func TestReloadPicksUpChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStore{}
		f := &fakeFirer{}
		s := scheduler.New(scheduler.Config{Store: st, Firer: f, Refresh: time.Hour})
		stop := start(s)
		defer stop()
		time.Sleep(90 * time.Second) // 00:01:30
		st.setRules(store.Rule{Name: "new", Schedule: "cron(* * * * ? *)", Enabled: true, CreatedAt: time.Now()})
		s.Reload()
		time.Sleep(time.Minute) // 00:02:30: fired at 00:02
		if got := f.take(); len(got) != 1 || !got[0].params.At.Equal(rfc("2000-01-01T00:02:00Z")) {
			t.Fatalf("after adding a rule: fires %+v, want one at 00:02", got)
		}
		st.setRules(store.Rule{Name: "new", Schedule: "cron(* * * * ? *)", Enabled: false, CreatedAt: time.Now()})
		s.Reload()
		time.Sleep(3 * time.Minute)
		if got := f.take(); len(got) != 0 {
			t.Fatalf("after disabling: fires %+v, want none", got)
		}
	})
}

func TestRefreshSeesChangesWithoutReload(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStore{}
		f := &fakeFirer{}
		stop := start(scheduler.New(scheduler.Config{Store: st, Firer: f, Refresh: time.Minute}))
		defer stop()
		time.Sleep(10 * time.Second)
		st.setRules(store.Rule{Name: "r", Schedule: "cron(0/2 * * * ? *)", Enabled: true, CreatedAt: time.Now()})
		time.Sleep(5 * time.Minute) // refreshed at 00:01, fires 00:02 and 00:04
		if got := f.take(); len(got) != 2 {
			t.Fatalf("fires %+v, want 2 after the periodic refresh", got)
		}
	})
}

func TestMissedFireTimesAreLoggedNotRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, nil))
		now := time.Now()
		st := &fakeStore{
			rules:   []store.Rule{{Name: "hourly", Schedule: "cron(0 * * * ? *)", Enabled: true, CreatedAt: now.Add(-24 * time.Hour)}},
			lastRun: map[string]store.Run{"hourly": {ScheduledAt: now.Add(-5 * time.Hour)}},
		}
		f := &fakeFirer{}
		stop := start(scheduler.New(scheduler.Config{Store: st, Firer: f, Logger: log}))
		time.Sleep(30 * time.Minute)
		stop()
		if got := f.take(); len(got) != 0 {
			t.Errorf("missed fire times were run: %+v", got)
		}
		// 19:00 (the last run) → 20:00, 21:00, 22:00, 23:00, 00:00 were missed.
		if !strings.Contains(logs.String(), "rule=hourly missed=5 first=1999-12-31T20:00:00.000Z") {
			t.Errorf("log does not report the 5 missed fire times:\n%s", logs.String())
		}
	})
}

func TestLateWakeUpSkipsStaleFireTimes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A Firer that takes three minutes on its first call holds the loop,
		// so the next fire times are late when it gets to them.
		st := &fakeStore{rules: []store.Rule{{Name: "m", Schedule: "cron(* * * * ? *)", Enabled: true, CreatedAt: time.Now()}}}
		slow := &slowFirer{delay: 3 * time.Minute}
		stop := start(scheduler.New(scheduler.Config{Store: st, Firer: slow, Tolerance: time.Minute}))
		time.Sleep(5*time.Minute + 30*time.Second)
		stop()
		var got []string
		for _, p := range slow.fires {
			got = append(got, p.At.Format("15:04"))
		}
		// 00:01 takes until 00:04; 00:02 is too late (2m), 00:03 within a minute.
		if strings.Join(got, " ") != "00:01 00:03 00:04 00:05" {
			t.Errorf("fired %v, want 00:01 00:03 00:04 00:05", got)
		}
	})
}

type slowFirer struct {
	delay time.Duration
	fires []runner.FireParams
}

func (f *slowFirer) Fire(_ context.Context, p runner.FireParams) (store.Run, bool, error) {
	f.fires = append(f.fires, p)
	if len(f.fires) == 1 {
		time.Sleep(f.delay)
	}
	return store.Run{}, true, nil
}

func TestOnlyTheLeaderFires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStore{rules: []store.Rule{{Name: "m", Schedule: "cron(* * * * ? *)", Enabled: true, CreatedAt: time.Now()}}}
		f := &fakeFirer{}
		var mu sync.Mutex
		leader := false
		s := scheduler.New(scheduler.Config{Store: st, Firer: f, Leader: func(context.Context) (bool, error) {
			mu.Lock()
			defer mu.Unlock()
			return leader, nil
		}})
		stop := start(s)
		defer stop()
		time.Sleep(3*time.Minute + 30*time.Second)
		if got := f.take(); len(got) != 0 {
			t.Fatalf("a follower fired: %+v", got)
		}
		mu.Lock()
		leader = true // the leader died; this agent took over
		mu.Unlock()
		time.Sleep(2 * time.Minute)
		got := f.take()
		if len(got) != 2 || !got[0].params.At.Equal(rfc("2000-01-01T00:04:00Z")) {
			t.Errorf("after taking over: %+v, want 00:04 and 00:05 (no backlog of the follower's time)", got)
		}
	})
}

// busyFirer takes its time to record a run, as a database does, and
// counts how many fires are under way at once.
type busyFirer struct {
	fakeFirer
	took     time.Duration
	mu2      sync.Mutex
	now, top int
}

func (f *busyFirer) Fire(ctx context.Context, p runner.FireParams) (store.Run, bool, error) {
	f.mu2.Lock()
	f.now++
	f.top = max(f.top, f.now)
	f.mu2.Unlock()
	time.Sleep(f.took)
	f.mu2.Lock()
	f.now--
	f.mu2.Unlock()
	return f.fakeFirer.Fire(ctx, p)
}

// A burst of rules due at the same minute is fired together, not one
// record after the other: 1,000 rules whose runs each take 10ms to record
// all fire within a second of the minute, each once.
func TestABurstOfRulesFiresTogether(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		created := time.Now()
		var rules []store.Rule
		for i := range 1000 {
			rules = append(rules, store.Rule{Name: fmt.Sprintf("r%04d", i), Schedule: "cron(5 0 * * ? *)", Enabled: true, CreatedAt: created})
		}
		f := &busyFirer{took: 10 * time.Millisecond}
		stop := start(scheduler.New(scheduler.Config{Store: &fakeStore{rules: rules}, Firer: f}))
		time.Sleep(6 * time.Minute)
		stop()
		fires := f.take()
		seen := map[string]bool{}
		minute := rfc("2000-01-01T00:05:00Z")
		for _, fr := range fires {
			if seen[fr.params.Rule] {
				t.Fatalf("%s fired twice", fr.params.Rule)
			}
			seen[fr.params.Rule] = true
			if late := fr.when.Sub(minute); late > time.Second {
				t.Fatalf("%s fired %s after the minute; want all within a second (up to %d fires at once, at most %d)", fr.params.Rule, late, f.top, 64)
			}
		}
		if len(seen) != 1000 {
			t.Fatalf("%d rules fired, want 1000", len(seen))
		}
	})
}
