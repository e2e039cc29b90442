//go:build unix

package burst

import (
	"os"
	"syscall"
)

// childProcAttr puts the agent in a process group of its own, so that a
// Ctrl-C at the terminal reaches the harness alone: the harness stops the
// agent itself, then drops its database.
func childProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

// terminate asks the agent to shut down as an operator would.
func terminate(p *os.Process) error { return p.Signal(syscall.SIGTERM) }
