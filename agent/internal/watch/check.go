package watch

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// Bounds of one check.
const (
	// lookback: an expectation whose deadline passed longer ago than this
	// (the agent was stopped, asleep or cut off from its database) is
	// dropped unchecked rather than read over a long span.
	lookback = time.Hour
	// maxDuePerRule: at most this many expectations of one rule are
	// settled per check; the rest wait for the next.
	maxDuePerRule = 64
)

// due is an expectation whose deadline has passed.
type due struct {
	e *entry
	x expectation
}

// check settles every expectation whose deadline is at or before now.
func (w *Watch) check(ctx context.Context, now time.Time) error {
	m, err := w.cfg.Store.MaintenanceGet(ctx)
	if err != nil {
		return fmt.Errorf("read the maintenance mode: %w", err)
	}
	if m.On && (m.Until.IsZero() || now.Before(m.Until)) {
		// Fires are skipped in maintenance: expect the ones after it. (One
		// between this check and the end is recorded skipped, which counts.)
		for _, e := range w.entries {
			if e.exp.ok && !e.exp.from.After(now) {
				e.exp = e.first(now, w.cfg.Grace)
			}
		}
		return nil
	}
	var exact, interval []due
	next := make(map[*entry]expectation)
	var from, to time.Time
	dropped := 0
	for _, e := range w.entries {
		x, n := e.exp, 0
		for x.ok && !x.deadline.After(now) && n < maxDuePerRule {
			switch {
			case now.Sub(x.deadline) > lookback:
				dropped++
				x = e.first(now.Add(-lookback), w.cfg.Grace)
				if e.interval {
					e.exp = x
				} else {
					next[e] = x
				}
				continue
			case e.interval:
				interval = append(interval, due{e, x})
			default:
				exact = append(exact, due{e, x})
				if from.IsZero() || x.from.Before(from) {
					from = x.from
				}
				if x.to.After(to) {
					to = x.to
				}
			}
			x = e.next(x, w.cfg.Grace)
			n++
		}
		if n > 0 && !e.interval {
			next[e] = x
		}
	}
	if dropped > 0 {
		w.log.Warn("watch: fires expected too far in the past were not checked (was the agent stopped or asleep?)", "rules", dropped, "lookback", lookback)
	}
	if len(exact) > 0 {
		fires, err := w.cfg.Store.RunFiresBetween(ctx, from, to)
		if err != nil {
			return fmt.Errorf("read the fires from %s to %s: %w", from.Format(time.RFC3339), to.Format(time.RFC3339), err)
		}
		byRule := make(map[string][]store.FireSeen)
		for _, f := range fires {
			e := w.entries[f.Rule]
			switch {
			case e == nil:
			case e.interval:
				// Read anyway: it may spare an interval's own read.
				if f.Status != api.StatusMissed && f.ScheduledAt.After(e.seen) {
					e.seen = f.ScheduledAt
				}
			default:
				byRule[f.Rule] = append(byRule[f.Rule], f)
			}
		}
		var misses []miss
		for _, d := range exact {
			if m, ok := w.settle(d, byRule[d.e.rule.Name]); !ok {
				misses = append(misses, m)
			}
		}
		w.recordAll(ctx, misses)
	}
	for e, x := range next {
		e.exp = x
	}
	for _, d := range interval {
		if err := w.settleInterval(ctx, d); err != nil {
			return err // the rest waits for the next check
		}
		d.e.exp = d.e.next(d.x, w.cfg.Grace)
	}
	return nil
}

// miss is an expectation not met; recorded when a missed run says so
// already.
type miss struct {
	due
	recorded bool
}

// settle decides an exact expectation from the rule's fires in the span:
// ok if one came.
func (w *Watch) settle(d due, fires []store.FireSeen) (m miss, ok bool) {
	m.due = d
	for _, f := range fires {
		if f.ScheduledAt.Before(d.x.from) || !f.ScheduledAt.Before(d.x.to) {
			continue
		}
		if f.Status == api.StatusMissed {
			m.recorded = m.recorded || f.ScheduledAt.Equal(d.x.from)
			continue
		}
		w.arrived(d.e.rule.Name, f.ScheduledAt)
		return m, true
	}
	return m, false
}

// recordConcurrency is how many misses are recorded at once: a burst of
// them (AWS stopped calling every rule) goes in a few commits rather than
// one after the other.
const recordConcurrency = 64

// recordAll records the misses, several at once.
func (w *Watch) recordAll(ctx context.Context, misses []miss) {
	sem := make(chan struct{}, recordConcurrency)
	var wg sync.WaitGroup
	for _, m := range misses {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			w.miss(ctx, m.due, m.recorded)
		})
	}
	wg.Wait()
}

