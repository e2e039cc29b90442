//go:build !unix

package burst

import (
	"os"
	"syscall"
)

// childProcAttr leaves the agent in the harness's process group: there is
// no other on this system.
func childProcAttr() *syscall.SysProcAttr { return nil }

// terminate kills the agent: this system has no SIGTERM to send.
func terminate(p *os.Process) error { return p.Kill() }
