package runner

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/retry"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// Queued runs (a rule's overlap "queue", a job at its limit, a retry
// waiting for its time) are started by the dispatcher: Dispatch claims
// those that may start now (store.Store.RunClaim), which records them
// running on this node, and executes them as Start does. It claims when
// a run ends here, when a queued run it knows of comes due, and every
// ClaimInterval, which is how it learns of runs that other agents finished
// (freeing a slot of a job's limit) and of retries due while no agent ran.

// Wake asks the dispatcher to claim queued runs now.
func (r *Runner) Wake() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// noteDue tells the dispatcher of a queued run due at t.
func (r *Runner) noteDue(t time.Time) {
	select {
	case r.due <- t:
	default:
		r.Wake() // it looks for the earliest due run after each claim anyway
	}
}

// queuedValues are the parameter values of a run queued here.
type queuedValues struct {
	values map[string]string
	at     time.Time // when it was queued
}

// remember keeps the parameter values of a run queued here, secrets
// unmasked, for when this agent claims it.
func (r *Runner) remember(id string, values map[string]string) {
	r.mu.Lock()
	r.queued[id] = queuedValues{values: maps.Clone(values), at: time.Now()}
	r.mu.Unlock()
}

// recall takes what remember kept of a run.
func (r *Runner) recall(id string) (map[string]string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, ok := r.queued[id]
	delete(r.queued, id)
	return v.values, ok
}

// noteWaiting records that run's rule and job have a queued run.
func (r *Runner) noteWaiting(run store.Run) {
	now := time.Now()
	r.mu.Lock()
	r.waiting["rule:"+run.Rule], r.waiting["job:"+run.Job] = now, now
	r.mu.Unlock()
}

// setWaiting records the rules and jobs of the queued runs, listed from
// since on (what was noted after since stays); all: the list is not
// complete.
func (r *Runner) setWaiting(queued []store.Run, all bool, since time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, at := range r.waiting {
		if at.Before(since) {
			delete(r.waiting, k)
		}
	}
	r.waitingAll = all
	for _, q := range queued {
		r.waiting["rule:"+q.Rule], r.waiting["job:"+q.Job] = since, since
	}
}

// hasWaiting reports whether a queued run may wait for run to end: one of
// its rule or of its job (as far as the dispatcher knows).
func (r *Runner) hasWaiting(run store.Run) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, rule := r.waiting["rule:"+run.Rule]
	_, job := r.waiting["job:"+run.Job]
	return r.waitingAll || rule || job
}

// forgetQueued forgets the values kept of runs no longer queued (another
// agent claimed them, or they were cancelled there), given every queued
// run; a run queued in the last minute is kept, as the list may predate it.
func (r *Runner) forgetQueued(queued []store.Run) {
	ids := make(map[string]bool, len(queued))
	for _, q := range queued {
		ids[q.ID] = true
	}
	old := time.Now().Add(-time.Minute)
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, v := range r.queued {
		if !ids[id] && v.at.Before(old) {
			delete(r.queued, id)
		}
	}
}

// Dispatch starts queued runs until ctx is done or Shutdown begins; the
// agent runs it on a goroutine of its own. It claims at once when it
// starts: retries that came due while the agent was down run now.
func (r *Runner) Dispatch(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var next time.Time // when the timer fires
	for {
		if ctx.Err() != nil || r.isClosing() {
			return
		}
		earliest, err := r.claim(ctx)
		if err != nil && ctx.Err() == nil && !r.isClosing() {
			r.log.Warn("start queued runs", "err", err)
		}
		wait := r.cfg.ClaimInterval
		if !earliest.IsZero() {
			wait = min(wait, max(earliest.Sub(r.cfg.Now()), 0))
		}
		timer.Reset(wait)
		next = time.Now().Add(wait)
	sleep:
		for {
			select {
			case <-ctx.Done():
				return
			case <-r.wake:
				break sleep
			case <-timer.C:
				break sleep
			case t := <-r.due:
				// t is by the agent's clock; the timer runs by the wall's.
				if d := max(t.Sub(r.cfg.Now()), 0); time.Now().Add(d).Before(next) {
					timer.Stop()
					timer.Reset(d)
					next = time.Now().Add(d)
				}
			}
		}
	}
}

