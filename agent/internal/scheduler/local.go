// Package scheduler holds the agent's local scheduler backend: with no AWS
// account, it fires enabled rules itself with EventBridge Scheduler's
// semantics (the same cron grammar, at second 0, in the rule's time zone
// with its daylight-saving rules, between the rule's start and end dates,
// rate() anchored at the start date or else the rule's creation). A rule
// with a flexible window fires at a point within the window after each fire
// time, chosen from the rule's name and the fire time
// (schedule.WindowOffset), so every agent and every restart picks the same.
//
// A fire goes through the same path as an EventBridge delivery (the runner's
// Fire) with an event id derived from the rule and the fire time, so the
// store's de-duplication guarantees a fire time never runs twice, even
// across a restart. Like EventBridge, it does not backfill by default: fire
// times missed while the agent was down (or asleep) are logged, not run. A
// rule whose catchUp is latest or all has them run when the scheduler starts
// firing (at start, or when this agent becomes the leader), marked
// trigger "catchup", with the event id they would have had (catchup.go).
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/retry"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/schedule"
)

// Store is what the scheduler reads: the rules, the latest scheduled run
// of a rule (to tell what was missed while the agent was down) and the
// fires recorded lately (to catch up the ones that were not).
type Store interface {
	RuleList(ctx context.Context) ([]store.Rule, error)
	RunList(ctx context.Context, f store.RunFilter) ([]store.Run, string, error)
	RunFiresBetween(ctx context.Context, from, to time.Time) ([]store.FireSeen, error)
	MaintenanceGet(ctx context.Context) (store.Maintenance, error)
}

// Firer starts a scheduled run; *runner.Runner is one.
type Firer interface {
	Fire(ctx context.Context, p runner.FireParams) (store.Run, bool, error)
}

// Config configures a Local scheduler.
type Config struct {
	Store  Store
	Firer  Firer
	Logger *slog.Logger // default: discard
	// Tolerance is how late a fire may still run (the agent was busy or
	// the machine slept). Later ones are missed. Default 1 minute.
	Tolerance time.Duration
	// Refresh is how often rules are re-read even without Reload, so changes
	// made by another process are seen. Default 1 minute.
	Refresh time.Duration
	// Leader, when set, says whether this agent may fire now: of several
	// agents on one PostgreSQL only the leader fires. The others keep their
	// fire times current, so the one that takes over fires the next ones.
	Leader func(ctx context.Context) (bool, error)
	// Now is the scheduler's clock. Default time.Now; a test that fixes it
	// (see agent/agenttest) sees no rule fire.
	Now func() time.Time
}

// Local fires rules on their schedules. Run it with Run; tell it that rules
// changed with Reload.
type Local struct {
	cfg     Config
	log     *slog.Logger
	reload  chan struct{}
	leading bool
	// behind says fires may have been missed since this agent last fired
	// (it just started, or was not the leader): catch up before firing.
	behind bool
}

