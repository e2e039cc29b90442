package eventbridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"

	"github.com/jobbridge/jobbridge/agent/internal/retry"
	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// Sync states written to the store.
const (
	StatePending = "pending"
	StateSynced  = "synced"
	StateError   = "error"
)

// Backend keeps EventBridge in step with the stored rules: as scheduled
// rules (ModeRules) or as EventBridge Scheduler schedules (ModeScheduler).
// Run it with Run; tell it about changes with RuleChanged and RuleDeleted.
type Backend struct {
	cfg    Config
	client *eventbridge.Client
	sched  *scheduler.Client
	log    *slog.Logger
	state  *stateFile
	queue  *queue
	now    func() time.Time

	setupMu sync.Mutex
	wired   wiring // zero until setup succeeded

	// applyMu lets one of the worker, a reconcile and a prune write to AWS
	// at a time, so they never undo each other's work half-way.
	applyMu sync.Mutex
}

// New returns a backend. It reads the state file but calls no AWS API.
func New(cfg Config) (*Backend, error) {
	cfg = cfg.withDefaults()
	var errs []error
	switch cfg.Mode {
	case ModeRules, ModeScheduler:
		if err := cfg.Settings.ValidateFor(cfg.Mode); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("eventbridge backend: mode %q is not %s or %s", cfg.Mode, ModeRules, ModeScheduler))
	}
	if cfg.Store == nil {
		errs = append(errs, errors.New("eventbridge backend: no store"))
	}
	if cfg.StatePath == "" {
		errs = append(errs, errors.New("eventbridge backend: no state file path"))
	}
	if cfg.AWS.Region == "" {
		errs = append(errs, errors.New("no AWS region: set AWS_REGION (or a region in the AWS profile)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	st, err := loadState(cfg.StatePath)
	if err != nil {
		return nil, err
	}
	return &Backend{
		cfg:    cfg,
		client: eventbridge.NewFromConfig(cfg.AWS),
		sched:  scheduler.NewFromConfig(cfg.AWS),
		log:    cfg.Logger,
		state:  st,
		queue:  newQueue(),
		now:    time.Now,
	}, nil
}

// Mode names the backend: "eventbridge" or "scheduler".
func (b *Backend) Mode() string { return string(b.cfg.Mode) }

// Settings returns the settings in use, defaults filled in.
func (b *Backend) Settings() Settings { return b.cfg.Settings }

// RuleChanged records the rule as pending, queues it and returns the
// pending state; it never waits on AWS.
func (b *Backend) RuleChanged(ctx context.Context, r store.Rule) store.Sync {
	sync := b.setSync(ctx, r.Name, store.Sync{State: StatePending, ARN: r.Sync.ARN})
	b.queue.add(r.Name, b.now())
	return sync
}

// RuleDeleted records that the rule's EventBridge rule (or schedule) must go
// (in the state file, so a restart does not forget it) and queues it; it
// never waits on AWS.
func (b *Backend) RuleDeleted(_ context.Context, r store.Rule) {
	if err := b.state.addPendingDelete(r.Name); err != nil {
		b.log.Error("eventbridge: recording the delete failed; it is applied unless the agent stops first (then `agent aws prune` removes it)", "rule", r.Name, "err", err)
	}
	b.queue.add(r.Name, b.now())
}

// Run sets up the connection and the API destination, and in scheduler mode
// the schedule group and the relay rule (retrying until it succeeds),
// applies the deletes a previous run left, reconciles, and then applies
// queued changes and reconciles every ReconcileInterval until ctx is done.
// With a Leader, it does all that only while this agent leads.
func (b *Backend) Run(ctx context.Context) error {
	ticker := time.NewTicker(b.cfg.ReconcileInterval)
	defer ticker.Stop()
	leading, reconcileDue := false, false
	for ctx.Err() == nil {
		if !b.isLeader(ctx) {
			if leading {
				b.log.Info("eventbridge: another agent leads now; it keeps EventBridge in step")
			}
			leading = false
			select {
			case <-ctx.Done():
			case <-time.After(b.cfg.LeaderPoll):
			}
			continue
		}
		if !leading {
			// Started, or took over: set up, apply the deletes left, reconcile.
			if !b.setupWithRetry(ctx) {
				return nil
			}
			for _, name := range b.state.get().PendingDeletes {
				b.queue.add(name, b.now())
			}
			leading, reconcileDue = true, true
			ticker.Reset(b.cfg.ReconcileInterval)
		}
		if reconcileDue {
			reconcileDue = false
			b.reconcileAndLog(ctx)
			continue
		}
		name, attempts, wait, ok := b.queue.next(b.now())
		if ok {
			b.process(ctx, name, attempts)
			continue
		}
		var timer *time.Timer
		var due <-chan time.Time
		if wait >= 0 {
			timer = time.NewTimer(wait)
			due = timer.C
		}
		select {
		case <-ctx.Done():
		case <-b.queue.wake:
		case <-due:
		case <-ticker.C:
			reconcileDue = true
		}
		if timer != nil {
			timer.Stop()
		}
	}
	return nil
}

// isLeader says whether this agent may write to AWS now.
func (b *Backend) isLeader(ctx context.Context) bool {
	if b.cfg.Leader == nil {
		return true
	}
	ok, err := b.cfg.Leader(ctx)
	if err != nil {
		if ctx.Err() == nil {
			b.log.Warn("eventbridge: cannot tell who leads; not writing to AWS", "err", err)
		}
		return false
	}
	return ok
}

// setupWithRetry ensures the connection and destination, retrying with
// backoff; false if ctx ended first.
func (b *Backend) setupWithRetry(ctx context.Context) bool {
	err := retry.Do(ctx, retry.Policy{
		Wait: func(attempt int, err error) time.Duration { return b.backoff(classify(err), attempt) },
		OnRetry: func(_ int, wait time.Duration, err error) {
			b.log.Error("eventbridge: setting up the connection and API destination (and in scheduler mode the schedule group and relay rule) failed; rules stay pending until it works (`agent aws doctor` checks the setup)",
				"err", err, "retryIn", wait.Round(time.Second))
		},
	}, func(ctx context.Context) error {
		_, err := b.setup(ctx)
		return err
	})
	return err == nil
}

func (b *Backend) reconcileAndLog(ctx context.Context) {
	rep, err := b.Reconcile(ctx)
	switch {
	case ctx.Err() != nil:
	case err != nil:
		b.log.Error("eventbridge: reconcile failed", "err", err)
	default:
		level := slog.LevelDebug
		if len(rep.Synced)+len(rep.Failed)+len(rep.Deleted)+len(rep.Orphans) > 0 {
			level = slog.LevelInfo
		}
		b.log.Log(ctx, level, "eventbridge: reconciled", "inStep", rep.InStep, "synced", rep.Synced, "failed", rep.Failed, "deleted", rep.Deleted, "orphans", rep.Orphans)
		if len(rep.Orphans) > 0 {
			b.log.Warn("eventbridge: rules under the prefix (or schedules in the group) that no stored rule has; `agent aws prune --yes` deletes them", "orphans", rep.Orphans)
		}
	}
}

// process makes AWS match the store for one rule name: put when the rule is
// stored, remove when it is not.
func (b *Backend) process(ctx context.Context, name string, attempts int) {
	b.applyMu.Lock()
	defer b.applyMu.Unlock()
	var (
		arn     string
		deleted bool
	)
	w, err := b.setup(ctx)
	if err == nil {
		var r store.Rule
		r, err = b.cfg.Store.RuleGet(ctx, name)
		switch {
		case err == nil && b.cfg.Mode == ModeScheduler:
			arn, _, err = b.syncSchedule(ctx, r, w, true)
		case err == nil:
			arn, err = b.put(ctx, r, w.destinationARN)
		case errors.Is(err, store.ErrNotFound):
			deleted = true
			err = b.removeStored(ctx, name)
		default:
			err = fmt.Errorf("read rule %q: %w", name, err)
		}
	}
	if ctx.Err() != nil {
		// Shutting down: the rule stays pending (the next start's
		// reconcile applies it) and a delete stays in the state file.
		return
	}
	if err == nil {
		if perr := b.state.removePendingDelete(name); perr != nil {
			b.log.Warn("eventbridge: updating the state file failed", "err", perr)
		}
		if deleted {
			b.log.Info("eventbridge: deleted", "rule", name, b.resourceKind(), b.resourceName(name))
			return
		}
		b.log.Info("eventbridge: in step", "rule", name, b.resourceKind(), b.resourceName(name), "arn", arn)
		if !b.queue.has(name) {
			b.setSync(ctx, name, store.Sync{State: StateSynced, ARN: arn})
		}
		return
	}
	attempts++
	msg := awsMessage(err)
	if f := classify(err); f != permanent && attempts < b.cfg.MaxAttempts {
		wait := b.backoff(f, attempts)
		b.queue.retry(name, attempts, b.now().Add(wait))
		b.log.Warn("eventbridge: sync failed; retrying", "rule", name, "attempt", attempts, "retryIn", wait.Round(time.Millisecond), "err", err)
		if !deleted {
			b.setSync(ctx, name, store.Sync{State: StatePending, Error: fmt.Sprintf("attempt %d failed, retrying in %s: %s", attempts, wait.Round(time.Second), msg)})
		}
		return
	}
	b.log.Error("eventbridge: sync failed; the next reconcile tries again", "rule", name, "attempts", attempts, "err", err)
	if !deleted && !b.queue.has(name) {
		b.setSync(ctx, name, store.Sync{State: StateError, Error: msg})
	}
}

// backoff is how long to wait after the attempts-th failure of kind f:
// exponential from RetryBase (ThrottleBase when throttled) up to RetryMax,
// plus up to a quarter more at random so several agents spread out.
func (b *Backend) backoff(f failure, attempts int) time.Duration {
	base := b.cfg.RetryBase
	if f == throttled {
		base = b.cfg.ThrottleBase
	}
	return retry.Backoff{First: base, Max: b.cfg.RetryMax, Jitter: 0.25}.Wait(attempts)
}

// removeStored deletes what AWS holds for the stored rule name: its
// EventBridge rule, or its schedule.
func (b *Backend) removeStored(ctx context.Context, name string) error {
	if b.cfg.Mode == ModeScheduler {
		return b.deleteSchedule(ctx, name)
	}
	return b.remove(ctx, DefaultBus, b.AWSName(name))
}

// resourceKind and resourceName say, for logs, what AWS holds for a stored
// rule: "awsRule" jb-nightly, or "schedule" jb/nightly.
func (b *Backend) resourceKind() string {
	if b.cfg.Mode == ModeScheduler {
		return "schedule"
	}
	return "awsRule"
}

func (b *Backend) resourceName(name string) string {
	if b.cfg.Mode == ModeScheduler {
		return b.cfg.ScheduleGroup() + "/" + name
	}
	return b.AWSName(name)
}

// setSync records a rule's sync state; a rule deleted meanwhile is fine.
func (b *Backend) setSync(ctx context.Context, name string, s store.Sync) store.Sync {
	s.At = b.now().UTC()
	if err := b.cfg.Store.RuleSetSync(ctx, name, s); err != nil && !errors.Is(err, store.ErrNotFound) {
		b.log.Warn("eventbridge: recording the sync state failed", "rule", name, "state", s.State, "err", err)
	}
	return s
}
