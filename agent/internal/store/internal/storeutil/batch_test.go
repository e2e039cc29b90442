package storeutil

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jobbridge/jobbridge/internal/testutil/wait"
)

// A batcher whose first write is held: the calls that arrive meanwhile go
// together in the second write, and each gets its own outcome.
func TestBatcherGathersCallsWhileAWriteIsUnderWay(t *testing.T) {
	release := make(chan struct{})
	var (
		mu      sync.Mutex
		batches [][]int
	)
	b := &Batcher[int, int]{Write: func(ctx context.Context, calls []*Call[int, int]) error {
		mu.Lock()
		var reqs []int
		for _, c := range calls {
			reqs = append(reqs, c.Req)
		}
		batches = append(batches, reqs)
		first := len(batches) == 1
		mu.Unlock()
		if first {
			<-release
		}
		for _, c := range calls {
			if c.Req%5 == 0 {
				c.Set(0, errors.New("refused"))
				continue
			}
			c.Set(c.Req*10, nil)
		}
		return nil
	}}
	var wg sync.WaitGroup
	results := make([]int, 11)
	errs := make([]error, 11)
	wg.Go(func() { results[0], errs[0] = b.Do(t.Context(), 0) })
	wait.For(t, 5*time.Second, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(batches) == 1, "the first write to start"
	})
	for i := 1; i <= 10; i++ {
		wg.Go(func() { results[i], errs[i] = b.Do(t.Context(), i) })
	}
	wait.For(t, 5*time.Second, func() (bool, string) {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.queue) == 10, "ten calls to queue"
	})
	close(release)
	wg.Wait()
	if len(batches) != 2 || len(batches[1]) != 10 {
		t.Fatalf("batches written: %v; want [0] then the ten that waited, together", batches)
	}
	for i := range 11 {
		switch {
		case i%5 == 0 && (errs[i] == nil || errs[i].Error() != "refused"):
			t.Errorf("call %d: error %v, want its own refusal", i, errs[i])
		case i%5 != 0 && (errs[i] != nil || results[i] != i*10):
			t.Errorf("call %d: %d, %v; want %d", i, results[i], errs[i], i*10)
		}
	}
}

// A write's error fails the calls it did not settle; a call whose context
// ends while it waits is not written and returns its context's error; the
// batch is bounded by Max.
func TestBatcherErrorsCancellationAndMax(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	boom := errors.New("database gone")
	b := &Batcher[int, int]{Max: 3, Write: func(ctx context.Context, calls []*Call[int, int]) error {
		mu.Lock()
		sizes = append(sizes, len(calls))
		first := len(sizes) == 1
		mu.Unlock()
		if first {
			<-release
			return nil // settles nothing: a bug, said so
		}
		calls[0].Set(1, nil)
		return boom
	}}
	var wg sync.WaitGroup
	var firstErr error
	wg.Go(func() { _, firstErr = b.Do(t.Context(), 0) })
	wait.For(t, 5*time.Second, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		return len(sizes) == 1, "the first write to start"
	})
	ctx, cancel := context.WithCancel(t.Context())
	var cancelledErr error
	wg.Go(func() { _, cancelledErr = b.Do(ctx, 99) })
	wait.For(t, 5*time.Second, func() (bool, string) { b.mu.Lock(); defer b.mu.Unlock(); return len(b.queue) == 1, "the call to queue" })
	cancel()
	errs := make([]error, 5)
	for i := range 5 {
		wg.Go(func() { _, errs[i] = b.Do(t.Context(), i+1) })
	}
	wait.For(t, 5*time.Second, func() (bool, string) {
		b.mu.Lock()
		defer b.mu.Unlock()
		return len(b.queue) == 6, "five more calls to queue"
	})
	close(release)
	wg.Wait()
	if !errors.Is(firstErr, errNoOutcome) {
		t.Errorf("a call the write did not settle: %v, want errNoOutcome", firstErr)
	}
	if !errors.Is(cancelledErr, context.Canceled) {
		t.Errorf("a call cancelled while queued: %v, want context.Canceled", cancelledErr)
	}
	failed := 0
	for _, err := range errs {
		if errors.Is(err, boom) {
			failed++
		}
	}
	if failed != 3 { // two batches of at most 3, each settling one call
		t.Errorf("%d calls got the write's error; want 3: %v", failed, errs)
	}
	for _, n := range sizes[1:] {
		if n > 3 {
			t.Errorf("a batch of %d calls; Max is 3", n)
		}
	}
}

// With Linger, a leader waits for company before it takes its batch: calls
// that arrive within it go together even when no write is under way.
func TestBatcherLingersForCompany(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var sizes []int
		b := &Batcher[int, int]{Linger: 50 * time.Millisecond, Write: func(ctx context.Context, calls []*Call[int, int]) error {
			sizes = append(sizes, len(calls))
			for _, c := range calls {
				c.Set(c.Req, nil)
			}
			return nil
		}}
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() {
				if got, err := b.Do(t.Context(), i); got != i || err != nil {
					t.Errorf("call %d: %d, %v", i, got, err)
				}
			})
			time.Sleep(4 * time.Millisecond)
		}
		wg.Wait()
		if len(sizes) != 1 || sizes[0] != 10 {
			t.Fatalf("batches written: %v; want the ten calls of 40ms in one, after the 50ms linger", sizes)
		}
	})
}
