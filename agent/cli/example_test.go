package cli_test

import (
	"context"
	"fmt"
	"os"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/cli"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
)

// A program with jobs of its own hands its command line to Main with a
// function that registers them (see examples/custom-agent):
//
//	os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr, register))
//
// With no subcommand it serves; every subcommand of cmd/agent comes with it,
// such as `cron next`, run here.
func ExampleMain() {
	register := func(r *jobs.Registry, env agent.Env) error {
		return builtin.Register(r, builtin.Options{DB: env.DB, Egress: env.Egress, PassEnv: env.CommandEnv})
	}
	code := cli.Main(context.Background(),
		[]string{"cron", "next", "cron(0 12 ? * MON-FRI *)", "--count", "3", "--from", "2026-11-27T00:00:00Z"},
		os.Stdout, os.Stderr, register)
	fmt.Println("exit status", code)
	// Output:
	// 2026-11-27T12:00:00Z
	// 2026-11-30T12:00:00Z
	// 2026-12-01T12:00:00Z
	// exit status 0
}
