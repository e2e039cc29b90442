package builtin_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
)

// Register offers the built-in jobs; a program registers its own beside
// them in the same registry. With Options.DB set (the agent's Env.Store)
// it adds orders.increment too.
func ExampleRegister() {
	r := jobs.NewRegistry()
	if err := builtin.Register(r, builtin.Options{}); err != nil {
		fmt.Println(err)
		return
	}
	for _, j := range r.List() {
		fmt.Println(j.ID())
	}
	// Output:
	// demo
	// echo
	// http
}

// printReporter prints what a job logs, as the agent would store it with the
// run, but for the command job's own lines (its pid, how long it took), which
// differ from run to run.
type printReporter struct{}

func (printReporter) Log(_ slog.Level, message string) {
	if !strings.HasPrefix(message, "command: ") {
		fmt.Println(message)
	}
}

func (printReporter) Progress(int, string) {}

// NewCommand makes a job of any program: the run's parameters reach it as
// JOBBRIDGE_PARAM_<NAME> in a clean environment, and its output becomes the
// run's log.
func ExampleNewCommand() {
	greet, err := builtin.NewCommand("greet", "Greets someone",
		[]string{"sh", "-c", `echo "hello, $JOBBRIDGE_PARAM_WHO"`},
		[]jobs.Param{{Name: "who", Default: "world", Description: "whom to greet"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	r := jobs.NewRegistry()
	if err := r.Register(greet); err != nil {
		fmt.Println(err)
		return
	}

	p, err := jobs.Resolve(greet, map[string]string{"who": "operators"})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := jobs.WithReporter(context.Background(), printReporter{})
	fmt.Println(greet.Run(ctx, p))
	// Output:
	// hello, operators
	// <nil>
}
