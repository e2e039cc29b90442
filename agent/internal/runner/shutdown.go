package runner

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// shutdownReserve is the most of a shutdown's time kept back from the jobs
// to record the runs whose jobs have not returned; it is what a deadline-less
// shutdown gives them once its context is done.
const shutdownReserve = 5 * time.Second

// letGoTime is how long Shutdown waits, once it has given up, for the
// runner's goroutines to let go of the store: they only have to notice.
const letGoTime = time.Second

// Shutdown stops the runner. Start refuses new runs and every running job is
// cancelled; the jobs then have until shortly before ctx's deadline to
// return. The last quarter of the time left, at most shutdownReserve, is
// kept to record the runs whose jobs have not returned as interrupted.
//
// Nothing Shutdown waits on outlasts ctx, whatever the database does. While
// it is unavailable, runs are retried until the deadline and then left as
// the store has them (running or cancelling): the next agent to start on
// this node marks them interrupted. Shutdown logs which runs it left so.
// With a ctx that has no deadline, the jobs have until ctx is done, and the
// leftovers shutdownReserve more.
//
// It returns nil when every job returned and its outcome was recorded, and
// otherwise an error saying how many jobs did not return and how many runs
// were left unrecorded.
func (r *Runner) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.closing = true
	r.noteIdle()
	r.mu.Unlock()
	r.Wake() // the dispatcher stops
	r.cancel(shutdownCause(r.cfg.Node))
	defer r.stopLive()

	grace, end := ctx, ctx
	if deadline, ok := ctx.Deadline(); ok {
		reserve := min(time.Until(deadline)/4, shutdownReserve)
		var cancel context.CancelFunc
		grace, cancel = context.WithDeadline(ctx, deadline.Add(-reserve))
		defer cancel()
	}
	select {
	case <-r.idle:
		return nil
	case <-grace.Done():
	}
	select {
	case <-r.idle:
		return nil
	default:
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		end, cancel = context.WithTimeout(context.WithoutCancel(ctx), shutdownReserve)
		defer cancel()
	}

	// Jobs that have not returned are recorded interrupted here; those that
	// have record their own outcome. Both until the deadline.
	var stuck, returned []*activeRun
	r.mu.Lock()
	for _, ar := range r.active {
		select {
		case <-ar.returned:
			returned = append(returned, ar)
		default:
			stuck = append(stuck, ar)
		}
	}
	r.mu.Unlock()
	interrupted := make([]bool, len(stuck))
	var wg sync.WaitGroup
	for i, ar := range stuck {
		wg.Go(func() { interrupted[i] = r.interrupt(end, ar) })
	}
	wg.Wait()
	for _, ar := range returned {
		select {
		case <-ar.done:
		case <-end.Done():
		}
	}

	// Give up on the rest, and let what still tries notice.
	r.stopLive()
	letGo, stopLetGo := context.WithTimeout(context.Background(), letGoTime)
	defer stopLetGo()
	waitFor := func(c <-chan struct{}) bool {
		select {
		case <-c:
			return true
		case <-letGo.Done():
			select {
			case <-c:
				return true
			default:
				return false
			}
		}
	}
	var left []string
	for _, ar := range returned {
		if !waitFor(ar.done) || !ar.recorded {
			left = append(left, ar.run.ID)
		}
	}
	var nInterrupted int
	for i, ar := range stuck {
		waitFor(ar.rep.flusherDone())
		if interrupted[i] {
			nInterrupted++
		} else {
			left = append(left, ar.run.ID)
		}
	}

	var msgs []string
	switch {
	case len(stuck) > 0 && nInterrupted == len(stuck):
		msgs = append(msgs, fmt.Sprintf("%d job(s) did not return within the grace period and were recorded as interrupted", len(stuck)))
	case len(stuck) > 0:
		msgs = append(msgs, fmt.Sprintf("%d job(s) did not return within the grace period (%d recorded as interrupted)", len(stuck), nInterrupted))
	}
	if len(left) > 0 {
		r.log.Error("runs not recorded before the shutdown deadline (database unavailable?): they stay as the database has them, and the next agent to start on this node marks them interrupted",
			"node", r.cfg.Node, "runs", left)
		msgs = append(msgs, fmt.Sprintf("%d run(s) could not be recorded before the deadline and are left for the next start to mark interrupted", len(left)))
	}
	if len(msgs) == 0 {
		return nil
	}
	return fmt.Errorf("shutdown: %s", strings.Join(msgs, "; "))
}

// interrupt records, by ctx's end, a run whose job has not returned as
// interrupted, with what its reporter holds; it reports whether the run is
// recorded as finished (by it, or by the job returning just now).
func (r *Runner) interrupt(ctx context.Context, ar *activeRun) bool {
	if err := ar.rep.flush(ctx); err != nil {
		r.log.Warn("store the log of a run that did not return", "run", ar.run.ID, "err", err)
	}
	_, err := r.finish(ctx, store.RunFinishParams{ID: ar.run.ID, Status: api.StatusInterrupted, Error: "interrupted: the agent stopped before the job returned (shutdown grace period over)"}, shutdownCause(r.cfg.Node))
	if err != nil && !errors.Is(err, store.ErrConflict) {
		r.log.Warn("record interrupted run", "run", ar.run.ID, "err", err)
		return false
	}
	return true
}
