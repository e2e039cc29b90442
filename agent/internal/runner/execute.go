package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
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

	rep := ar.rep
	err := callJob(jobs.WithReporter(ctx, rep), job, params, rep)
	close(ar.returned)
	stopAfter()
	rep.close()

	fin, cause := outcome(ctx, id, err)
	fin.Error = rep.mask.mask(fin.Error)
	_, ferr := r.finish(r.live, fin, cause)
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

// Retries while the database is unavailable wait retryFirst, then twice as
// long each time, up to retryMax. Each store call gets storeCallTimeout.
const (
	retryFirst       = 100 * time.Millisecond
	retryMax         = 5 * time.Second
	storeCallTimeout = 10 * time.Second
)

// finish records a run's end, retrying while the database is unavailable so
// that a final state is not lost to an outage: the job's work is done, and
// the database will be back. It gives up after finishPatience, or when ctx
// is done (the shutdown's deadline), and then does not touch the store.
// cause, nil or wrapping ErrCancelled, ErrTimeout or ErrShutdown, says why
// the run's context was cancelled; the run.finished event carries it.
func (r *Runner) finish(ctx context.Context, p store.RunFinishParams, cause error) (store.Run, error) {
	p.FinishedAt = time.Now().UTC()
	deadline := time.Now().Add(finishPatience)
	backoff := retryFirst
	for {
		if ctx.Err() != nil {
			return store.Run{}, fmt.Errorf("record run %s as %s: gave up: %w", p.ID, p.Status, context.Cause(ctx))
		}
		cctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
		run, err := r.cfg.Store.RunFinish(cctx, p)
		cancel()
		if err == nil {
			r.cfg.Events.Publish(events.Event{Type: api.EventRunFinished, RuleName: run.Rule, Run: &run, Cause: cause})
			return run, nil
		}
		if !errors.Is(err, store.ErrUnavailable) || time.Now().After(deadline) || ctx.Err() != nil {
			return store.Run{}, fmt.Errorf("record run %s as %s: %w", p.ID, p.Status, err)
		}
		r.log.Warn("database unavailable, will retry recording the run's outcome", "run", p.ID, "status", p.Status, "err", err)
		if !sleep(ctx, backoff) {
			return store.Run{}, fmt.Errorf("record run %s as %s: gave up: %w", p.ID, p.Status, err)
		}
		backoff = min(backoff*2, retryMax)
	}
}

// sleep waits d, or less if ctx is done first; it reports whether it slept
// all of d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