// settleInterval decides an interval expectation: a fire seen at or after
// its start satisfies it; without one, the rule's latest scheduled runs
// are read to be sure.
func (w *Watch) settleInterval(ctx context.Context, d due) error {
	if !d.e.seen.Before(d.x.from) {
		return nil
	}
	runs, _, err := w.cfg.Store.RunList(ctx, store.RunFilter{Rule: d.e.rule.Name, Trigger: api.TriggerSchedule, Limit: 5})
	if err != nil {
		return fmt.Errorf("read the latest runs of rule %q: %w", d.e.rule.Name, err)
	}
	recorded := false
	for _, r := range runs {
		switch {
		case r.ScheduledAt.Before(d.x.from):
		case r.Status == api.StatusMissed:
			recorded = recorded || r.ScheduledAt.Equal(d.x.from)
		default:
			w.arrived(d.e.rule.Name, r.ScheduledAt)
			return nil
		}
	}
	w.miss(ctx, d, recorded)
	return nil
}

// miss records that the expectation was not met, unless an agent did
// already, and marks the rule missing.
func (w *Watch) miss(ctx context.Context, d due, recorded bool) {
	rule, at := d.e.rule, d.x.from
	// Missing once recorded: what the API shows, the store has.
	defer w.setMissing(rule.Name, at)
	if recorded {
		return
	}
	run, created, err := w.cfg.Store.RunCreate(ctx, store.RunCreateParams{Run: store.Run{
		Rule: rule.Name, Job: rule.Job, Status: api.StatusMissed, Trigger: api.TriggerSchedule,
		ScheduledAt: at, EventID: EventID(rule.Name, at), TriggeredBy: "watch", Node: w.cfg.Node,
		Error: w.reason(d),
	}})
	if err != nil {
		w.log.Error("watch: recording a missed fire failed", "rule", rule.Name, "fireTime", at, "err", err)
		return
	}
	if !created {
		return // another agent recorded it, and says so
	}
	w.log.Warn("watch: an expected fire did not arrive", "rule", rule.Name, "fireTime", at, "grace", w.cfg.Grace, "run", run.ID)
	w.cfg.Events.Publish(events.Event{Type: api.EventRunMissed, RuleName: rule.Name, Run: &run})
}

// EventID is the event id of the missed run of rule's fire at t: the same
// on every agent, so that the store records it once.
func EventID(rule string, t time.Time) string {
	return "missed:" + rule + ":" + t.UTC().Format(time.RFC3339)
}

// reason is a missed run's error: what was expected, and where to look.
func (w *Watch) reason(d due) string {
	what := fmt.Sprintf("a fire at %s", d.x.from.UTC().Format(time.RFC3339))
	if d.e.interval {
		what = fmt.Sprintf("a fire between %s and %s (%s, whose exact times only AWS knows)",
			d.x.from.UTC().Format(time.RFC3339), d.x.from.Add(d.e.every).UTC().Format(time.RFC3339), d.e.rule.Schedule)
	}
	return fmt.Sprintf("missed: expected %s (grace %s); nothing arrived. %s", what, w.cfg.Grace, hint(w.cfg.Mode))
}

// hint says where to look when a fire does not arrive in a backend.
func hint(mode string) string {
	switch mode {
	case ModeEventBridge:
		return "EventBridge did not call the webhook: the connection may be deauthorized (its API key changed), " +
			"the rule deleted or disabled in AWS, or the API destination's URL wrong; " +
			"see the rule's sync state, POST /api/v1/sync and `agent aws doctor`."
	case ModeScheduler:
		return "EventBridge Scheduler did not reach the webhook: the schedule may be deleted or disabled in AWS, " +
			"the connection deauthorized (its API key changed), or the API destination's URL wrong; " +
			"see the rule's sync state, POST /api/v1/sync and `agent aws doctor`."
	}
	return "The local scheduler did not fire it: was the agent (on PostgreSQL, the scheduler's leader) stopped, busy or asleep?"
}

// loadMissing finds, at start, the rules whose latest missed fire has not
// been followed by a fire since: they are still missing. It reads the
// missed runs of the last lookbackMissing (at most 1000), and the latest
// runs of each rule that has one.
func (w *Watch) loadMissing(ctx context.Context) {
	runs, _, err := w.cfg.Store.RunList(ctx, store.RunFilter{
		Statuses: []api.RunStatus{api.StatusMissed}, Since: w.cfg.Now().Add(-lookbackMissing), Limit: 1000,
	})
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("watch: reading the missed fires failed; no rule is shown missing until its next miss", "err", err)
		}
		return
	}
	latest := make(map[string]time.Time)
	for _, r := range runs {
		if _, ok := w.entries[r.Rule]; ok && r.ScheduledAt.After(latest[r.Rule]) {
			latest[r.Rule] = r.ScheduledAt
		}
	}
	for rule, at := range latest {
		recent, _, err := w.cfg.Store.RunList(ctx, store.RunFilter{Rule: rule, Limit: 20})
		if err != nil {
			return
		}
		w.setMissing(rule, at)
		for _, r := range recent {
			if r.Status != api.StatusMissed && !r.ScheduledAt.IsZero() {
				w.arrived(rule, r.ScheduledAt)
			}
		}
	}
}

// lookbackMissing is how old a missed fire may be and still show its rule
// missing after a restart.
const lookbackMissing = 7 * 24 * time.Hour
