package runner

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/retry"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// A run that ends failed (its job's error, a panic, or its rule's timeout)
// is retried when its rule, as it is when the run ends, has a retry policy
// with attempts left: the finish records the retry with it, queued until
// its backoff has passed, in the same transaction (store.RunFinishParams.
// Then), so a retry is never lost nor made twice, and the dispatcher of
// whichever agent finds it due starts it. Runs cancelled by an operator,
// by the agent's shutdown or interrupted (their agent died: presumed, not
// known, to have failed) are not retried.

// RetryBackoff is how long the n-th retry (n from 1) of a run waits: the
// policy's Backoff·2^(n-1), at most MaxBackoff (when set), less a random
// part of Jitter of it (rnd in [0,1)).
func RetryBackoff(p store.RetryPolicy, n int, rnd float64) time.Duration {
	d := p.Backoff
	for i := 1; i < n && d > 0; i++ {
		if p.MaxBackoff > 0 && d >= p.MaxBackoff {
			break
		}
		if d > time.Duration(1<<62)/2 {
			break
		}
		d *= 2
	}
	if p.MaxBackoff > 0 && d > p.MaxBackoff {
		d = p.MaxBackoff
	}
	jitter := min(max(p.Jitter, 0), 1)
	return d - time.Duration(float64(d)*jitter*rnd)
}

// retryOf returns the retry of a run that ended as fin says, or nil when
// it is not to be retried. rule is the run's rule as read when it ended
// (finishingRule), err why it could not be.
func (r *Runner) retryOf(ar *activeRun, fin store.RunFinishParams, rule store.Rule, err error) *store.Run {
	if fin.Status != api.StatusFailed {
		return nil
	}
	run := ar.run
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) { // deleted: nothing to retry for
			r.log.Error("read the rule of a failed run: it is not retried", "run", run.ID, "rule", run.Rule, "err", err)
		}
		return nil
	}
	pol := rule.Policy.Retry
	attempt := max(run.Attempt, 1)
	if pol == nil || attempt > pol.Attempts {
		return nil
	}
	first := run.RetryOf
	if first == "" {
		first = run.ID
	}
	wait := RetryBackoff(*pol, attempt, rand.Float64())
	return &store.Run{
		Rule:        run.Rule,
		Job:         run.Job,
		Status:      api.StatusQueued,
		Trigger:     api.TriggerRetry,
		Parameters:  run.Parameters,
		TriggeredBy: run.TriggeredBy,
		Node:        r.cfg.Node,
		Attempt:     attempt + 1,
		RetryOf:     first,
		NotBefore:   r.cfg.Now().Add(wait),
		// A rule that never runs two at once (skip, queue) has its retry
		// wait for the run going, rather than start beside it.
		Serial:    rule.Overlap == api.OverlapQueue || rule.Overlap == api.OverlapSkip,
		WarnAfter: rule.Policy.WarnAfter,
		// A retry of a chained run is still that chain's: it keeps its
		// parent, and its depth, which bounds the chains it starts.
		ParentRun:  run.ParentRun,
		ChainDepth: run.ChainDepth,
	}
}

// finishingRule reads the rule of a run that ends (through the cache),
// trying again while the database is unavailable: what it decides, a retry
// or the runs the rule's chains start, is not to be lost to a blip.
func (r *Runner) finishingRule(ctx context.Context, name string) (store.Rule, error) {
	if rule, ok := r.rules.cached(name); ok {
		return rule, nil // every run of a busy rule: no retry, no timer
	}
	return retry.Value(ctx, whileUnavailable, func(ctx context.Context) (store.Rule, error) {
		ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
		defer cancel()
		return r.rules.get(ctx, r.cfg.Store, name)
	})
}
