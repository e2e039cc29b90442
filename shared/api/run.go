// Package api holds the types of jobbridge's JSON API: what the agent answers
// and what its clients (the console, scripts) read. It imports no database and
// no terminal library, so every side of the wire can depend on it.
package api

import "fmt"

// RunStatus is the state of a run. A run starts Running (or Queued, waiting
// for its turn, a slot of its job or its retry's time) and ends in one of the
// terminal states; Cancelling sits between while a job has been asked to stop
// and has not returned yet.
type RunStatus string

// The run states (docs/architecture.md, "Run states").
const (
	// StatusQueued is a run recorded but not started: it waits for the
	// rule's previous run (overlap "queue"), a free slot of its job's
	// limit, or the time of its retry (notBefore). It starts, on any agent,
	// as soon as it may; an operator can cancel it.
	StatusQueued      RunStatus = "queued"
	StatusRunning     RunStatus = "running"
	StatusCancelling  RunStatus = "cancelling"
	StatusSucceeded   RunStatus = "succeeded"
	StatusFailed      RunStatus = "failed"
	StatusCancelled   RunStatus = "cancelled"
	StatusInterrupted RunStatus = "interrupted"
	StatusSkipped     RunStatus = "skipped"
	// StatusMissed records a fire the agent expected and that did not come
	// within the grace (the dead-man's switch); its error says which.
	StatusMissed RunStatus = "missed"
)

// RunStatuses lists every run state: waiting, active, then terminal ones.
var RunStatuses = []RunStatus{
	StatusQueued, StatusRunning, StatusCancelling, StatusSucceeded, StatusFailed,
	StatusCancelled, StatusInterrupted, StatusSkipped, StatusMissed,
}

// Active reports whether a run in this state may still change: its job has
// not returned yet.
func (s RunStatus) Active() bool { return s == StatusRunning || s == StatusCancelling }

// Waiting reports whether a run in this state has not started yet.
func (s RunStatus) Waiting() bool { return s == StatusQueued }

// Terminal reports whether a run in this state is finished for good.
func (s RunStatus) Terminal() bool { return s.Valid() && !s.Active() && !s.Waiting() }

// Valid reports whether s is one of the run states.
func (s RunStatus) Valid() bool {
	for _, v := range RunStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// ParseRunStatus returns the run state named s, or an error that lists the
// valid ones.
func ParseRunStatus(s string) (RunStatus, error) {
	if st := RunStatus(s); st.Valid() {
		return st, nil
	}
	return "", fmt.Errorf("unknown run status %q (want one of %v)", s, RunStatuses)
}

// Trigger says what started a run.
type Trigger string

// The triggers (docs/architecture.md, "Run states").
const (
	TriggerSchedule Trigger = "schedule" // EventBridge or the local scheduler fired the rule
	TriggerManual   Trigger = "manual"   // an operator or script asked for a run now
	TriggerRestart  Trigger = "restart"  // an operator restarted an earlier run
	TriggerRetry    Trigger = "retry"    // the rule's retry policy retried a failed run
	TriggerCatchUp  Trigger = "catchup"  // a fire missed while no agent ran, run by the rule's catchUp
	TriggerChain    Trigger = "chain"    // a chain of another rule's run (see Chains)
)

// Overlap is a rule's policy for a fire that arrives while an earlier run of
// the same rule is still active.
type Overlap string

// The overlap policies.
const (
	OverlapAllow Overlap = "allow" // start another run alongside
	OverlapSkip  Overlap = "skip"  // record a skipped run and start nothing
	OverlapQueue Overlap = "queue" // record a queued run that starts when the earlier ones end, in order
)

// Valid reports whether o is a known policy. The empty policy means allow.
func (o Overlap) Valid() bool {
	return o == "" || o == OverlapAllow || o == OverlapSkip || o == OverlapQueue
}

// CatchUp is a rule's policy for fires missed while no agent could fire
// them (the local scheduler only: in the EventBridge backends AWS keeps
// delivering, and maxLateness bounds how late).
type CatchUp string

// The catch-up policies.
const (
	CatchUpNone   CatchUp = "none"   // run none of them (the default)
	CatchUpLatest CatchUp = "latest" // run the latest one inside catchUpWindow
	CatchUpAll    CatchUp = "all"    // run every one inside catchUpWindow, oldest first
)

// Valid reports whether c is a known policy. The empty policy means none.
func (c CatchUp) Valid() bool {
	return c == "" || c == CatchUpNone || c == CatchUpLatest || c == CatchUpAll
}

// RetryPolicy is a rule's answer to a failed or timed-out run: retry it
// Attempts more times, the n-th retry Backoff·2^(n-1) after the failure
// (at most MaxBackoff), less a random part of Jitter (0 to 1) of that delay.
// Durations are Go durations ("30s").
type RetryPolicy struct {
	Attempts   int     `json:"attempts"`
	Backoff    string  `json:"backoff,omitempty"`
	MaxBackoff string  `json:"maxBackoff,omitempty"`
	Jitter     float64 `json:"jitter,omitempty"`
}

// Progress is what a job last reported of how far it has got.
type Progress struct {
	Percent int    `json:"percent"`
	Message string `json:"message,omitempty"`
}

// MaskedValue replaces the value of a secret parameter wherever parameters
// are shown or stored with a run.
const MaskedValue = "********"
