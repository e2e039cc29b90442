package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// What a run stopped by its rule's timeout or by the agent's shutdown
// records as its canceller (CancelledBy) and reason. They are for people
// reading the run; code tells the causes apart with errors.Is on the run's
// cause (see events.Event.Cause), never by these texts, which an operator
// may write too.
const (
	// TimeoutCanceller is CancelledBy of a run stopped by its rule's timeout.
	TimeoutCanceller = "timeout"
	// ShutdownReason is CancelReason of a run cancelled by the agent's shutdown.
	ShutdownReason = "agent shutting down"
)

// Why a run's context was cancelled. The cause of a run's context, and of
// the run.finished event the runner publishes for it, wraps one of these.
var (
	// ErrCancelled: someone asked to cancel the run (the API, the console,
	// another agent relaying such a request).
	ErrCancelled = errors.New("cancelled")
	// ErrTimeout: the rule's timeout passed.
	ErrTimeout = errors.New("timed out")
	// ErrShutdown: the agent is shutting down.
	ErrShutdown = errors.New("the agent is shutting down")
)

// cancelCause is why a run's context was cancelled: it decides the run's
// final state and error, and wraps ErrCancelled, ErrTimeout or ErrShutdown.
type cancelCause struct {
	kind   error
	status api.RunStatus // the state the run ends in
	by     string
	reason string
	msg    string
}

func (c *cancelCause) Error() string { return c.msg }
func (c *cancelCause) Unwrap() error { return c.kind }

func operatorCause(by, reason string) *cancelCause {
	msg := "cancelled by " + by
	if reason != "" {
		msg += ": " + reason
	}
	return &cancelCause{kind: ErrCancelled, status: api.StatusCancelled, by: by, reason: reason, msg: msg}
}

func timeoutCause(d time.Duration) *cancelCause {
	msg := fmt.Sprintf("timed out after %s (the rule's timeout)", d)
	return &cancelCause{kind: ErrTimeout, status: api.StatusFailed, by: TimeoutCanceller, reason: msg, msg: msg}
}

func shutdownCause(node string) *cancelCause {
	return &cancelCause{
		kind:   ErrShutdown,
		status: api.StatusCancelled,
		by:     "agent " + node,
		reason: ShutdownReason,
		msg:    "cancelled: the agent is shutting down",
	}
}

// Cancel asks a run to stop on behalf of by. The run turns cancelling at once
// and cancelled when its job returns; a queued run is cancelled at once and
// never starts (a queued retry so ends its series). Cancelling a run that is
// already cancelling returns it unchanged; a finished run is
// store.ErrConflict.
func (r *Runner) Cancel(ctx context.Context, id, by, reason string) (store.Run, error) {
	run, err := r.cfg.Store.RunSetCancelling(ctx, id, by, reason)
	if err != nil {
		return store.Run{}, fmt.Errorf("cancel run %s: %w", id, err)
	}
	if run.Status == api.StatusCancelled {
		// It was queued: it is finished, and never starts (nor is retried).
		r.recall(id)
		r.cfg.Events.Publish(events.Event{Type: api.EventRunFinished, RuleName: run.Rule, Run: &run, Cause: operatorCause(by, reason)})
		return run, nil
	}
	r.publish(api.EventRunCancelling, run)
	r.noteState(run)
	if !r.cancelActive(id, operatorCause(by, reason)) && r.cfg.RemoteCancel != nil {
		if err := r.cfg.RemoteCancel(ctx, id); err != nil {
			return run, fmt.Errorf("cancel run %s: tell the agent running it: %w", id, err)
		}
	}
	return run, nil
}

// cancelActive cancels the run if it executes here.
func (r *Runner) cancelActive(id string, cause *cancelCause) bool {
	r.mu.Lock()
	ar := r.active[id]
	r.mu.Unlock()
	if ar == nil {
		return false
	}
	ar.cancel(cause)
	return true
}

// CancelLocal stops a run executing here that another agent was asked to
// cancel; who asked and why are read from the store, where that agent
// recorded them. It reports whether the run executes here.
func (r *Runner) CancelLocal(ctx context.Context, id string) (bool, error) {
	r.mu.Lock()
	_, here := r.active[id]
	r.mu.Unlock()
	if !here {
		return false, nil
	}
	run, err := r.cfg.Store.RunGet(ctx, id)
	if err != nil {
		return true, fmt.Errorf("cancel run %s for another agent: %w", id, err)
	}
	if run.Status != api.StatusCancelling {
		return true, nil
	}
	r.noteState(run)
	r.cancelActive(id, operatorCause(run.CancelledBy, run.CancelReason))
	return true, nil
}

// markCancelling records that a run's context was cancelled by its timeout
// or by shutdown and its job has not returned yet.
func (r *Runner) markCancelling(id string, cause error) {
	var cc *cancelCause
	if !errors.As(cause, &cc) || cc.by == "" {
		return
	}
	if r.live.Err() != nil {
		return // Shutdown has given up on the store
	}
	ctx, cancel := context.WithTimeout(r.live, 5*time.Second)
	defer cancel()
	run, err := r.cfg.Store.RunSetCancelling(ctx, id, cc.by, cc.reason)
	if err != nil {
		if !errors.Is(err, store.ErrConflict) && r.live.Err() == nil {
			r.log.Warn("record cancelling", "run", id, "err", err)
		}
		return
	}
	r.publish(api.EventRunCancelling, run)
	r.noteState(run)
}

// noteState hands a running run's new state to its reporter.
func (r *Runner) noteState(run store.Run) {
	r.mu.Lock()
	ar := r.active[run.ID]
	r.mu.Unlock()
	if ar != nil {
		ar.rep.update(run)
	}
}
