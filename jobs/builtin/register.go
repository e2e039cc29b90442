package builtin

import (
	"fmt"

	"github.com/jobbridge/jobbridge/jobs"
)

// echoScript prints the message parameter. The script is fixed and the
// parameter arrives quoted from the environment, so no message can run
// anything.
const echoScript = `printf '%s\n' "$JOBBRIDGE_PARAM_MESSAGE"`

// newEcho returns the echo job: an example command job that prints its
// message parameter, showing how parameters reach a program.
func newEcho() (*Command, error) {
	return NewShellCommand("echo", "Prints its message: an example of a command job and its parameters.", echoScript, []jobs.Param{
		{Name: "message", Default: "hello from jobbridge", Description: "What to print."},
	})
}

// Register adds the built-in jobs to r: demo, echo, http (with a default
// client) and, when db is not nil, orders.increment on db. Command jobs
// other than echo each need their program, so main registers those itself.
func Register(r *jobs.Registry, db Execer) error {
	echo, err := newEcho()
	if err != nil {
		return fmt.Errorf("register built-in jobs: %w", err)
	}
	builtins := []jobs.Job{NewDemo(), echo, NewHTTP(nil)}
	if db != nil {
		builtins = append(builtins, NewSQL(db))
	}
	if err := r.Register(builtins...); err != nil {
		return fmt.Errorf("register built-in jobs: %w", err)
	}
	return nil
}
