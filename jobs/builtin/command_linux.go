//go:build linux

package builtin

import (
	"bytes"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// startProgram starts cmd tied to the agent: the kernel sends the program
// SIGKILL when the agent dies, even by SIGKILL, so it never runs on
// unsupervised while its run is recorded interrupted. Only the program gets
// that signal, not what it started in its group; the next agent stops those
// (see jobs.ProcessStarted).
//
// Linux sends the signal when the thread that forked the program exits, not
// the process, and Go ends a thread whenever a goroutine locked to it exits
// (golang/go#27505): a program started from an arbitrary goroutine could be
// killed long before the agent dies. So every program is started by one
// goroutine that holds its thread locked for the life of the agent.
func startProgram(cmd *exec.Cmd) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	return starter.start(cmd)
}

// starter starts every program; see startProgram.
var starter programStarter

// programStarter is a goroutine, locked to its thread, that starts programs.
type programStarter struct {
	once     sync.Once
	requests chan startRequest
}

type startRequest struct {
	cmd *exec.Cmd
	err chan error
}

func (s *programStarter) start(cmd *exec.Cmd) error {
	s.once.Do(func() {
		s.requests = make(chan startRequest)
		go s.serve()
	})
	req := startRequest{cmd: cmd, err: make(chan error, 1)}
	s.requests <- req
	return <-req.err
}

func (s *programStarter) serve() {
	// Never unlocked, and the goroutine never returns: the thread lives as
	// long as the agent, and no other goroutine runs on it.
	runtime.LockOSThread()
	for req := range s.requests {
		req.err <- req.cmd.Start()
	}
}

// processStartTime returns when process pid started, in clock ticks since
// boot (/proc/PID/stat, field 22). The caller must not have waited for pid
// yet, so that pid is still the process it started.
func processStartTime(pid int) (uint64, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// "pid (comm) state ppid pgrp ...": comm may hold anything, so count
	// the fields after its closing parenthesis; field 22 is the 20th.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 20 {
		return 0, false
	}
	t, err := strconv.ParseUint(f[19], 10, 64)
	return t, err == nil
}
