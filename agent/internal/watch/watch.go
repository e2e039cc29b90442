package watch

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// Store is what the watch reads and writes.
type Store interface {
	RuleList(ctx context.Context) ([]store.Rule, error)
	RunList(ctx context.Context, f store.RunFilter) ([]store.Run, string, error)
	RunFiresBetween(ctx context.Context, from, to time.Time) ([]store.FireSeen, error)
	RunCreate(ctx context.Context, p store.RunCreateParams) (store.Run, bool, error)
	MaintenanceGet(ctx context.Context) (store.Maintenance, error)
}

// The scheduler modes the watch knows; others ("off") expect nothing.
const (
	ModeLocal       = "local"
	ModeEventBridge = "eventbridge"
	ModeScheduler   = "scheduler"
)

// Defaults of Config.
const (
	DefaultGrace   = 2 * time.Minute
	DefaultTick    = 15 * time.Second
	DefaultMinGap  = 5 * time.Second
	DefaultRefresh = 5 * time.Minute
)

// Config configures a Watch.
type Config struct {
	Store  Store
	Events *events.Broker
	// Mode is the scheduler backend's: local, eventbridge or scheduler.
	Mode string
	// Grace is how long after its time (and flexible window) a fire may
	// come before it is missed. Default DefaultGrace.
	Grace time.Duration
	// Tick is the longest wait between two checks; MinGap the shortest,
	// however near the next deadline. Defaults DefaultTick, DefaultMinGap.
	Tick, MinGap time.Duration
	// Refresh is how often every rule is read again, for changes whose
	// event was lost. Default DefaultRefresh.
	Refresh time.Duration
	// Node names this agent in the missed runs it records.
	Node   string
	Logger *slog.Logger // default: discard
	// Now is the watch's clock. Default time.Now.
	Now func() time.Time
}

// Watch is the dead-man's switch. Run it with Run; ask it what is missing
// with MissedFire and Missing from any goroutine.
type Watch struct {
	cfg     Config
	log     *slog.Logger
	started time.Time

	// Run's own: the rules followed, by name, and the next check.
	entries map[string]*entry
	wake    time.Time

	mu      sync.Mutex
	missing map[string]time.Time // rule → the missed fire time
}

// New returns a watch.
func New(cfg Config) *Watch {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.MinGap <= 0 {
		cfg.MinGap = DefaultMinGap
	}
	if cfg.Refresh <= 0 {
		cfg.Refresh = DefaultRefresh
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Watch{cfg: cfg, log: cfg.Logger, entries: make(map[string]*entry), missing: make(map[string]time.Time)}
}

// MissedFire returns the fire time the rule missed, if it is missing.
func (w *Watch) MissedFire(rule string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.missing[rule]
	return t, ok
}

// Missing counts the rules that are missing a fire.
func (w *Watch) Missing() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.missing)
}

// setMissing records that rule missed the fire at t, unless it is missing
// a later one already.
func (w *Watch) setMissing(rule string, t time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if cur, ok := w.missing[rule]; !ok || t.After(cur) {
		w.missing[rule] = t
	}
}

// arrived records a fire of rule at t: it clears a miss at or before t.
func (w *Watch) arrived(rule string, t time.Time) {
	w.mu.Lock()
	if cur, ok := w.missing[rule]; ok && !t.Before(cur) {
		delete(w.missing, rule)
		w.log.Info("watch: a fire arrived; the rule is no longer missing", "rule", rule, "missed", cur, "fireTime", t)
	}
	w.mu.Unlock()
	if e := w.entries[rule]; e != nil && t.After(e.seen) {
		e.seen = t
	}
}

// forget drops what is missing of a rule that is disabled or deleted.
func (w *Watch) forget(rule string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.missing, rule)
}

// aws reports whether the rules fire in AWS.
func (w *Watch) aws() bool { return w.cfg.Mode == ModeEventBridge || w.cfg.Mode == ModeScheduler }

// subscriberBuffer lets a burst of fires (thousands at midnight) pass
// while a check runs without the watch being dropped.
const subscriberBuffer = 16384