// claim claims the queued runs that may start and executes them; it
// returns when the earliest queued run not yet due is (zero: none known).
func (r *Runner) claim(ctx context.Context) (time.Time, error) {
	p := store.RunClaimParams{Node: r.cfg.Node, Now: r.cfg.Now(), JobLimits: r.cfg.JobLimits}
	if r.cfg.Paused != nil && r.cfg.Paused() {
		p.Triggers = []api.Trigger{api.TriggerManual, api.TriggerRestart}
	}
	cctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	claimed, err := r.cfg.Store.RunClaim(cctx, p)
	cancel()
	if err != nil {
		return time.Time{}, fmt.Errorf("claim queued runs: %w", err)
	}
	for _, run := range claimed {
		r.startClaimed(run)
	}
	cctx, cancel = context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	listed := time.Now()
	queued, more, err := r.cfg.Store.RunList(cctx, store.RunFilter{Statuses: []api.RunStatus{api.StatusQueued}, Limit: 1000})
	if err != nil {
		return time.Time{}, fmt.Errorf("look for queued runs: %w", err)
	}
	if more == "" {
		r.forgetQueued(queued)
	}
	r.setWaiting(queued, more != "", listed)
	var earliest time.Time
	now := r.cfg.Now()
	for _, q := range queued {
		if q.NotBefore.After(now) && (earliest.IsZero() || q.NotBefore.Before(earliest)) {
			earliest = q.NotBefore
		}
	}
	return earliest, nil
}

// startClaimed executes a run RunClaim recorded running here. Its
// parameters are those it was queued with: kept in memory when it was
// queued here, else the run's own values with the rule's for the secrets
// (runs keep them masked), as a restart takes them. A run that cannot
// start (its job is gone, its rule was deleted, a parameter no longer
// fits) is recorded failed. It is claimed already: what it reads and
// writes outlives the dispatcher's context, as a running run's does, so a
// shutdown that stops the dispatcher does not fail it.
func (r *Runner) startClaimed(run store.Run) {
	values, ok := r.recall(run.ID)
	var timeout time.Duration
	rule, rerr := retry.Value(r.live, whileUnavailable, func(ctx context.Context) (store.Rule, error) {
		ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
		defer cancel()
		return r.cfg.Store.RuleGet(ctx, run.Rule)
	})
	if rerr == nil {
		timeout = rule.Timeout
	}
	if !ok {
		values = make(map[string]string, len(run.Parameters))
		if rerr == nil {
			maps.Copy(values, rule.Parameters)
		}
		for k, v := range run.Parameters {
			if v != api.MaskedValue {
				values[k] = v
			}
		}
	}
	job, ok := r.cfg.Jobs.Get(run.Job)
	var setupErr error
	var params jobs.Params
	switch {
	case !ok:
		setupErr = fmt.Errorf("job %q is not registered in this agent: %w", run.Job, ErrUnknownJob)
	case errors.Is(rerr, store.ErrNotFound):
		setupErr = fmt.Errorf("rule %q was deleted while the run waited: %w", run.Rule, ErrUnknownRule)
	case rerr != nil:
		setupErr = fmt.Errorf("read rule %q: %w", run.Rule, rerr)
	default:
		params, setupErr = jobs.Resolve(job, values)
	}
	if setupErr != nil {
		r.publish(api.EventRunStarted, run) // claimed: started, as the store has it
		_, err := r.finish(r.live, store.RunFinishParams{ID: run.ID, Status: api.StatusFailed, Error: r.mask.mask(setupErr.Error())}, nil)
		if err != nil {
			r.log.Error("record a queued run that could not start", "run", run.ID, "err", err)
		}
		return
	}
	r.launch(run, job, params, timeout)
	// Cancelled between the claim and now: CancelLocal did not find it.
	ctx, cancel := context.WithTimeout(r.live, storeCallTimeout)
	defer cancel()
	if got, err := r.cfg.Store.RunGet(ctx, run.ID); err == nil && got.Status == api.StatusCancelling {
		r.noteState(got)
		r.cancelActive(run.ID, operatorCause(got.CancelledBy, got.CancelReason))
	}
}
