package session

import (
	"fmt"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
)

// StatusText is a run's state as the lists show it: its status, or "slow"
// for a running run past its rule's warnAfter (the flag must read without
// colour, so it is a word).
func StatusText(r *api.Run) string {
	if r.Slow && r.Status == api.StatusRunning {
		return "slow"
	}
	return string(r.Status)
}

// TriggerText is what started a run, with the attempt of a retry:
// "schedule", "retry 2", "catchup".
func TriggerText(r *api.Run) string {
	if r.Trigger == api.TriggerRetry && r.Attempt > 1 {
		return fmt.Sprintf("retry %d", r.Attempt)
	}
	return string(r.Trigger)
}

// WaitText says what a queued run waits for: "retry at 10:05:30" (in the
// console's zone, via local), "starts at 10:05:30", or "waiting" for its
// turn (its rule's earlier runs, a slot of its job). "" for a run that is
// not queued.
func WaitText(r *api.Run, local func(time.Time) time.Time) string {
	if !r.Status.Waiting() {
		return ""
	}
	if r.NotBefore == nil {
		return "waiting"
	}
	at := local(*r.NotBefore).Format("15:04:05")
	if r.Trigger == api.TriggerRetry {
		return "retry at " + at
	}
	return "starts at " + at
}
