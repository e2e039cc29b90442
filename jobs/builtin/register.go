package builtin

import (
	"fmt"

	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/egress"
)

// echoScript prints the message parameter. The script is fixed and the
// parameter arrives quoted from the environment, so no message can run
// anything.
const echoScript = `printf '%s\n' "$JOBBRIDGE_PARAM_MESSAGE"`

// newEcho returns the echo job: an example command job that prints its
// message parameter, showing how parameters reach a program.
func newEcho(opts ...CommandOption) (*Command, error) {
	return NewShellCommand("echo", "Prints its message: an example of a command job and its parameters.", echoScript, []jobs.Param{
		{Name: "message", Default: "hello from jobbridge", Description: "What to print."},
	}, opts...)
}

// Options are what the built-in jobs need from the agent.
type Options struct {
	// DB is the agent's database: orders.increment is registered on it when
	// not nil. Default nil, no orders.increment.
	DB Execer
	// Egress is the http job's policy: where it may connect. Default nil,
	// public addresses only.
	Egress *egress.Policy
	// PassEnv names the agent's variables that command jobs (echo) see
	// beside PATH, HOME, LANG and TZ; see WithPassEnv. Default none.
	PassEnv []string
}

// Register adds the built-in jobs to r: demo, echo, http and, when opts.DB
// is not nil, orders.increment. Command jobs other than echo each need
// their program, so main registers those itself.
func Register(r *jobs.Registry, opts Options) error {
	echo, err := newEcho(WithPassEnv(opts.PassEnv...))
	if err != nil {
		return fmt.Errorf("register built-in jobs: %w", err)
	}
	builtins := []jobs.Job{NewDemo(), echo, NewHTTP(opts.Egress)}
	if opts.DB != nil {
		builtins = append(builtins, NewSQL(opts.DB))
	}
	if err := r.Register(builtins...); err != nil {
		return fmt.Errorf("register built-in jobs: %w", err)
	}
	return nil
}
