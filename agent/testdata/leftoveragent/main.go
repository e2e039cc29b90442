// Command leftoveragent is the agent with one more job, for tests that kill
// it: "spawner", a command job whose program leaves a long-lived child in
// its process group, as a shell script that starts something in the
// background does.
package main

import (
	"context"
	"os"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/cli"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr, registerJobs))
}

func registerJobs(r *jobs.Registry, env agent.Env) error {
	if err := builtin.Register(r, builtin.Options{DB: env.DB}); err != nil {
		return err
	}
	spawner, err := builtin.NewShellCommand("spawner", "Starts a long sleep in the background, then sleeps itself.",
		`sleep 300 & echo "grandchild=$!"; sleep 300`, nil)
	if err != nil {
		return err
	}
	return r.Register(spawner)
}
