package builtin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jobbridge/jobbridge/jobs"
)

// demoMaxSteps bounds steps so a typo cannot flood the run's log.
const demoMaxSteps = 1000

// Demo is a long-running job for demos, tests and newcomers: it works for a
// given duration in steps, reporting progress and a log line at each, and
// stops promptly when its context is cancelled. Parameters let it fail, panic
// or ignore cancellation on purpose, to exercise the runner.
type Demo struct{}

// NewDemo returns the demo job.
func NewDemo() *Demo { return &Demo{} }

// ID implements jobs.Job.
func (*Demo) ID() string { return "demo" }

// Description implements jobs.Job.
func (*Demo) Description() string {
	return "Works for a while in steps, reporting progress and log lines; stops promptly when cancelled."
}

// Params implements jobs.Job.
func (*Demo) Params() []jobs.Param {
	return []jobs.Param{
		{Name: "duration", Type: jobs.TypeDuration, Default: "10s", Description: "How long the job works in total."},
		{Name: "steps", Type: jobs.TypeInt, Default: "10", Description: fmt.Sprintf("How many progress steps the work is split into (1-%d).", demoMaxSteps)},
		{Name: "fail", Type: jobs.TypeBool, Default: "false", Description: "Fail at the end instead of succeeding."},
		{Name: "ignore_cancel", Type: jobs.TypeBool, Default: "false", Description: "Keep working until the duration ends even when cancelled, to show the cancelling state."},
		{Name: "panic", Type: jobs.TypeBool, Default: "false", Description: "Panic halfway, to test the runner's panic recovery."},
	}
}

// Validate implements jobs.Validator: a negative duration and a number of
// steps out of range are refused when a rule is saved, not at every run.
func (*Demo) Validate(params jobs.Params) []jobs.FieldError {
	_, problems := demoConfigFrom(params)
	return problems
}

type demoConfig struct {
	duration     time.Duration
	steps        int
	fail         bool
	ignoreCancel bool
	panic        bool
}

func demoConfigFrom(params jobs.Params) (demoConfig, []jobs.FieldError) {
	var c demoConfig
	var problems []jobs.FieldError
	problem := func(param string, err error) {
		problems = append(problems, jobs.FieldError{Param: param, Reason: err.Error()})
	}
	var err error
	if c.duration, err = params.Duration("duration"); err != nil {
		problem("duration", err)
	} else if c.duration < 0 {
		problem("duration", fmt.Errorf("%s is negative", c.duration))
	}
	steps, err := params.Int("steps")
	if err != nil {
		problem("steps", err)
	} else if steps < 1 || steps > demoMaxSteps {
		problem("steps", fmt.Errorf("%d is not between 1 and %d", steps, demoMaxSteps))
	}
	c.steps = int(steps)
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"fail", &c.fail}, {"ignore_cancel", &c.ignoreCancel}, {"panic", &c.panic}} {
		if *b.dst, err = params.Bool(b.name); err != nil {
			problem(b.name, err)
		}
	}
	return c, problems
}

// Run implements jobs.Job. Step i is due at i/steps of the duration after the
// start, so slow reporting does not stretch the total.
func (*Demo) Run(ctx context.Context, params jobs.Params) error {
	c, problems := demoConfigFrom(params)
	if len(problems) > 0 {
		return fmt.Errorf("demo: read parameters: %w", &jobs.ValidationError{Job: "demo", Fields: problems})
	}
	log := jobs.Logger(ctx)
	log.Info("demo: starting", "duration", c.duration, "steps", c.steps)
	jobs.Progress(ctx, 0, fmt.Sprintf("step 0/%d", c.steps))

	start := time.Now()
	due := func(step int) time.Time {
		return start.Add(time.Duration(float64(c.duration) * float64(step) / float64(c.steps)))
	}
	timer := time.NewTimer(time.Until(due(1)))
	defer timer.Stop()
	cancelled := ctx.Done()
	for step := 1; step <= c.steps; step++ {
		if step > 1 {
			timer.Reset(time.Until(due(step)))
		}
	wait:
		for {
			select {
			case <-timer.C:
				break wait
			case <-cancelled:
				if !c.ignoreCancel {
					log.Warn(fmt.Sprintf("demo: cancelled at step %d/%d", step-1, c.steps))
					return fmt.Errorf("demo: cancelled at step %d/%d: %w", step-1, c.steps, ctx.Err())
				}
				log.Warn("demo: noticed the cancellation; carrying on until the end as asked (ignore_cancel=true)")
				cancelled = nil // a nil channel never fires: stop watching
			}
		}
		msg := fmt.Sprintf("step %d/%d", step, c.steps)
		log.Info(msg)
		jobs.Progress(ctx, step*100/c.steps, msg)
		if c.panic && step == (c.steps+1)/2 {
			panic("demo: panicking as asked (panic=true)")
		}
	}
	if err := ctx.Err(); err != nil {
		// Only reached with ignore_cancel: the run was still cancelled.
		return fmt.Errorf("demo: finished despite the cancellation (ignore_cancel=true): %w", err)
	}
	if c.fail {
		return errors.New("demo: failing as asked (fail=true)")
	}
	log.Info("demo: done")
	return nil
}
