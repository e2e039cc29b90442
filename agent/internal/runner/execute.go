package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/retry"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// execute runs the job on its own goroutine and records how it ended.
func (r *Runner) execute(ctx context.Context, ar *activeRun, job jobs.Job, params jobs.Params, timeout time.Duration) {
	defer close(ar.done)
	defer r.forget(ar.run.ID)

	if timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, timeout, timeoutCause(timeout))
		defer stop()
	}
	id := ar.run.ID
	stopAfter := context.AfterFunc(ctx, func() { r.markCancelling(id, context.Cause(ctx)) })
	if w := ar.run.WarnAfter; w > 0 {
		slow := time.AfterFunc(w-time.Since(ar.run.StartedAt), func() { r.warnSlow(id) })
		defer slow.Stop()
	}

	rep := ar.rep
	err := callJob(jobs.WithReporter(ctx, rep), job, params, rep)
	close(ar.returned)
	stopAfter()

	fin, cause := outcome(ctx, id, err)
	fin.Error = rep.mask.mask(fin.Error)
	fin.Output = rep.result()
	// The rule is read once, for the retry and the chains alike: both see
	// it the same, and an outage costs one patience, not two.
	rule, ruleErr := r.finishingRule(r.live, ar.run.Rule)
	fin.Then = r.retryOf(ar, fin, rule, ruleErr)
	// Made whether or not a retry follows (the store creates them only if
	// none does); the run's log says why none are made only if it is the
	// series' last. Before the log's tail is taken, so that the note is in it.
	note := func(string) {}
	if fin.Then == nil {
		note = noteLog(rep)
	}
	// A run the agent's shutdown cut short starts no chain, as it is not
	// retried: its work did not end, it was stopped.
	var ch chained
	if !errors.Is(cause, ErrShutdown) {
		ch = r.chainedOf(r.live, ar, rule, ruleErr, fin.Status, fin.Output, note)
	}
	fin.Chained = ch.runs
	t := rep.finalTail()
	// The job has stopped the process groups it reported: forget them
	// before the run is seen finished.
	rep.forgetProcess()
	fin.Log, fin.Progress = t.lines(), t.progress
	finished, ferr := r.finishThen(r.live, fin, cause, func() { rep.settle(t, nil) })
	if ferr == nil && fin.ThenFollows(finished) {
		r.remember(fin.Then.ID, ar.values)
		r.noteWaiting(*fin.Then)
		r.publish(api.EventRunQueued, *fin.Then)
		r.noteDue(fin.Then.NotBefore)
	}
	if ferr == nil && fin.ChainedFollow(finished) {
		r.chainedRecorded(ch)
	}
	if r.hasWaiting(ar.run) {
		r.Wake() // a slot of the job, or the rule's turn, is free
	}
	if ferr != nil {
		rep.settle(t, ferr)
	}
	ar.recorded = ferr == nil || errors.Is(ferr, store.ErrConflict)
	switch {
	case ar.recorded:
	case r.live.Err() != nil:
		r.log.Warn("run outcome not recorded before the shutdown deadline; the next agent to start marks the run interrupted",
			"run", id, "status", fin.Status, "err", ferr)
	default:
		r.log.Error("record run outcome", "run", id, "status", fin.Status, "err", ferr)
	}
}

// warnSlow publishes run.slow for a run still active here past its
// WarnAfter.
func (r *Runner) warnSlow(id string) {
	r.mu.Lock()
	ar := r.active[id]
	r.mu.Unlock()
	if ar == nil {
		return
	}
	select {
	case <-ar.returned:
		return
	default:
	}
	run := ar.rep.current()
	r.publish(api.EventRunSlow, run)
}

// forget takes a run off the active ones, and says when the last one goes
// during a shutdown.
func (r *Runner) forget(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.active, id)
	r.noteIdle()
}

// noteIdle closes idle once shutting down with no run active. Call with mu
// held.
func (r *Runner) noteIdle() {
	if r.closing && len(r.active) == 0 {
		select {
		case <-r.idle:
		default:
			close(r.idle)
		}
	}
}

