// Package api holds the types of jobbridge's JSON API: what the agent answers
// and what its clients (the console, scripts) read. It imports no database and
// no terminal library, so every side of the wire can depend on it.
package api

import "fmt"

// RunStatus is the state of a run. A run starts Running and ends in one of the
// terminal states; Cancelling sits between while a job has been asked to stop
// and has not returned yet.
type RunStatus string

// The run states (docs/architecture.md, "Run states").
const (
	StatusRunning     RunStatus = "running"
	StatusCancelling  RunStatus = "cancelling"
	StatusSucceeded   RunStatus = "succeeded"
	StatusFailed      RunStatus = "failed"
	StatusCancelled   RunStatus = "cancelled"
	StatusInterrupted RunStatus = "interrupted"
	StatusSkipped     RunStatus = "skipped"
)

// RunStatuses lists every run state, active ones first.
var RunStatuses = []RunStatus{
	StatusRunning, StatusCancelling, StatusSucceeded, StatusFailed,
	StatusCancelled, StatusInterrupted, StatusSkipped,
}

// Active reports whether a run in this state may still change: its job has
// not returned yet.
func (s RunStatus) Active() bool { return s == StatusRunning || s == StatusCancelling }

// Terminal reports whether a run in this state is finished for good.
func (s RunStatus) Terminal() bool { return s.Valid() && !s.Active() }

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
)

// Overlap is a rule's policy for a fire that arrives while an earlier run of
// the same rule is still active.
type Overlap string

// The overlap policies.
const (
	OverlapAllow Overlap = "allow" // start another run alongside
	OverlapSkip  Overlap = "skip"  // record a skipped run and start nothing
)

// Valid reports whether o is a known policy. The empty policy means allow.
func (o Overlap) Valid() bool { return o == "" || o == OverlapAllow || o == OverlapSkip }

// Progress is what a job last reported of how far it has got.
type Progress struct {
	Percent int    `json:"percent"`
	Message string `json:"message,omitempty"`
}

// MaskedValue replaces the value of a secret parameter wherever parameters
// are shown or stored with a run.
const MaskedValue = "********"