// New returns a local scheduler.
func New(cfg Config) *Local {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Tolerance <= 0 {
		cfg.Tolerance = time.Minute
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Local{cfg: cfg, log: cfg.Logger, reload: make(chan struct{}, 1), behind: true}
}

// Reload asks the scheduler to re-read the rules now. It never blocks.
func (s *Local) Reload() {
	select {
	case s.reload <- struct{}{}:
	default:
	}
}

// EventID is the event id of the local scheduler's fire of rule at t.
func EventID(rule string, t time.Time) string {
	return "local:" + rule + ":" + t.UTC().Format(time.RFC3339)
}

// entry is a rule the scheduler tracks and its next fire time.
type entry struct {
	rule  store.Rule
	sched *schedule.Schedule
	next  time.Time // the fire time, as the run's scheduled time
	due   time.Time // when it fires: next plus the window's offset
	ok    bool      // false: it never fires again
}

// advance moves e to its first fire time after t.
func (e *entry) advance(t time.Time) {
	e.next, e.ok = e.sched.Next(t)
	e.due = e.next
	if e.ok {
		e.due = dueAt(e.rule, e.next)
	}
}

// advanceDue moves e to its first fire that is due after t: with a window,
// a fire time up to a window before t may still be due after it, unless it
// came before the rule was created.
func (e *entry) advanceDue(t time.Time) {
	from := t.Add(-e.rule.FlexibleWindow - time.Nanosecond)
	if from.Before(e.rule.CreatedAt) {
		from = e.rule.CreatedAt
	}
	e.advance(from)
	for e.ok && !e.due.After(t) {
		e.advance(e.next)
	}
}

// sameSchedule reports whether a and b fire at the same times.
func sameSchedule(a, b store.Rule) bool {
	return a.Schedule == b.Schedule && a.CreatedAt.Equal(b.CreatedAt) && a.Timezone == b.Timezone &&
		a.StartDate.Equal(b.StartDate) && a.EndDate.Equal(b.EndDate) && a.FlexibleWindow == b.FlexibleWindow
}

// Run fires rules until ctx is done.
func (s *Local) Run(ctx context.Context) error {
	entries := make(map[string]*entry)
	s.load(ctx, entries, true)
	lastLoad := s.cfg.Now()
	if s.isLeader(ctx) {
		s.behind = !s.catchUp(ctx, entries, s.cfg.Now())
	}
	for {
		now := s.cfg.Now()
		wait := s.cfg.Refresh - now.Sub(lastLoad)
		for _, e := range entries {
			if e.ok && e.due.Sub(now) < wait {
				wait = e.due.Sub(now)
			}
		}
		timer := time.NewTimer(max(wait, 0))
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-s.reload:
			timer.Stop()
			s.load(ctx, entries, false)
			lastLoad = s.cfg.Now()
			continue
		case <-timer.C:
		}
		now = s.cfg.Now()
		if s.isLeader(ctx) {
			if s.behind {
				s.behind = !s.catchUp(ctx, entries, now)
			}
			s.fireAllDue(ctx, entries, now)
		} else {
			s.behind = true
			for _, e := range entries {
				s.skipDue(e, now)
			}
		}
		if now.Sub(lastLoad) >= s.cfg.Refresh {
			s.load(ctx, entries, false)
			lastLoad = s.cfg.Now()
		}
	}
}

// load re-reads the rules into entries. A rule whose schedule, anchor and
// enabled state are unchanged keeps its next fire time; others get the first
// fire time after now. At start (first), it logs fire times missed since the
// rule last fired.
func (s *Local) load(ctx context.Context, entries map[string]*entry, first bool) {
	rules, err := s.cfg.Store.RuleList(ctx)
	if err != nil {
		s.log.Error("scheduler: reading rules failed; keeping the ones known", "err", err)
		return
	}
	now := s.cfg.Now()
	seen := make(map[string]bool, len(rules))
	for _, rule := range rules {
		seen[rule.Name] = true
		if !rule.Enabled {
			delete(entries, rule.Name)
			continue
		}
		if old, ok := entries[rule.Name]; ok && sameSchedule(old.rule, rule) {
			old.rule = rule
			continue
		}
		sched, err := rule.FireSchedule(rule.CreatedAt)
		if err != nil {
			s.log.Error("scheduler: rule has an invalid schedule; not firing it", "rule", rule.Name, "schedule", rule.Schedule, "err", err)
			delete(entries, rule.Name)
			continue
		}
		e := &entry{rule: rule, sched: sched}
		e.advanceDue(now)
		entries[rule.Name] = e
		if first && e.rule.Policy.CatchUp != api.CatchUpLatest && e.rule.Policy.CatchUp != api.CatchUpAll {
			s.logMissed(ctx, e, now)
		}
		if !e.ok {
			s.log.Info("scheduler: rule never fires again", "rule", rule.Name, "schedule", rule.Schedule)
		}
	}
	for name := range entries {
		if !seen[name] {
			delete(entries, name)
		}
	}
}

// logMissed logs the fire times of e after its last scheduled run up to
// now: the first one the scheduler will run is after now.
func (s *Local) logMissed(ctx context.Context, e *entry, now time.Time) {
	runs, _, err := s.cfg.Store.RunList(ctx, store.RunFilter{Rule: e.rule.Name, Trigger: api.TriggerSchedule, Limit: 1})
	if err != nil || len(runs) == 0 {
		return
	}
	last := runs[0].ScheduledAt
	if last.IsZero() {
		last = runs[0].CreatedAt
	}
	missed, first := 0, time.Time{}
	for t, ok := e.sched.Next(last); ok && !t.After(now) && missed < 100_000; t, ok = e.sched.Next(t) {
		if missed == 0 {
			first = t
		}
		missed++
	}
	if missed > 0 {
		s.log.Warn("scheduler: fire times passed while the agent was down were not run (EventBridge does not backfill either)",
			"rule", e.rule.Name, "missed", missed, "first", first, "lastRun", last)
	}
}

