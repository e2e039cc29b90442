//go:build linux

package procgroup

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// BootID returns the id of this boot of the machine, "" if unknown.
func BootID() string { return bootID() }

var bootID = sync.OnceValue(func() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
})

// process is one process of a group, as /proc shows it.
type process struct {
	pid    int
	start  uint64 // clock ticks since boot
	zombie bool   // exited, not yet reaped: it can neither run nor be signalled
}

// members reads /proc once and returns the processes of each wanted group.
func members(want map[int]bool) map[int][]process {
	out := make(map[int][]process)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // it has just gone
		}
		// "pid (comm) state ppid pgrp ...", where comm may hold anything:
		// count the fields after its closing parenthesis.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 20 {
			continue
		}
		pgid, err1 := strconv.Atoi(f[2])
		start, err2 := strconv.ParseUint(f[19], 10, 64)
		if err1 != nil || err2 != nil || !want[pgid] {
			continue
		}
		out[pgid] = append(out[pgid], process{pid: pid, start: start, zombie: f[0] == "Z" || f[0] == "X"})
	}
	return out
}

// state is what became of a recorded group.
type state int

const (
	gone  state = iota // no process of the group runs
	ours               // the recorded group, still running
	other              // its id belongs to processes that are not provably the recorded ones
)

// check decides whether procs, the processes of group p.PGID now, are the
// group p recorded; see the package comment. why says why not.
func check(p store.RunProcess, procs []process) (st state, why string) {
	live := 0
	for _, m := range procs {
		if !m.zombie {
			live++
		}
	}
	if live == 0 {
		return gone, ""
	}
	for _, m := range procs {
		if m.pid == p.PGID { // the leader, a zombie perhaps
			if p.StartTime != 0 && m.start == p.StartTime {
				return ours, ""
			}
			return other, "its leader is another process than the one recorded (it started at another time)"
		}
	}
	if p.StartTime == 0 || p.Tag == "" {
		return other, "its leader has gone, and the run recorded no start time or tag to know the rest of it by"
	}
	tagged := false
	for _, m := range procs {
		if m.zombie {
			continue
		}
		if m.start < p.StartTime {
			return other, "a process of it is older than the recorded leader"
		}
		tagged = tagged || hasTag(m.pid, p.Tag)
	}
	if !tagged {
		return other, "its leader has gone and no process of it carries the run's tag"
	}
	return ours, ""
}

// hasTag reports whether process pid's environment holds the entry tag.
func hasTag(pid int, tag string) bool {
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return false // gone, or not ours to read: not proven
	}
	return bytes.Contains(append([]byte{0}, env...), []byte("\x00"+tag+"\x00"))
}

// stillThere reports whether the group a stop began with still runs. No
// other group can take its id while any process of it remains, so only a
// group that vanished and whose id was handed out again between two looks
// (a whole cycle of process ids) could fool it, and even that one must
// have no process older than the recorded leader.
func stillThere(p store.RunProcess, procs []process) bool {
	live := false
	for _, m := range procs {
		if m.pid == p.PGID && p.StartTime != 0 && m.start != p.StartTime {
			return false
		}
		if !m.zombie {
			if m.start < p.StartTime {
				return false
			}
			live = true
		}
	}
	return live
}

// pollInterval is how often stopLeft looks whether the groups it sent
// SIGTERM have gone.
const pollInterval = 50 * time.Millisecond

func stopLeft(ctx context.Context, left []store.RunProcess, grace time.Duration, log *slog.Logger) {
	boot := BootID()
	want := make(map[int]bool, len(left))
	for _, p := range left {
		want[p.PGID] = true
	}
	now := members(want)
	var stopping []store.RunProcess
	for _, p := range left {
		attrs := []any{"run", p.RunID, "pgid", p.PGID}
		if boot == "" || p.BootID != boot {
			log.Debug("process group of a run started before the machine last booted: nothing of it is left", attrs...)
			continue
		}
		switch st, why := check(p, now[p.PGID]); st {
		case gone:
			log.Debug("process group of a run has gone", attrs...)
		case other:
			log.Info("process group id of a run left by a stopped agent now belongs to other processes; leaving them alone", append(attrs, "why", why)...)
		case ours:
			log.Warn("process group left running by a stopped agent: sending SIGTERM", append(attrs, "processes", len(now[p.PGID]))...)
			if err := signal(p.PGID, syscall.SIGTERM); err != nil {
				log.Error("stop a process group left running by a stopped agent", append(attrs, "err", err)...)
				continue
			}
			_ = signal(p.PGID, syscall.SIGCONT) // so that a stopped process gets the SIGTERM
			stopping = append(stopping, p)
		}
	}

	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	poll := time.NewTicker(pollInterval)
	defer poll.Stop()
	for len(stopping) > 0 {
		want = make(map[int]bool, len(stopping))
		for _, p := range stopping {
			want[p.PGID] = true
		}
		now = members(want)
		remaining := stopping[:0]
		for _, p := range stopping {
			if stillThere(p, now[p.PGID]) {
				remaining = append(remaining, p)
				continue
			}
			log.Warn("stopped the process group left running by a stopped agent", "run", p.RunID, "pgid", p.PGID, "signal", "SIGTERM")
		}
		stopping = remaining
		if len(stopping) == 0 {
			return
		}
		select {
		case <-poll.C:
			continue
		case <-deadline.C:
		case <-ctx.Done():
		}
		for _, p := range stopping {
			attrs := []any{"run", p.RunID, "pgid", p.PGID}
			if err := signal(p.PGID, syscall.SIGKILL); err != nil {
				log.Error("kill a process group left running by a stopped agent", append(attrs, "err", err)...)
				continue
			}
			log.Warn("stopped the process group left running by a stopped agent", append(attrs, "signal", "SIGKILL", "after", grace.String())...)
		}
		return
	}
}

// signal sends sig to every process of group pgid; a group that has gone
// meanwhile is not an error.
func signal(pgid int, sig syscall.Signal) error {
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
