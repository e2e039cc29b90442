// Command custom-agent is a jobbridge agent that offers a job of its own
// (files.usage, in usage.go) beside the built-in ones: the shape of every
// program that adds its own work to jobbridge. It takes the command line and
// settings of cmd/agent (`custom-agent --help`).
//
//	USAGE_ROOT=/var/www go run ./examples/custom-agent
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/cli"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
)

func main() {
	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr, register))
}

// register offers the built-in jobs and this program's own. A job gets
// what it needs through its constructor, here the directory tree it reads.
func register(r *jobs.Registry, env agent.Env) error {
	err := builtin.Register(r, builtin.Options{DB: env.DB, Egress: env.Egress, PassEnv: env.CommandEnv})
	if err != nil {
		return fmt.Errorf("register the built-in jobs: %w", err)
	}
	root := os.Getenv("USAGE_ROOT")
	if root == "" {
		root = "."
	}
	return r.Register(NewUsage(os.DirFS(root)))
}
