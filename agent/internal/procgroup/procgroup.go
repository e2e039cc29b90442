// Package procgroup stops the process groups that jobs of a dead agent left
// running on this machine.
//
// A command job runs its program in a process group of its own and stops
// the whole group before the run ends. An agent killed outright cannot: the
// kernel kills the program with it (the parent-death signal), but not what
// the program started. So the runner records each group with its run (see
// jobs.ProcessStarted and store.RunProcess), and the next agent to start on
// the machine stops the groups that are still there, before it marks their
// runs interrupted.
//
// A group id is a process id, and those are reused, so a group is stopped
// only if it is provably the one recorded:
//
//   - it started in this boot of the machine (the boot id), and
//   - its leader is still there and started when the recorded one did, or
//     its leader has gone (the usual case: the parent-death signal killed
//     it) and a process of the group carries the run's random tag in its
//     environment, and no process of the group is older than the recorded
//     leader.
//
// Linux frees a process id only when no process uses it as its id, group or
// session, so while any process of the recorded group remains, no new group
// can take its id; once the group has gone entirely, one that takes the id
// has another leader start time and none of the tag.
package procgroup

import (
	"context"
	"log/slog"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// StopLeft stops the groups in left that are still there and provably the
// ones recorded: SIGTERM to each group, then SIGKILL to what is left of it
// after grace. It logs what it did with each group on log, and returns once
// every group it stopped has gone, or has been sent SIGKILL.
func StopLeft(ctx context.Context, left []store.RunProcess, grace time.Duration, log *slog.Logger) {
	if len(left) == 0 {
		return
	}
	stopLeft(ctx, left, grace, log)
}