// callJob runs the job, turning a panic into an error with the stack in the
// run's log.
func callJob(ctx context.Context, job jobs.Job, params jobs.Params, rep *reporter) (err error) {
	defer func() {
		if p := recover(); p != nil {
			rep.Log(slog.LevelError, fmt.Sprintf("panic: %v\n%s", p, debug.Stack()))
			err = fmt.Errorf("job panicked: %v", p)
		}
	}()
	return job.Run(ctx, params)
}

// outcome decides a run's final state from its job's error and why its
// context ended, if it did (the cause, nil if it did not).
func outcome(ctx context.Context, id string, err error) (store.RunFinishParams, error) {
	p := store.RunFinishParams{ID: id, Status: api.StatusSucceeded}
	var cc *cancelCause
	switch {
	case errors.As(context.Cause(ctx), &cc):
		p.Status, p.Error, p.CancelledBy, p.CancelReason = cc.status, cc.msg, cc.by, cc.reason
		if err == nil {
			p.Error += " (the job finished its work anyway)"
		}
		return p, cc
	case err != nil:
		p.Status, p.Error = api.StatusFailed, err.Error()
	}
	return p, nil
}

// finishPatience is how long a run's outcome is retried while the database
// is unavailable (a restart, a failover, a full disk) before it is given up.
const finishPatience = 10 * time.Minute

// finishedAs reports whether run is finished as p finishes it: the same
// status at the same time (as the store keeps times, to the microsecond).
func finishedAs(run store.Run, p store.RunFinishParams) bool {
	return run.Status == p.Status && run.FinishedAt.Truncate(time.Microsecond).Equal(p.FinishedAt.Truncate(time.Microsecond))
}

// storeCallTimeout bounds each store call of a retry.
const storeCallTimeout = 10 * time.Second

// whileUnavailable retries a store write while the database is unavailable,
// or too busy to answer within storeCallTimeout: from 100ms, doubling up to
// 5s, for finishPatience at most. (A write that timed out may have been
// committed all the same; a finish tried again then finds the run finished,
// ErrConflict, which its caller takes as recorded.)
var whileUnavailable = retry.Policy{
	Backoff: retry.Backoff{First: 100 * time.Millisecond, Max: 5 * time.Second},
	Within:  finishPatience,
	Retryable: func(err error) bool {
		return errors.Is(err, store.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
	},
}

// finish records a run's end, retrying while the database is unavailable so
// that a final state is not lost to an outage: the job's work is done, and
// the database will be back. It gives up after finishPatience, or when ctx
// is done (the shutdown's deadline), and then does not touch the store.
// cause, nil or wrapping ErrCancelled, ErrTimeout or ErrShutdown, says why
// the run's context was cancelled; the run.finished event carries it.
func (r *Runner) finish(ctx context.Context, p store.RunFinishParams, cause error) (store.Run, error) {
	return r.finishThen(ctx, p, cause, nil)
}

// finishThen is finish, calling recorded (when not nil) once the finish is
// recorded and before the run.finished event is published.
func (r *Runner) finishThen(ctx context.Context, p store.RunFinishParams, cause error, recorded func()) (store.Run, error) {
	p.FinishedAt = time.Now().UTC()
	policy := whileUnavailable
	policy.OnRetry = func(_ int, _ time.Duration, err error) {
		r.log.Warn("database unavailable, will retry recording the run's outcome", "run", p.ID, "status", p.Status, "err", err)
	}
	attempts := 0
	run, err := retry.Value(ctx, policy, func(ctx context.Context) (store.Run, error) {
		attempts++
		ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
		defer cancel()
		return r.cfg.Store.RunFinish(ctx, p)
	})
	if err != nil && attempts > 1 && errors.Is(err, store.ErrConflict) {
		// An earlier attempt was committed though its answer was lost (it
		// timed out, or the connection broke): the run is finished as
		// this finish said. Take it as recorded, so that run.finished is
		// published and the outcome notified.
		if got, gerr := r.cfg.Store.RunGet(ctx, p.ID); gerr == nil && finishedAs(got, p) {
			run, err = got, nil
		}
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("record run %s as %s: %w", p.ID, p.Status, err)
	}
	if recorded != nil {
		recorded()
	}
	var retry *store.Run
	if p.ThenFollows(run) {
		retry = p.Then
	}
	r.cfg.Events.Publish(events.Event{Type: api.EventRunFinished, RuleName: run.Rule, Run: &run, Cause: cause, Retry: retry})
	return run, nil
}