// isLeader asks the leadership, once per wake-up.
func (s *Local) isLeader(ctx context.Context) bool {
	if s.cfg.Leader == nil {
		return true
	}
	ok, err := s.cfg.Leader(ctx)
	if err != nil {
		s.log.Warn("scheduler: cannot tell who leads; not firing", "err", err)
		return false
	}
	if ok != s.leading {
		s.leading = ok
		if ok {
			s.log.Info("scheduler: this agent now fires the schedules (leader)")
		}
	}
	return ok
}

// skipDue moves a follower's fire times past now: the leader fires them.
func (s *Local) skipDue(e *entry, now time.Time) {
	if e.ok && !e.due.After(now) {
		e.advanceDue(now)
	}
}

// fireConcurrency is how many rules the leader fires at once. Rules that
// fire at the same minute (a midnight burst of thousands) are recorded
// together, a batch per commit (see store's group commit), rather than one
// commit after the other.
const fireConcurrency = 64

// fireAllDue fires every entry that is due, several at once; each entry's
// own fire times go in order.
func (s *Local) fireAllDue(ctx context.Context, entries map[string]*entry, now time.Time) {
	sem := make(chan struct{}, fireConcurrency)
	var wg sync.WaitGroup
	for _, e := range entries {
		if !e.ok || e.due.After(now) {
			continue
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s.fireDue(ctx, e, now)
		})
	}
	wg.Wait()
}

// fireDue fires e for every due fire time that is not too late, and logs the
// ones that are.
func (s *Local) fireDue(ctx context.Context, e *entry, now time.Time) {
	for e.ok && !e.due.After(now) {
		if late := now.Sub(e.due); late > s.cfg.Tolerance {
			s.log.Warn("scheduler: missed a fire time (the agent was busy or the machine slept)",
				"rule", e.rule.Name, "fireTime", e.next, "late", late.Round(time.Second))
			// Resume at the first fire still within the tolerance.
			e.advanceDue(now.Add(-s.cfg.Tolerance - time.Nanosecond))
			continue
		}
		s.fire(ctx, e.rule.Name, e.next, api.TriggerSchedule)
		e.advance(e.next)
	}
}

// fire starts the run for one fire time, retrying briefly while the
// database is unavailable; the event id makes retries safe.
func (s *Local) fire(ctx context.Context, rule string, at time.Time, trigger api.Trigger) {
	p := runner.FireParams{Rule: rule, EventID: EventID(rule, at), At: at, By: "scheduler", Trigger: trigger}
	policy := retry.Policy{
		Backoff:   retry.Backoff{First: 2 * time.Second, Max: 6 * time.Second}, // 2s, 4s, 6s
		Attempts:  4,
		Retryable: func(err error) bool { return errors.Is(err, store.ErrUnavailable) },
		OnRetry: func(attempt int, _ time.Duration, err error) {
			s.log.Warn("scheduler: database unavailable, retrying the fire", "rule", rule, "fireTime", at, "attempt", attempt, "err", err)
		},
	}
	var created bool
	run, err := retry.Value(ctx, policy, func(ctx context.Context) (store.Run, error) {
		run, c, err := s.cfg.Firer.Fire(ctx, p)
		created = c
		return run, err
	})
	switch {
	case err == nil && created:
		s.log.Info("scheduler: fired", "rule", rule, "fireTime", at, "trigger", trigger, "run", run.ID, "status", run.Status)
	case err == nil:
		s.log.Debug("scheduler: fire time already run", "rule", rule, "fireTime", at, "run", run.ID)
	case errors.Is(err, runner.ErrRuleDisabled), errors.Is(err, runner.ErrUnknownRule):
		// changed under us; the next load drops it
	case errors.Is(err, runner.ErrShuttingDown), ctx.Err() != nil:
	default:
		s.log.Error("scheduler: fire failed", "rule", rule, "fireTime", at, "err", fmt.Errorf("fire: %w", err))
	}
}

// Mode names the backend.
func (s *Local) Mode() string { return "local" }

// RuleChanged tells the scheduler a rule changed: it re-reads the rules.
// It keeps no sync state.
func (s *Local) RuleChanged(context.Context, store.Rule) store.Sync {
	s.Reload()
	return store.Sync{}
}

// RuleDeleted tells the scheduler a rule was deleted: it re-reads the rules.
func (s *Local) RuleDeleted(context.Context, store.Rule) { s.Reload() }
