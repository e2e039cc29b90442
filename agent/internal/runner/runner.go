// Package runner starts runs of jobs in the background, records each
// transition in the store and publishes it as an event. It is the one path by
// which anything runs: the webhook, the local scheduler and the API's trigger
// and restart all come through Start (or Fire, which looks the rule up).
// A run that may not start at once (overlap "queue", a job limit, a retry
// waiting for its backoff) is recorded queued, and Dispatch starts it.
//
// A run's context is cancelled by an operator (Cancel), by its rule's
// timeout, or by the agent's shutdown; the run records which, and by whom. A
// job that ignores its context stays "cancelling" until it returns.
package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

var (
	// ErrUnknownRule is returned by Fire for a rule that does not exist.
	ErrUnknownRule = errors.New("unknown rule")
	// ErrRuleDisabled is returned by Fire for a rule that is disabled.
	ErrRuleDisabled = errors.New("rule is disabled")
	// ErrUnknownJob is returned when a rule names a job this agent lacks.
	ErrUnknownJob = errors.New("unknown job")
	// ErrShuttingDown is returned by Start once Shutdown has begun.
	ErrShuttingDown = errors.New("agent is shutting down")
)

// DefaultMaxLogLines is how many log lines a run keeps when Config says
// nothing: enough for any job that reports progress, bounded so that a
// job that logs in a loop cannot fill the database.
const DefaultMaxLogLines = 10_000

// Config configures a Runner.
type Config struct {
	Store  store.Store
	Jobs   *jobs.Registry
	Events *events.Broker
	// Node names this agent in the runs it records. Required.
	Node string
	// Logger receives the agent's own log (not the runs'). Default: discard.
	Logger *slog.Logger
	// MaxLogLines caps the lines stored per run. Default DefaultMaxLogLines.
	MaxLogLines int
	// LogFlushInterval is how often buffered log lines and progress are
	// written to the store. Default 250ms.
	LogFlushInterval time.Duration
	// LogBufferPerRun caps the bytes of a run's log lines held in memory
	// while the database does not take them (it is down, or its disk is
	// full). Lines over the cap are lost, and the run's log says how many
	// where they were. A line always fits in an empty buffer. Default 4 MiB.
	LogBufferPerRun int64
	// LogBufferTotal caps the same across all runs of this agent. Default
	// 64 MiB.
	LogBufferTotal int64
	// RuleCacheTTL is how long Fire may use a rule it read before. A rule
	// changed through ForgetRule is read afresh at once. Default 2s;
	// negative turns the cache off.
	RuleCacheTTL time.Duration
	// RemoteCancel, when set, tells the other agents that a run which is
	// not running here was asked to stop (several agents on PostgreSQL);
	// the one running it calls CancelLocal.
	RemoteCancel func(ctx context.Context, runID string) error
	// Maintenance, when set, says whether maintenance mode is on, and
	// why: scheduled fires are then recorded skipped. It is asked on every
	// fire, so it answers from memory.
	Maintenance func(ctx context.Context) (on bool, reason string)
	// Secrets are the agent's own tokens and keys. They, and each run's
	// secret parameter values, are replaced by api.MaskedValue in every log
	// line, progress message and error a run records.
	Secrets []string
	// JobLimits bounds the runs of a job active at once, across all agents
	// sharing the database (each agent must be given the same limits): a
	// run beyond its job's limit is recorded queued and starts when a slot
	// frees. Jobs not named have no limit.
	JobLimits map[string]int
	// Paused, when set and true, keeps the dispatcher of queued runs from
	// starting any but operators' runs (triggers manual and restart):
	// maintenance mode.
	Paused func() bool
	// ClaimInterval is how often the dispatcher looks for queued runs it
	// was not told about (other agents' finishes, retries due after a
	// restart). Default 3s.
	ClaimInterval time.Duration
	// Now is the agent's clock, by which retries are timed and queued
	// runs come due (store.Run.NotBefore). Default time.Now. What the
	// runner records of a run's own course (start, end, log lines) is
	// timed by the wall clock.
	Now func() time.Time
}

