// Package retry runs an operation again while it fails with an error worth
// retrying, waiting longer after each failure, until it succeeds, the policy
// gives up, or its context is done. The agent's parts that retry (recording
// a run's outcome and last log lines, sending a notification, firing a
// schedule, setting up EventBridge, listening to PostgreSQL) all use it, so
// they wait the same way and all stop when the agent shuts down.
package retry

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Backoff says how long to wait after a failure: First after the first,
// twice as long after each further one, never more than Max (when set),
// plus up to Jitter × the wait more at random, so that agents retrying
// the same thing spread out.
type Backoff struct {
	First  time.Duration
	Max    time.Duration
	Jitter float64 // 0 to 1
}

// Wait is how long to wait after the attempt-th failure (from 1).
func (b Backoff) Wait(attempt int) time.Duration {
	d := b.First
	for i := 1; i < attempt && (b.Max <= 0 || d < b.Max) && d <= math.MaxInt64/4; i++ {
		d *= 2 // stops short of overflowing, jitter included, when Max is unset
	}
	if b.Max > 0 {
		d = min(d, b.Max)
	}
	if b.Jitter > 0 && d > 0 {
		d += rand.N(time.Duration(float64(d)*b.Jitter) + 1)
	}
	return d
}

// Policy says when and how long to retry.
type Policy struct {
	Backoff
	// Attempts bounds the tries (the first one included); 0 for no bound.
	Attempts int
	// Within bounds the time: no retry starts once this has passed since
	// the first try; 0 for no bound.
	Within time.Duration
	// Retryable says which errors are worth another try; nil: all. Any
	// other error is returned as it is, at once.
	Retryable func(error) bool
	// Wait, when set, replaces Backoff: how long to wait after the
	// attempt-th failure, which failed with err.
	Wait func(attempt int, err error) time.Duration
	// OnRetry, when set, is told of each failure that will be retried and
	// of the wait before the retry (to log it).
	OnRetry func(attempt int, wait time.Duration, err error)
}

// Do calls op until it returns nil, or an error Retryable rejects, or the
// policy's attempts or time are spent, or ctx is done; it waits as the
// policy says between calls, and does not call op at all when ctx is done
// already. It returns nil, the rejected error as it is, or the last error
// wrapped with how many attempts were made (and with ctx's cause when ctx
// ended the retries); errors.Is sees through both.
func Do(ctx context.Context, p Policy, op func(context.Context) error) error {
	_, err := Value(ctx, p, func(ctx context.Context) (struct{}, error) { return struct{}{}, op(ctx) })
	return err
}

// Value is Do for an operation that returns a value with its error.
func Value[T any](ctx context.Context, p Policy, op func(context.Context) (T, error)) (T, error) {
	var zero T
	if ctx.Err() != nil {
		return zero, fmt.Errorf("not tried: %w", context.Cause(ctx))
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		v, err := op(ctx)
		if err == nil {
			return v, nil
		}
		if p.Retryable != nil && !p.Retryable(err) {
			return zero, err
		}
		if ctx.Err() != nil {
			return zero, stopped(ctx, attempt, err)
		}
		if p.Attempts > 0 && attempt >= p.Attempts || p.Within > 0 && time.Since(start) >= p.Within {
			return zero, fmt.Errorf("gave up after %d attempts: %w", attempt, err)
		}
		wait := p.Backoff.Wait(attempt)
		if p.Wait != nil {
			wait = p.Wait(attempt, err)
		}
		if p.OnRetry != nil {
			p.OnRetry(attempt, wait, err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return zero, stopped(ctx, attempt, err)
		}
	}
}

func stopped(ctx context.Context, attempts int, err error) error {
	return fmt.Errorf("stopped after %d attempts (%w): %w", attempts, context.Cause(ctx), err)
}
