package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/jobbridge/jobbridge/agent/events"
	"github.com/jobbridge/jobbridge/agent/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// execute runs the job on its own goroutine and records how it ended.
func (r *Runner) execute(ctx context.Context, ar *activeRun, job jobs.Job, params jobs.Params, timeout time.Duration) {
	defer r.wg.Done()
	defer close(ar.done)
	defer func() {
		r.mu.Lock()
		delete(r.active, ar.run.ID)
		r.mu.Unlock()
	}()

	if timeout > 0 {
		var stop context.CancelFunc
		ctx, stop = context.WithTimeoutCause(ctx, timeout, timeoutCause(timeout))
		defer stop()
	}
	id := ar.run.ID
	stopAfter := context.AfterFunc(ctx, func() { r.markCancelling(id, context.Cause(ctx)) })

	rep := ar.rep
	err := callJob(jobs.WithReporter(ctx, rep), job, params, rep)
	stopAfter()
	rep.close()

	fin := outcome(ctx, id, err)
	fin.Error = rep.mask.mask(fin.Error)
	if _, ferr := r.finish(fin); ferr != nil && !errors.Is(ferr, store.ErrConflict) {
		r.log.Error("record run outcome", "run", id, "status", fin.Status, "err", ferr)
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
// context ended, if it did.
func outcome(ctx context.Context, id string, err error) store.RunFinishParams {
	p := store.RunFinishParams{ID: id, Status: api.StatusSucceeded}
	var cc *cancelCause
	switch {
	case errors.As(context.Cause(ctx), &cc):
		p.Status, p.Error, p.CancelledBy, p.CancelReason = cc.status, cc.msg, cc.by, cc.reason
		if err == nil {
			p.Error += " (the job finished its work anyway)"
		}
	case err != nil:
		p.Status, p.Error = api.StatusFailed, err.Error()
	}
	return p
}

// finishPatience is how long a run's outcome is retried while the database
// is unavailable (a restart, a failover) before it is given up.
const finishPatience = 10 * time.Minute

// finish records a run's end, retrying while the database is unavailable so
// that a final state is not lost to an outage: the job's work is done, and
// the database will be back.
func (r *Runner) finish(p store.RunFinishParams) (store.Run, error) {
	p.FinishedAt = time.Now().UTC()
	deadline := time.Now().Add(finishPatience)
	backoff := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		run, err := r.cfg.Store.RunFinish(ctx, p)
		cancel()
		if err == nil {
			r.publish(events.RunFinished, run)
			return run, nil
		}
		if !errors.Is(err, store.ErrUnavailable) || time.Now().After(deadline) {
			return store.Run{}, fmt.Errorf("record run %s as %s: %w", p.ID, p.Status, err)
		}
		r.log.Warn("database unavailable, will retry recording the run's outcome", "run", p.ID, "status", p.Status, "err", err)
		time.Sleep(backoff)
		backoff = min(backoff*2, 5*time.Second)
	}
}
