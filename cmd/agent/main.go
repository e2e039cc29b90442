// Command agent is the jobbridge daemon: it hosts the EventBridge webhook,
// runs jobs and remembers every run. With no subcommand it serves; see
// `agent --help`.
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

// registerJobs offers the built-in jobs. A program with its own jobs writes
// its own version of this function (see the README).
func registerJobs(r *jobs.Registry, env agent.Env) error {
	return builtin.Register(r, builtin.Options{DB: env.DB, Egress: env.Egress, PassEnv: env.CommandEnv})
}
