package burst

import (
	"context"
	"fmt"
	"time"
)

// Local mode's timing.
const (
	// createGuard is how long before the minute the last rule must have
	// been created: the agent's scheduler re-reads the rules after each
	// change, and a rule it reads after the minute waits for the next day.
	createGuard = 3 * time.Second
	// schedulerTolerance is how late the local scheduler still fires a
	// rule (scheduler.Config.Tolerance): later fires are missed, so past
	// it no run of the minute can start any more.
	schedulerTolerance = time.Minute
	// neverFires is the calibration rules' schedule: nothing fires it
	// while the harness runs.
	neverFires = "cron(0 0 1 1 ? 2199)"
)

// local measures local mode: every rule fires at one minute, chosen so that
// creating them ends before it.
func (b *bench) local(ctx context.Context) error {
	rate, err := b.calibrate(ctx)
	if err != nil {
		return err
	}
	names := ruleNames(b.cfg.Rules)
	estimate := time.Duration(float64(len(names)) / rate * float64(time.Second))
	start := time.Now()
	minute := targetMinute(start, leadTime(estimate))
	schedule := fmt.Sprintf("cron(%d %d * * ? *)", minute.Minute(), minute.Hour())
	b.progress("creating %d rules, schedule %s (about %s at %.0f rules/s; the minute %s is %s away)",
		len(names), schedule, estimate.Round(time.Second), rate, minute.Format("15:04 UTC"), minute.Sub(start).Round(time.Second))
	if err := createRules(ctx, b.api, names, schedule, b.cfg.Job, b.cfg.JobParams, true); err != nil {
		return err
	}
	created := time.Now()
	b.rep.CreateSeconds = seconds(created.Sub(start))
	left := minute.Sub(created)
	if left < createGuard {
		return fmt.Errorf("creating the %d rules took %s and ended %s before the minute %s they fire at: too late, it must end at least %s before it "+
			"(the estimate, %s at the %.0f rules/s measured on a first few, was too low: the machine was busier than when it was measured); "+
			"run it again, on a quieter machine or with fewer --rules",
			len(names), created.Sub(start).Round(100*time.Millisecond), left.Round(100*time.Millisecond), minute.Format("15:04:05 UTC"), createGuard,
			estimate.Round(time.Second), rate)
	}
	b.progress("rules created in %.1f s; waiting %s for the minute", b.rep.CreateSeconds, left.Round(time.Second))
	if err := sleepUntil(ctx, minute.Add(time.Second)); err != nil {
		return err
	}
	b.progress("the minute has come; waiting for the runs to finish")
	runs, err := b.collect(ctx, names, minute, minute.Add(schedulerTolerance+15*time.Second))
	if err != nil {
		return err
	}
	l := startFigures(names, runs, minute)
	l.CreatedBeforeSeconds = seconds(left)
	b.rep.Local = &l
	return nil
}

// calibrate measures how fast this agent creates rules, on a few rules that
// never fire and are deleted again, and returns rules per second.
func (b *bench) calibrate(ctx context.Context) (float64, error) {
	n := min(b.cfg.Rules, max(10, b.cfg.Rules/50), 200)
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("burst-calibrate-%03d", i+1)
	}
	start := time.Now()
	if err := createRules(ctx, b.api, names, neverFires, b.cfg.Job, b.cfg.JobParams, false); err != nil {
		return 0, fmt.Errorf("calibrate: %w", err)
	}
	took := time.Since(start)
	if err := deleteRules(ctx, b.api, names); err != nil {
		return 0, fmt.Errorf("calibrate: %w", err)
	}
	return float64(n) / max(took.Seconds(), 1e-3), nil
}

// leadTime is how far ahead of now the minute must be for rules whose
// creation is estimated to take estimate: half as long again, and 10 s,
// for a machine busier than when the estimate was made.
func leadTime(estimate time.Duration) time.Duration {
	return estimate*3/2 + 10*time.Second
}

// targetMinute is the first whole minute (UTC) at least lead after now.
func targetMinute(now time.Time, lead time.Duration) time.Time {
	t := now.Add(lead).UTC()
	m := t.Truncate(time.Minute)
	if m.Before(t) {
		m = m.Add(time.Minute)
	}
	return m
}

// sleepUntil waits until t or ctx's end.
func sleepUntil(ctx context.Context, t time.Time) error {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
