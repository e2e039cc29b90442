package agent

import (
	"context"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/procgroup"
)

// leftoverGrace is how long a process group a dead agent left running has
// between SIGTERM and SIGKILL when the next agent starts.
const leftoverGrace = 5 * time.Second

// stopLeftProcesses stops the process groups that command jobs of runs of
// node (of every node when node is empty) left running when their agent
// died, then forgets them. A group can only be stopped from the machine it
// runs on, which is why, on PostgreSQL, node is this agent's own; groups
// recorded on another machine (another boot id) are left alone.
func (a *Agent) stopLeftProcesses(ctx context.Context, node string) {
	left, err := a.store.RunProcessList(ctx, node)
	if err != nil {
		a.log.Warn("list the process groups left by a stopped agent; any still running are not stopped", "err", err)
		return
	}
	if len(left) == 0 {
		return
	}
	procgroup.StopLeft(ctx, left, leftoverGrace, a.log)
	ids := make([]string, len(left))
	for i, p := range left {
		ids[i] = p.RunID
	}
	if err := a.store.RunProcessForget(ctx, ids); err != nil {
		a.log.Warn("forget the process groups left by a stopped agent", "err", err)
	}
}
