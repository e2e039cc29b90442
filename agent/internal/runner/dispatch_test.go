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
	t.Run("jitter", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			s := storetesting.Open(t, "sqlite")
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
	})
}