// Runner runs jobs. Create it with New; stop it with Shutdown.
type Runner struct {
	cfg    Config
	log    *slog.Logger
	base   context.Context // parent of every run's context
	cancel context.CancelCauseFunc

	// live is done once Shutdown gives up on what is left to record: every
	// store write the runner retries, and every flusher, stops then.
	live     context.Context
	stopLive context.CancelFunc

	rules ruleCache

	// mask masks cfg.Secrets: the masker of every run without secret
	// parameters, built once rather than per run.
	mask masker

	logHeld atomic.Int64 // bytes of run log lines buffered, all runs

	mu      sync.Mutex
	closing bool
	active  map[string]*activeRun
	idle    chan struct{} // closed once closing and no run is active
	// queued holds the parameter values, secrets unmasked, of runs queued
	// here, for when this agent claims them (see dispatch.go).
	queued map[string]queuedValues
	// waiting names the rules and jobs ("rule:NAME", "job:NAME") that have
	// queued runs, as last seen (all: more than the dispatcher lists): a
	// run of them that ends wakes the dispatcher.
	waiting    map[string]time.Time // when noted
	waitingAll bool

	wake chan struct{} // nudges the dispatcher; buffered 1
	due  chan time.Time
}

type activeRun struct {
	run      store.Run
	values   map[string]string // parameter values as the job got them, secrets unmasked
	rep      *reporter
	cancel   context.CancelCauseFunc
	returned chan struct{} // closed when the job has returned
	done     chan struct{} // closed when the outcome is recorded or given up
	recorded bool          // the outcome is in the store; read after done
}

