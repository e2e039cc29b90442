// Command hostileagent is the jobbridge agent with one job, "hostile", for
// the console's end-to-end tests: its log line, progress and error carry
// the text in $HOSTILE_TEXT (terminal escapes, in the tests), as any job's
// output may. It waits for the file named by its release parameter first,
// so a console can be watching when the text arrives on the event stream.
package main

import (
	"context"
	"errors"
	"os"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/cli"
	"github.com/jobbridge/jobbridge/jobs"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr,
		func(r *jobs.Registry, _ agent.Env) error { return r.Register(hostile{}) }))
}

type hostile struct{}

func (hostile) ID() string          { return "hostile" }
func (hostile) Description() string { return "Writes $HOSTILE_TEXT to its log, progress and error." }

func (hostile) Params() []jobs.Param {
	return []jobs.Param{
		{Name: "message", Description: "Any text; shown with the run."},
		{Name: "release", Required: true, Description: "A file whose creation lets the job go on."},
	}
}

func (hostile) Run(ctx context.Context, params jobs.Params) error {
	text := os.Getenv("HOSTILE_TEXT")
	for {
		if _, err := os.Stat(params.String("release")); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	jobs.Logger(ctx).Info("log" + text)
	jobs.Progress(ctx, 50, "progress"+text)
	return errors.New("error" + text)
}
