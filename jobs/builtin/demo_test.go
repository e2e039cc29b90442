package builtin_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
)

func TestDemoCompletesWithProgressAndLogLines(t *testing.T) {
	t.Parallel()
	ctx, _, rec := runContext(t)
	job := builtin.NewDemo()
	start := time.Now()
	err := job.Run(ctx, resolve(t, job, map[string]string{"duration": "100ms", "steps": "5"}))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(start); took < 100*time.Millisecond || took > 2*time.Second {
		t.Errorf("Run took %s, want about the 100ms asked", took)
	}
	var steps []string
	for _, l := range rec.Lines() {
		if strings.HasPrefix(l.msg, "step ") {
			if l.level != slog.LevelInfo {
				t.Errorf("step line %q at level %s, want INFO", l.msg, l.level)
			}
			steps = append(steps, l.msg)
		}
	}
	if got, want := strings.Join(steps, ","), "step 1/5,step 2/5,step 3/5,step 4/5,step 5/5"; got != want {
		t.Errorf("step log lines = %s, want %s; log:%s", got, want, rec.dump())
	}
	progress := rec.Progresses()
	if len(progress) != 6 { // step 0 and the five steps
		t.Fatalf("got %d progress reports %v, want 6", len(progress), progress)
	}
	for i, p := range progress {
		if want := (progressReport{i * 20, fmt.Sprintf("step %d/5", i)}); p != want {
			t.Errorf("progress report %d = %+v, want %+v", i, p, want)
		}
	}
}

func TestDemoFailsWhenAsked(t *testing.T) {
	t.Parallel()
	ctx, _, rec := runContext(t)
	job := builtin.NewDemo()
	err := job.Run(ctx, resolve(t, job, map[string]string{"duration": "20ms", "steps": "2", "fail": "true"}))
	if err == nil || err.Error() != "demo: failing as asked (fail=true)" {
		t.Fatalf("Run error = %v, want the asked-for failure", err)
	}
	if p := rec.Progresses(); p[len(p)-1].percent != 100 {
		t.Errorf("last progress = %+v, want the work done before failing", p[len(p)-1])
	}
}

// The demo job waits on timers only, so the cancellation tests run in a
// synctest bubble: the run is cancelled once it waits for its first step,
// and the times measured are exact.
func TestDemoStopsPromptlyWhenCancelled(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel, rec := runContext(t)
		job := builtin.NewDemo()
		done := runAsync(ctx, job, resolve(t, job, map[string]string{"duration": "10s"}))
		synctest.Wait() // the run waits for its first step
		cancel()
		cancelledAt := time.Now()
		err := waitErr(t, done, time.Second)
		if took := time.Since(cancelledAt); took != 0 {
			t.Errorf("Run returned %s after the cancel, want at once", took)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run error = %v, want one wrapping context.Canceled", err)
		}
		if !rec.hasLine(slog.LevelWarn, "cancelled at step 0/10") {
			t.Errorf("no warning about the cancellation in the log:%s", rec.dump())
		}
	})
}

func TestDemoIgnoresCancelWhenAsked(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel, rec := runContext(t)
		job := builtin.NewDemo()
		start := time.Now()
		done := runAsync(ctx, job, resolve(t, job, map[string]string{"duration": "150ms", "steps": "3", "ignore_cancel": "true"}))
		synctest.Wait() // the run waits for its first step
		cancel()
		err := waitErr(t, done, 2*time.Second)
		if took := time.Since(start); took < 150*time.Millisecond {
			t.Errorf("Run returned after %s, want it to keep going for the whole 150ms", took)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run error = %v, want one wrapping context.Canceled (the run was still cancelled)", err)
		}
		if !rec.hasLine(slog.LevelWarn, "noticed the cancellation") {
			t.Errorf("no line saying the cancellation was noticed:%s", rec.dump())
		}
		if p := rec.Progresses(); p[len(p)-1].percent != 100 {
			t.Errorf("last progress = %+v, want 100", p[len(p)-1])
		}
	})
}

func TestDemoPanicsHalfwayWhenAsked(t *testing.T) {
	t.Parallel()
	ctx, _, rec := runContext(t)
	job := builtin.NewDemo()
	params := resolve(t, job, map[string]string{"duration": "40ms", "steps": "4", "panic": "true"})
	var recovered any
	func() {
		defer func() { recovered = recover() }()
		_ = job.Run(ctx, params)
	}()
	if recovered == nil {
		t.Fatal("Run returned without panicking")
	}
	if p := rec.Progresses(); p[len(p)-1].percent != 50 {
		t.Errorf("panicked at progress %+v, want halfway (50)", p[len(p)-1])
	}
}

// Steps out of range and a negative duration are refused when the values
// are resolved (a rule saved, a run triggered), naming the parameter, and
// by Run if it is given them anyway.
func TestDemoRefusesBadStepsAndANegativeDuration(t *testing.T) {
	t.Parallel()
	ctx, _, _ := runContext(t)
	job := builtin.NewDemo()
	for _, c := range []struct{ param, value, want string }{
		{"steps", "0", "steps: 0 is not between 1 and 1000"},
		{"steps", "-3", "steps: -3 is not between 1 and 1000"},
		{"steps", "1001", "steps: 1001 is not between 1 and 1000"},
		{"duration", "-5s", "duration: -5s is negative"},
	} {
		_, err := jobs.Resolve(job, map[string]string{c.param: c.value})
		var ve *jobs.ValidationError
		if !errors.As(err, &ve) || len(ve.Fields) != 1 || ve.Fields[0].Param != c.param || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%s: Resolve error = %v, want one problem saying %q", c.param, c.value, err, c.want)
		}
		params := jobs.Params{"duration": "10ms", "steps": "1", c.param: c.value}
		if err := job.Run(ctx, params); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s=%s: Run error = %v, want it refused", c.param, c.value, err)
		}
	}
}