// New returns a runner. It does not start anything by itself.
func New(cfg Config) (*Runner, error) {
	if cfg.Store == nil || cfg.Jobs == nil || cfg.Events == nil {
		return nil, errors.New("runner: Store, Jobs and Events are required")
	}
	if cfg.Node == "" {
		return nil, errors.New("runner: Node is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxLogLines <= 0 {
		cfg.MaxLogLines = DefaultMaxLogLines
	}
	if cfg.LogFlushInterval <= 0 {
		cfg.LogFlushInterval = 250 * time.Millisecond
	}
	if cfg.LogBufferPerRun <= 0 {
		cfg.LogBufferPerRun = 4 << 20
	}
	if cfg.LogBufferTotal <= 0 {
		cfg.LogBufferTotal = 64 << 20
	}
	if cfg.RuleCacheTTL == 0 {
		cfg.RuleCacheTTL = 2 * time.Second
	}
	if cfg.ClaimInterval <= 0 {
		cfg.ClaimInterval = 3 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	base, cancel := context.WithCancelCause(context.Background())
	live, stopLive := context.WithCancel(context.Background())
	return &Runner{
		cfg:      cfg,
		log:      cfg.Logger,
		base:     base,
		cancel:   cancel,
		live:     live,
		stopLive: stopLive,
		rules:    ruleCache{ttl: cfg.RuleCacheTTL, m: make(map[string]cachedRule)},
		mask:     newMasker(cfg.Secrets),
		active:   make(map[string]*activeRun),
		idle:     make(chan struct{}),
		queued:   make(map[string]queuedValues),
		waiting:  make(map[string]time.Time),
		wake:     make(chan struct{}, 1),
		due:      make(chan time.Time, 16),
	}, nil
}

// StartParams describes a run to start.
type StartParams struct {
	Rule        store.Rule
	Trigger     api.Trigger
	EventID     string    // de-duplicates deliveries; "" for none
	ScheduledAt time.Time // the fire time, for scheduled runs
	TriggeredBy string
	RestartOf   string
	// Overrides replace the rule's parameter values for this run.
	Overrides map[string]string
}

// FireParams is a scheduled fire of a rule, from EventBridge or the local
// scheduler.
type FireParams struct {
	Rule    string
	EventID string
	At      time.Time
	By      string // "eventbridge" or "scheduler"
	// Trigger is api.TriggerSchedule ("" means it) or, for a fire the
	// local scheduler runs late by the rule's catchUp, api.TriggerCatchUp.
	Trigger api.Trigger
	// RecordDisabled records a fire of a disabled rule as a skipped run
	// (its error says why) instead of refusing it with ErrRuleDisabled. The
	// webhook sets it, so that EventBridge is not told to retry a delivery
	// that must never run; the event id then de-duplicates its retries.
	RecordDisabled bool
}

// Fire starts a scheduled run of the named rule: ErrUnknownRule if there is
// none, ErrRuleDisabled if it is disabled (unless p.RecordDisabled). A
// repeated event id returns the first run with created false.
//
// A fire that must not run is recorded skipped, with why as its error, and
// returned as created, so that the webhook acknowledges it and EventBridge
// does not retry: while maintenance is on ("skipped: maintenance: ..."), and
// for a delivery from EventBridge older than the rule's maxLateness
// ("skipped: late: ...").
func (r *Runner) Fire(ctx context.Context, p FireParams) (run store.Run, created bool, err error) {
	rule, err := r.rules.get(ctx, r.cfg.Store, p.Rule)
	if errors.Is(err, store.ErrNotFound) {
		return store.Run{}, false, fmt.Errorf("fire rule %q: %w", p.Rule, ErrUnknownRule)
	}
	if err != nil {
		return store.Run{}, false, fmt.Errorf("fire rule %q: %w", p.Rule, err)
	}
	if p.Trigger == "" {
		p.Trigger = api.TriggerSchedule
	}
	if !rule.Enabled && p.RecordDisabled {
		return r.skip(ctx, rule, p, "skipped: the rule is disabled")
	}
	if !rule.Enabled {
		return store.Run{}, false, fmt.Errorf("fire rule %q: %w", p.Rule, ErrRuleDisabled)
	}
	if why := r.notToRun(ctx, rule, p); why != "" {
		return r.skip(ctx, rule, p, why)
	}
	return r.Start(ctx, StartParams{
		Rule:        rule,
		Trigger:     p.Trigger,
		EventID:     p.EventID,
		ScheduledAt: p.At,
		TriggeredBy: p.By,
	})
}

// notToRun says why an enabled rule's fire is recorded skipped rather than
// run, or "" if it runs.
func (r *Runner) notToRun(ctx context.Context, rule store.Rule, p FireParams) string {
	if r.cfg.Maintenance != nil {
		if on, reason := r.cfg.Maintenance(ctx); on {
			if reason == "" {
				return "skipped: maintenance"
			}
			return "skipped: maintenance: " + reason
		}
	}
	if p.By == "eventbridge" && rule.Policy.MaxLateness > 0 && !p.At.IsZero() {
		// With a flexible window AWS may deliver anywhere in it: lateness
		// counts from its end.
		late := r.cfg.Now().Sub(p.At.Add(rule.FlexibleWindow))
		if late > rule.Policy.MaxLateness && rule.FlexibleWindow > 0 {
			return fmt.Sprintf("skipped: late: the delivery came %s after the flexible window %s of its fire time %s, more than the rule's maxLateness %s",
				late.Round(time.Second), rule.FlexibleWindow, p.At.UTC().Format(time.RFC3339), rule.Policy.MaxLateness)
		}
		if late > rule.Policy.MaxLateness {
			return fmt.Sprintf("skipped: late: the delivery came %s after its fire time %s, more than the rule's maxLateness %s",
				late.Round(time.Second), p.At.UTC().Format(time.RFC3339), rule.Policy.MaxLateness)
		}
	}
	return ""
}

// Start records a run of p.Rule's job and starts it in the background; it
// never runs the job on the caller's goroutine. It returns the run as
// recorded: running; skipped by the rule's overlap policy; or queued, by
// the rule's overlap "queue" or its job's limit, for the dispatcher to
// start later (see Dispatch). With a repeated event id it returns the
// earlier run and created false.
//
// Parameters are the rule's with p.Overrides on top, checked against the
// job. For a manual run or restart a bad parameter or unknown job is an error
// and nothing is recorded; for a scheduled run (or a catch-up) it is
// recorded as a failed run, so that a fire is never lost without a trace.
func (r *Runner) Start(ctx context.Context, p StartParams) (run store.Run, created bool, err error) {
	if r.isClosing() {
		return store.Run{}, false, ErrShuttingDown
	}
	values := make(map[string]string, len(p.Rule.Parameters)+len(p.Overrides))
	for k, v := range p.Rule.Parameters {
		values[k] = v
	}
	for k, v := range p.Overrides {
		values[k] = v
	}
	job, ok := r.cfg.Jobs.Get(p.Rule.Job)
	var params jobs.Params
	var setupErr error
	if !ok {
		setupErr = fmt.Errorf("job %q is not registered in this agent: %w", p.Rule.Job, ErrUnknownJob)
	} else if params, setupErr = jobs.Resolve(job, values); setupErr == nil {
		values = jobs.Mask(job, params)
	}
	if setupErr != nil && (p.Trigger == api.TriggerManual || p.Trigger == api.TriggerRestart) {
		return store.Run{}, false, fmt.Errorf("start run of rule %q: %w", p.Rule.Name, setupErr)
	}
	if setupErr != nil {
		values = maskAll(values)
	}

	cp := store.RunCreateParams{
		Run: store.Run{
			Rule:        p.Rule.Name,
			Job:         p.Rule.Job,
			Status:      api.StatusRunning,
			Trigger:     p.Trigger,
			Parameters:  values,
			EventID:     p.EventID,
			RestartOf:   p.RestartOf,
			TriggeredBy: p.TriggeredBy,
			Node:        r.cfg.Node,
			ScheduledAt: p.ScheduledAt,
			Attempt:     1,
			WarnAfter:   p.Rule.Policy.WarnAfter,
		},
		SkipIfActive: p.Rule.Overlap == api.OverlapSkip,
	}
	if setupErr == nil {
		// A run that cannot start is recorded failed at once, never queued.
		cp.QueueIfActive = p.Rule.Overlap == api.OverlapQueue
		cp.JobLimit = r.cfg.JobLimits[p.Rule.Job]
	}
	run, created, err = r.cfg.Store.RunCreate(ctx, cp)
	if err != nil {
		return store.Run{}, false, fmt.Errorf("record run of rule %q: %w", p.Rule.Name, err)
	}
	if !created {
		return run, false, nil
	}
	if run.Status == api.StatusSkipped {
		r.publish(api.EventRunSkipped, run)
		return run, true, nil
	}
	if run.Status == api.StatusQueued {
		r.remember(run.ID, params)
		r.noteWaiting(run)
		r.publish(api.EventRunQueued, run)
		r.Wake()
		return run, true, nil
	}
	if setupErr != nil {
		// Record why it could not start; the run never ran.
		fin, ferr := r.finish(r.live, store.RunFinishParams{ID: run.ID, Status: api.StatusFailed, Error: setupErr.Error()}, nil)
		if ferr != nil {
			return run, true, ferr
		}
		return fin, true, nil
	}

	return r.launch(run, job, params, p.Rule.Timeout), true, nil
}

// launch executes a run recorded running on this node: its job starts on
// a goroutine of its own. It returns the run, finished if Shutdown began
// before the job could start.
func (r *Runner) launch(run store.Run, job jobs.Job, params jobs.Params, timeout time.Duration) store.Run {
	runCtx, cancel := context.WithCancelCause(r.base)
	mask := r.mask
	if secrets := jobs.SecretValues(job, params); len(secrets) > 0 {
		mask = newMasker(r.cfg.Secrets, secrets)
	}
	ar := &activeRun{run: run, values: maps.Clone(map[string]string(params)), rep: newReporter(r, run, mask), cancel: cancel, returned: make(chan struct{}), done: make(chan struct{})}
	r.mu.Lock()
	if r.closing {
		// Shutdown began between the check above and now: record, don't run.
		r.mu.Unlock()
		cancel(nil)
		sc := shutdownCause(r.cfg.Node)
		fin, _ := r.finish(r.live, store.RunFinishParams{ID: run.ID, Status: sc.status, Error: sc.msg, CancelledBy: sc.by, CancelReason: sc.reason}, sc)
		return fin
	}
	r.active[run.ID] = ar
	r.mu.Unlock()

	r.publish(api.EventRunStarted, run)
	go r.execute(runCtx, ar, job, params, timeout)
	return run
}

// skip records a fire of rule that is not to run, with why as its error.
func (r *Runner) skip(ctx context.Context, rule store.Rule, p FireParams, why string) (store.Run, bool, error) {
	if r.isClosing() {
		return store.Run{}, false, ErrShuttingDown
	}
	params := maskAll(rule.Parameters)
	if job, ok := r.cfg.Jobs.Get(rule.Job); ok {
		params = jobs.Mask(job, rule.Parameters)
	}
	run, created, err := r.cfg.Store.RunCreate(ctx, store.RunCreateParams{Run: store.Run{
		Rule: rule.Name, Job: rule.Job, Status: api.StatusSkipped, Trigger: p.Trigger,
		Parameters: params, EventID: p.EventID, TriggeredBy: p.By, Node: r.cfg.Node,
		ScheduledAt: p.At, Error: why,
	}})
	if err != nil {
		return store.Run{}, false, fmt.Errorf("record skipped run of rule %q: %w", rule.Name, err)
	}
	if created {
		r.publish(api.EventRunSkipped, run)
	}
	return run, created, nil
}

func maskAll(values map[string]string) map[string]string {
	out := make(map[string]string, len(values))
	for k := range values {
		out[k] = api.MaskedValue
	}
	return out
}

func (r *Runner) isClosing() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.closing
}

// Active returns the ids of the runs executing on this agent.
func (r *Runner) Active() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.active))
	for id := range r.active {
		ids = append(ids, id)
	}
	return ids
}

func (r *Runner) publish(t string, run store.Run) {
	r.cfg.Events.Publish(events.Event{Type: t, RuleName: run.Rule, Run: &run})
}
