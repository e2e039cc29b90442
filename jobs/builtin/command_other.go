//go:build !unix

package builtin

import (
	"fmt"
	"os"
	"os/exec"
)

// Without Unix process groups only the program itself can be stopped; what
// it started may outlive it.

func startInOwnGroup(*exec.Cmd) {}

func terminateGroup(p *os.Process) { _ = p.Kill() }

func killGroup(p *os.Process) { _ = p.Kill() }

// groupAlive is only asked once the program has exited, and nothing else of
// its group can be seen.
func groupAlive(*os.Process) bool { return false }

func describeExit(err *exec.ExitError) string {
	return fmt.Sprintf("command exited with status %d", err.ExitCode())
}

// openNoFollow opens the file at path for reading; read checks beforehand
// that it is a regular file.
func openNoFollow(path string) (*os.File, error) { return os.Open(path) }
