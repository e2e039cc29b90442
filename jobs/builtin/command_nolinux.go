//go:build !linux

package builtin

import "os/exec"

// startProgram starts cmd. Only Linux can tie a program's life to the
// agent's (see command_linux.go); elsewhere a program outlives an agent
// killed by SIGKILL.
func startProgram(cmd *exec.Cmd) error { return cmd.Start() }

// processStartTime is known on Linux only.
func processStartTime(int) (uint64, bool) { return 0, false }
