package retry_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/retry"
)

var errDown = errors.New("down")

// failing fails n times with err, then succeeds; it notes when it was called.
type failing struct {
	n     int
	err   error
	calls []time.Time
}

func (f *failing) op(context.Context) error {
	f.calls = append(f.calls, time.Now())
	if len(f.calls) <= f.n {
		return f.err
	}
	return nil
}

// gaps are the waits between the calls.
func (f *failing) gaps() []time.Duration {
	var out []time.Duration
	for i := 1; i < len(f.calls); i++ {
		out = append(out, f.calls[i].Sub(f.calls[i-1]))
	}
	return out
}

func TestRetriesWithExponentialBackoffUpToTheCap(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &failing{n: 5, err: errDown}
		var told []time.Duration
		p := retry.Policy{
			Backoff: retry.Backoff{First: time.Second, Max: 5 * time.Second},
			OnRetry: func(_ int, wait time.Duration, _ error) { told = append(told, wait) },
		}
		if err := retry.Do(t.Context(), p, f.op); err != nil {
			t.Fatalf("Do: %v, want success on the 6th try", err)
		}
		want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
		if got := f.gaps(); !slices.Equal(got, want) || !slices.Equal(told, want) {
			t.Errorf("waits %v (told %v), want %v", got, told, want)
		}
	})
}

func TestJitterAddsAtMostItsShare(t *testing.T) {
	b := retry.Backoff{First: time.Second, Max: 8 * time.Second, Jitter: 0.25}
	for attempt, base := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 9: 8 * time.Second} {
		for range 100 {
			if w := b.Wait(attempt); w < base || w > base+base/4 {
				t.Fatalf("Wait(%d) = %s, want %s to %s", attempt, w, base, base+base/4)
			}
		}
	}
}

func TestGivesUpAfterTheAttemptsWithTheLastError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &failing{n: 10, err: errDown}
		err := retry.Do(t.Context(), retry.Policy{Backoff: retry.Backoff{First: time.Second}, Attempts: 3}, f.op)
		if !errors.Is(err, errDown) || len(f.calls) != 3 {
			t.Errorf("Do: %v after %d calls, want errDown after 3", err, len(f.calls))
		}
	})
}

func TestGivesUpOnceTheTimeIsSpent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &failing{n: 100, err: errDown}
		start := time.Now()
		err := retry.Do(t.Context(), retry.Policy{Backoff: retry.Backoff{First: time.Second, Max: 4 * time.Second}, Within: 10 * time.Second}, f.op)
		// Tries at 0, 1, 3, 7 and 11 s; none starts after 10 s.
		if !errors.Is(err, errDown) || len(f.calls) != 5 || time.Since(start) != 11*time.Second {
			t.Errorf("Do: %v after %d calls and %s", err, len(f.calls), time.Since(start))
		}
	})
}

func TestAnErrorNotWorthRetryingReturnsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errBad := errors.New("bad request")
		f := &failing{n: 10, err: errBad}
		p := retry.Policy{Backoff: retry.Backoff{First: time.Second}, Retryable: func(err error) bool { return errors.Is(err, errDown) }}
		if err := retry.Do(t.Context(), p, f.op); err != errBad || len(f.calls) != 1 {
			t.Errorf("Do: %v after %d calls, want errBad as is after 1", err, len(f.calls))
		}
	})
}

func TestStopsWhenTheContextIsDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		errStop := errors.New("shutting down")
		ctx, cancel := context.WithCancelCause(t.Context())
		time.AfterFunc(90*time.Second, func() { cancel(errStop) })
		f := &failing{n: 1000, err: errDown}
		start := time.Now()
		err := retry.Do(ctx, retry.Policy{Backoff: retry.Backoff{First: time.Minute}}, f.op)
		if !errors.Is(err, errDown) || !errors.Is(err, errStop) || time.Since(start) != 90*time.Second || len(f.calls) != 2 {
			t.Errorf("Do: %v after %d calls and %s; want both errors, 2 calls, 90s", err, len(f.calls), time.Since(start))
		}
		// Done already: op is not called.
		f.calls = nil
		if err := retry.Do(ctx, retry.Policy{}, f.op); !errors.Is(err, errStop) || len(f.calls) != 0 {
			t.Errorf("Do on a done context: %v after %d calls", err, len(f.calls))
		}
	})
}

func TestValueReturnsTheValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := 0
		v, err := retry.Value(t.Context(), retry.Policy{Backoff: retry.Backoff{First: time.Second}}, func(context.Context) (int, error) {
			if n++; n < 3 {
				return 0, errDown
			}
			return 42, nil
		})
		if v != 42 || err != nil {
			t.Errorf("Value = %d, %v", v, err)
		}
	})
}

// With no cap, the wait keeps growing but never overflows into a negative
// one, which would make the retries spin.
func TestAnUncappedWaitNeverTurnsNegative(t *testing.T) {
	b := retry.Backoff{First: 100 * time.Millisecond, Jitter: 1}
	prev := time.Duration(0)
	for attempt := 1; attempt <= 200; attempt++ {
		w := b.Wait(attempt)
		if w <= 0 || w < prev/2 {
			t.Fatalf("attempt %d waits %s after %s", attempt, w, prev)
		}
		prev = w
	}
}
