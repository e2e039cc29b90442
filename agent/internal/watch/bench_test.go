//go:build unix

package watch

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/shared/api"
)

// BenchmarkMinuteOf10000Rules measures what the dead-man's switch costs
// with 10,000 enabled rules: a third cron every minute, a third
// rate(5 minutes), a third hourly. Each op is one virtual minute, from the
// hour on: the fires of the minute are recorded (untimed; one in a hundred
// is withheld, to be found missed) and their events observed, then the
// checks of the minute run at its deadlines, as Run would (the minute's
// fires are due together, so every 15 s). It reports, per minute, the
// agent's CPU time (user + system: with SQLite the database's too, with
// PostgreSQL not the server's) and the longest check, which bounds how
// long after its deadline a miss is found.
//
//	go test ./agent/internal/watch -run '^$' -bench MinuteOf10000Rules -benchtime 10x -count 3
func BenchmarkMinuteOf10000Rules(b *testing.B) {
	for _, mode := range []string{ModeLocal, ModeEventBridge} {
		for _, kind := range storetesting.Kinds {
			b.Run(mode+"/"+kind, func(b *testing.B) { benchMinutes(b, kind, mode) })
		}
	}
}

const benchRules = 10_000

func benchMinutes(b *testing.B, kind, mode string) {
	ctx := context.Background()
	s := storetesting.Open(b, kind)
	schedules := []string{"cron(* * * * ? *)", "rate(5 minutes)", "cron(0 * * * ? *)"}
	parallel(b, benchRules, func(i int) error {
		_, err := s.RuleCreate(ctx, store.Rule{
			Name: fmt.Sprintf("rule-%05d", i), Job: "noop", Schedule: schedules[i%3], Enabled: true,
		})
		return err
	})
	// Virtual time from the next hour but one: every rule was created
	// before, and the first minute has every kind of fire.
	base := time.Now().UTC().Truncate(time.Hour).Add(2 * time.Hour)
	w := New(Config{Store: s, Events: events.NewBroker(0), Mode: mode, Node: "bench"})
	w.started = base.Add(-time.Minute)
	w.load(ctx)
	if len(w.entries) != benchRules {
		b.Fatalf("watching %d rules, want %d", len(w.entries), benchRules)
	}
	var cpu, longest time.Duration
	missed := 0
	b.ResetTimer()
	for m := range b.N {
		b.StopTimer()
		minute := base.Add(time.Duration(m) * time.Minute)
		fires := w.firesIn(minute, minute.Add(time.Minute), mode)
		recorded := make([]store.Run, len(fires))
		missed += len(fires) / 100
		parallel(b, len(fires), func(i int) error {
			if i%100 == 99 {
				return nil // withheld
			}
			r, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: store.Run{
				Rule: fires[i].Rule, Job: "noop", Status: api.StatusSkipped, Trigger: api.TriggerSchedule,
				ScheduledAt: fires[i].ScheduledAt, EventID: fmt.Sprintf("bench:%s:%d", fires[i].Rule, fires[i].ScheduledAt.Unix()),
			}})
			recorded[i] = r
			return err
		})
		b.StartTimer()
		before := cpuTime()
		for i := range recorded {
			if recorded[i].ID != "" {
				w.observe(events.Event{Type: api.EventRunSkipped, RuleName: recorded[i].Rule, Run: &recorded[i]})
			}
		}
		deadline := minute.Add(DefaultGrace)
		for tick := range 4 {
			start := time.Now()
			if err := w.check(ctx, deadline.Add(time.Duration(tick)*DefaultTick)); err != nil {
				b.Fatal(err)
			}
			longest = max(longest, time.Since(start))
		}
		cpu += cpuTime() - before
	}
	b.StopTimer()
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/min")
	b.ReportMetric(float64(longest.Milliseconds()), "max-check-ms")
	if got := w.Missing(); missed > 0 && got == 0 {
		b.Errorf("%d fires withheld, no rule missing", missed)
	}
}

// firesIn lists the fires of the watched rules in [from, to), as the
// scheduler or AWS would make them (AWS's rate() counted from the rule's
// change, to the minute).
func (w *Watch) firesIn(from, to time.Time, mode string) []store.FireSeen {
	var out []store.FireSeen
	for _, e := range w.entries {
		sched := e.sched
		if mode != ModeLocal && e.interval {
			sched = sched.WithAnchor(e.rule.UpdatedAt)
		}
		for t, ok := sched.Next(from.Add(-time.Nanosecond)); ok && t.Before(to); t, ok = sched.Next(t) {
			out = append(out, store.FireSeen{Rule: e.rule.Name, ScheduledAt: t})
		}
	}
	return out
}

// parallel runs f(0..n-1) on 32 goroutines.
func parallel(b *testing.B, n int, f func(i int) error) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	next := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
