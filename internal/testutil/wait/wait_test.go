package wait_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jobbridge/jobbridge/internal/testutil/wait"
)

func TestForReturnsOnceTheConditionHolds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		calls := 0
		wait.For(t, time.Minute, func() (bool, string) {
			calls++
			return time.Since(start) >= time.Second, "not yet"
		})
		if waited := time.Since(start); waited < time.Second || waited > time.Second+100*time.Millisecond {
			t.Errorf("For returned %s after the condition began to hold at 1s", waited)
		}
		if calls > 40 {
			t.Errorf("For polled %d times in 1s; the backoff should keep it to a few dozen", calls)
		}
	})
}

func TestPollGivesUpWithTheLastReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		var n atomic.Int32
		ok, why := wait.Poll(t, 3*time.Second, func() (bool, string) {
			return false, fmt.Sprintf("poll %d", n.Add(1))
		})
		if ok {
			t.Fatal("Poll reported a condition that never held as met")
		}
		if waited := time.Since(start); waited != 3*time.Second {
			t.Errorf("Poll gave up after %s, want exactly the 3s timeout", waited)
		}
		if want := fmt.Sprintf("poll %d", n.Load()); why != want {
			t.Errorf("Poll's reason %q, want the last one, %q", why, want)
		}
	})
}

// fatalRecorder is a testing.TB whose Fatalf is recorded, not fatal.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}
func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
}

func TestForFailsTheTestWithTheReason(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &fatalRecorder{TB: t}
		wait.For(rec, time.Second, func() (bool, string) { return false, "run r1 is queued" })
		if !strings.Contains(rec.msg, "run r1 is queued") || !strings.Contains(rec.msg, "1s") {
			t.Errorf("For failed with %q, want the timeout and the condition's reason", rec.msg)
		}
	})
}

// deadlineTB is a testing.TB whose binary's deadline is near.
type deadlineTB struct {
	testing.TB
	deadline time.Time
}

func (d deadlineTB) Deadline() (time.Time, bool) { return d.deadline, true }

// A wait gives up before go test's -timeout would end the binary, so the
// test fails with the condition's reason rather than a panic.
func TestPollGivesUpBeforeTheTestsDeadline(t *testing.T) {
	t.Parallel()
	start := time.Now()
	tb := deadlineTB{TB: t, deadline: start.Add(2*time.Second + 100*time.Millisecond)}
	ok, _ := wait.Poll(tb, time.Minute, func() (bool, string) { return false, "never" })
	if waited := time.Since(start); ok || waited > time.Second {
		t.Errorf("Poll returned %v after %s with the test's deadline 2.1s away, want to give up 2s before it", ok, waited)
	}
}