// Run watches until ctx is done.
func (w *Watch) Run(ctx context.Context) error {
	w.started = w.cfg.Now()
	_, ch, _, cancel := w.cfg.Events.SubscribeBuffered(0, subscriberBuffer)
	defer func() { cancel() }()
	w.load(ctx)
	w.loadMissing(ctx)
	lastLoad, lastCheck := w.cfg.Now(), w.cfg.Now()
	w.plan(lastCheck)
	timer := time.NewTimer(max(w.wake.Sub(w.cfg.Now()), 0))
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-ch:
			if !ok {
				// Fell behind: listen again and read every rule, as
				// changes may have been lost.
				_, ch, _, cancel = w.cfg.Events.SubscribeBuffered(0, subscriberBuffer)
				w.load(ctx)
				lastLoad = w.cfg.Now()
			} else if !w.observe(e) {
				continue
			}
		case <-timer.C:
			now := w.cfg.Now()
			if now.Sub(lastLoad) >= w.cfg.Refresh {
				w.load(ctx)
				lastLoad = now
			}
			if err := w.check(ctx, now); err != nil && ctx.Err() == nil {
				w.log.Warn("watch: checking the expected fires failed; trying again", "err", err)
			}
			lastCheck = now
		}
		w.plan(lastCheck)
		timer.Reset(max(w.wake.Sub(w.cfg.Now()), 0))
	}
}

// plan sets the next check: at the earliest deadline, but within
// [last+MinGap, last+Tick].
func (w *Watch) plan(last time.Time) {
	wake := last.Add(w.cfg.Tick)
	for _, e := range w.entries {
		if e.exp.ok && e.exp.deadline.Before(wake) {
			wake = e.exp.deadline
		}
	}
	if earliest := last.Add(w.cfg.MinGap); wake.Before(earliest) {
		wake = earliest
	}
	w.wake = wake
}

// observe takes a rule or run event; it reports whether a rule changed
// (the next check's time may have moved).
func (w *Watch) observe(e events.Event) bool {
	switch {
	case e.Type == api.EventRuleDeleted:
		delete(w.entries, e.RuleName)
		w.forget(e.RuleName)
		return true
	case (e.Type == api.EventRuleCreated || e.Type == api.EventRuleChanged) && e.Rule != nil:
		w.follow(*e.Rule)
		return true
	case e.Run == nil || e.Run.ScheduledAt.IsZero():
	case e.Type == api.EventRunLog || e.Type == api.EventRunProgress:
		// a run already seen as it was recorded
	default:
		if e.Run.Status == api.StatusMissed {
			w.setMissing(e.Run.Rule, e.Run.ScheduledAt) // recorded by another agent
		} else {
			w.arrived(e.Run.Rule, e.Run.ScheduledAt)
		}
	}
	return false
}

// load reads every rule and follows it.
func (w *Watch) load(ctx context.Context) {
	rules, err := w.cfg.Store.RuleList(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("watch: reading the rules failed; keeping the ones known", "err", err)
		}
		return
	}
	seen := make(map[string]bool, len(rules))
	for _, r := range rules {
		seen[r.Name] = true
		w.follow(r)
	}
	for name := range w.entries {
		if !seen[name] {
			delete(w.entries, name)
			w.forget(name)
		}
	}
}

// follow takes a rule as it is now: a rule whose fires are unchanged keeps
// its expectation; a changed one expects fires from its change on; a
// disabled one, or one with a schedule that cannot fire, none.
func (w *Watch) follow(r store.Rule) {
	old := w.entries[r.Name]
	if old != nil && sameRule(old.rule, r) {
		old.rule = r
		return
	}
	if !r.Enabled {
		delete(w.entries, r.Name)
		w.forget(r.Name)
		return
	}
	e, err := newEntry(r, w.aws())
	if err != nil {
		w.log.Warn("watch: the rule's schedule cannot be read; not watching it", "rule", r.Name, "err", err)
		delete(w.entries, r.Name)
		return
	}
	if old != nil {
		e.seen = old.seen
	}
	e.exp = e.first(w.since(r), w.cfg.Grace)
	w.entries[r.Name] = e
}

// since is the time from which a rule's fires are expected.
func (w *Watch) since(r store.Rule) time.Time {
	changed := r.UpdatedAt
	if w.aws() {
		changed = changed.Add(awsSettle)
	}
	if changed.After(w.started) {
		return changed
	}
	return w.started
}
