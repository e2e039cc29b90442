package jobs

import "context"

// Process is a process group a job started and stops before it returns (the
// built-in command job's program, say).
type Process struct {
	// PGID is the group's id: its leader's process id.
	PGID int
	// StartTime is when the leader started, in clock ticks since boot
	// (Linux: /proc/PID/stat, field 22), read before the leader is waited
	// for, so it cannot be another process's; 0 when unknown.
	StartTime uint64
	// Tag is a NAME=value entry the job put in the leader's environment, so
	// that every process of the group inherits it; "" for none. It tells the
	// group apart once its leader has gone.
	Tag string
}

// ProcessReporter is a Reporter that also records the process groups a run
// starts. The agent's runner implements it: if the agent dies while a group
// runs, the next agent started on that machine stops the group.
type ProcessReporter interface {
	Reporter
	// ProcessStarted records p with the run. It returns once p is recorded
	// or could not be.
	ProcessStarted(p Process)
}

// ProcessStarted tells the run's reporter that the job started the process
// group p, which the job stops before it returns. Call it at once after the
// start. Outside a run, or where the reporter does not record processes,
// it does nothing.
func ProcessStarted(ctx context.Context, p Process) {
	if rep, ok := reporter(ctx).(ProcessReporter); ok {
		rep.ProcessStarted(p)
	}
}
