package scheduler

import (
	"context"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/schedule"
)

// DefaultCatchUpWindow is how far back catch-up looks for a rule whose
// policy names no window (the service stores its own default, the same).
const DefaultCatchUpWindow = time.Hour

// catchUp runs the fires that rules with a catchUp policy missed while no
// agent fired them: called when the scheduler starts firing (at start, and
// when this agent becomes the leader). A missed fire is a fire time inside
// the rule's window, not before the rule was created, due by now (its
// flexible window's point passed), before the entry's next fire and with no
// run recorded. "latest" runs the most recent of those after the last fire
// that did run; "all" runs each, oldest first. Each goes through the runner
// with the event id the scheduler would have used at the time, so a fire
// never runs twice, whichever agent gets to it. It reports false if the
// recorded fires could not be read: the caller tries again later.
func (s *Local) catchUp(ctx context.Context, entries map[string]*entry, now time.Time) bool {
	var todo []*entry
	oldest := now
	for _, e := range entries {
		if e.rule.Policy.CatchUp != api.CatchUpLatest && e.rule.Policy.CatchUp != api.CatchUpAll {
			continue
		}
		todo = append(todo, e)
		if from := now.Add(-catchUpWindow(e.rule)); from.Before(oldest) {
			oldest = from
		}
	}
	if len(todo) == 0 {
		return true
	}
	maint, err := s.cfg.Store.MaintenanceGet(ctx)
	if err != nil {
		s.log.Error("scheduler: reading the maintenance mode failed; catching up later", "err", err)
		return false
	}
	seen, err := s.cfg.Store.RunFiresBetween(ctx, oldest, now.Add(time.Second))
	if err != nil {
		s.log.Error("scheduler: reading the recorded fires failed; catching up later", "err", err)
		return false
	}
	ran := make(map[string]map[int64]bool)
	for _, f := range seen {
		if f.Status == api.StatusMissed {
			continue // the dead-man's switch recorded that it did not come
		}
		if ran[f.Rule] == nil {
			ran[f.Rule] = make(map[int64]bool)
		}
		ran[f.Rule][f.ScheduledAt.Unix()] = true
	}
	sem := make(chan struct{}, fireConcurrency)
	var wg sync.WaitGroup
	for _, e := range todo {
		missed := missedFires(e, now, ran[e.rule.Name], maint)
		if len(missed) == 0 {
			continue
		}
		s.log.Info("scheduler: catching up fires missed while no agent fired them",
			"rule", e.rule.Name, "catchUp", e.rule.Policy.CatchUp, "fires", len(missed), "first", missed[0])
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			for _, at := range missed {
				s.fire(ctx, e.rule.Name, at, api.TriggerCatchUp)
			}
		})
	}
	wg.Wait()
	return true
}

// missedFires lists e's fire times to catch up at now, oldest first; ran
// holds the fire times (Unix seconds) that have a run. A fire during
// maintenance counts as handled: it would have been skipped.
func missedFires(e *entry, now time.Time, ran map[int64]bool, maint store.Maintenance) []time.Time {
	// Nothing from before the rule's last change counts: it was disabled,
	// or had another schedule, then.
	from := now.Add(-catchUpWindow(e.rule))
	if from.Before(e.rule.CreatedAt) {
		from = e.rule.CreatedAt
	}
	if from.Before(e.rule.UpdatedAt) {
		from = e.rule.UpdatedAt
	}
	var missed []time.Time
	for t, ok := e.sched.Next(from); ok && !t.After(now); t, ok = e.sched.Next(t) {
		if e.ok && !t.Before(e.next) {
			break // the scheduler fires it in its time
		}
		if dueAt(e.rule, t).After(now) {
			continue
		}
		if ran[t.Unix()] || maint.Covered(t) {
			if e.rule.Policy.CatchUp == api.CatchUpLatest {
				missed = missed[:0] // a later fire ran: the older ones are behind it
			}
			continue
		}
		missed = append(missed, t)
	}
	if e.rule.Policy.CatchUp == api.CatchUpLatest && len(missed) > 1 {
		missed = missed[len(missed)-1:]
	}
	return missed
}

// catchUpWindow is rule's catch-up window.
func catchUpWindow(rule store.Rule) time.Duration {
	if w := rule.Policy.CatchUpWindow; w > 0 {
		return w
	}
	return DefaultCatchUpWindow
}

// dueAt is when rule's fire time t fires: t, plus the flexible window's
// offset.
func dueAt(rule store.Rule, t time.Time) time.Time {
	if rule.FlexibleWindow > 0 {
		return t.Add(schedule.WindowOffset(rule.Name, t, rule.FlexibleWindow))
	}
	return t
}
