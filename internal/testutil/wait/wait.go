// Package wait lets a test wait for a condition instead of sleeping: it
// polls the condition with a short backoff and, when time runs out, fails
// with the condition's own account of what it last saw. It is the one
// polling loop of the module's tests.
//
// Inside a testing/synctest bubble the backoff sleeps on the bubble's
// virtual clock, so waiting there costs no real time.
package wait

import (
	"testing"
	"time"
)

// The backoff between two polls starts at firstPause and doubles up to
// maxPause: a condition that holds soon is seen soon, and one that takes
// seconds is not polled thousands of times.
const (
	firstPause = time.Millisecond
	maxPause   = 50 * time.Millisecond
)

// deadlineMargin is how long before the test binary's own deadline (go test
// -timeout) a wait gives up, so the test fails with the condition's reason
// rather than the binary panicking with every goroutine's stack.
const deadlineMargin = 2 * time.Second

// For waits until cond reports ok, polling it with a short backoff, and
// fails the test with cond's last why when timeout passes first. why says
// what cond saw ("run r1 is queued, want succeeded"); it is read only when
// the wait fails.
func For(t testing.TB, timeout time.Duration, cond func() (ok bool, why string)) {
	t.Helper()
	if ok, why := Poll(t, timeout, cond); !ok {
		t.Fatalf("gave up after %s: %s", timeout, why)
	}
}

// Poll is For for a caller that handles the failure itself: it returns
// cond's last answer, ok as soon as cond holds, or not ok once timeout
// (or the test's deadline) has passed.
func Poll(t testing.TB, timeout time.Duration, cond func() (ok bool, why string)) (bool, string) {
	t.Helper()
	end := time.Now().Add(timeout)
	if td, set := testDeadline(t); set && td.Add(-deadlineMargin).Before(end) {
		end = td.Add(-deadlineMargin)
	}
	pause := firstPause
	for {
		ok, why := cond()
		if ok || !time.Now().Before(end) {
			return ok, why
		}
		time.Sleep(min(pause, time.Until(end)))
		pause = min(2*pause, maxPause)
	}
}

// testDeadline is t's deadline, when t has one. Inside a synctest bubble the
// clock is virtual and t.Deadline panics; there is no real deadline to
// honour there, so none is reported.
func testDeadline(t testing.TB) (deadline time.Time, set bool) {
	d, ok := t.(interface{ Deadline() (time.Time, bool) })
	if !ok {
		return time.Time{}, false
	}
	defer func() {
		if recover() != nil {
			deadline, set = time.Time{}, false
		}
	}()
	return d.Deadline()
}
