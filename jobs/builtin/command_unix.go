//go:build unix

package builtin

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// startInOwnGroup makes the program lead a new process group, so that it
// and everything it starts can be signalled together.
func startInOwnGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// terminateGroup asks the program's group to exit. SIGCONT follows so that
// a stopped process gets to handle the SIGTERM.
func terminateGroup(p *os.Process) {
	_ = syscall.Kill(-p.Pid, syscall.SIGTERM)
	_ = syscall.Kill(-p.Pid, syscall.SIGCONT)
}

// killGroup ends the program's group at once.
func killGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }

// groupAlive reports whether any process is left running in the program's
// group.
func groupAlive(p *os.Process) bool {
	if err := syscall.Kill(-p.Pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	// The group exists, but perhaps only as zombies: orphans that have exited
	// and wait for init to reap them, which some container inits do slowly or
	// never (an agent that is itself PID 1 never does). Waiting on those would
	// hold up every cancellation for the whole grace, so where /proc shows the
	// group, trust it.
	if alive, known := groupRunningInProc(p.Pid); known {
		return alive
	}
	return true
}

// groupRunningInProc looks in /proc (Linux) for a process of group pgid that
// is not a zombie. known is false when /proc shows none of the group at all,
// not even a zombie: then it cannot see the group (no /proc, or one that
// hides other users' processes) and kill's answer stands.
func groupRunningInProc(pgid int) (running, known bool) {
	if runtime.GOOS != "linux" {
		return false, false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return false, false
	}
	want := strconv.Itoa(pgid)
	for _, e := range entries {
		if c := e.Name()[0]; c < '0' || c > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // it has just gone
		}
		// "pid (comm) state ppid pgrp ...", where comm may hold anything.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 3 || f[2] != want {
			continue
		}
		if f[0] != "Z" && f[0] != "X" {
			return true, true
		}
		known = true
	}
	return false, known
}

func describeExit(err *exec.ExitError) string {
	if ws, ok := err.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Sprintf("command killed by signal %d (%s)", int(ws.Signal()), ws.Signal())
	}
	return fmt.Sprintf("command exited with status %d", err.ExitCode())
}

// openNoFollow opens the file at path for reading unless it is a symbolic
// link, and without blocking should it be a named pipe.
func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
}
