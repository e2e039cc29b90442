// Package cli is the agent's command line: `serve` (the default), `cron`,
// `token`, `maintenance`, `rules`, `aws` and `bench`, as
// docs/architecture.md ("Agent command line") sets them out. cmd/agent is a thin main over it, and so is a developer's own
// agent with its own jobs (examples/custom-agent).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/jobbridge/jobbridge/agent"
)

// Main runs the agent's command line with args (without the program name)
// and returns the exit status. register adds the jobs the agent offers.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, register agent.RegisterFunc) int {
	return run(ctx, args, stdout, stderr, os.Getenv, register)
}

// run is Main with the environment given, for tests.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, register agent.RegisterFunc) int {
	root := newRootCmd(getenv, register)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		fmt.Fprintln(stderr, ee.Err)
		return ee.Code
	}
	fmt.Fprintln(stderr, "error:", err)
	return 1
}

func newRootCmd(getenv func(string) string, register agent.RegisterFunc) *cobra.Command {
	serve := newServeCmd(getenv, register)
	root := &cobra.Command{
		Use:           "agent",
		Short:         "jobbridge agent: runs recurring jobs off AWS EventBridge (or its own scheduler)",
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		// With no subcommand the agent serves.
		RunE: serve.RunE,
	}
	root.Flags().AddFlagSet(serve.Flags())
	root.AddCommand(serve, newCronCmd(), newTokenCmd(getenv), newMaintenanceCmd(getenv), newRulesCmd(getenv), newAWSCmd(getenv), newBenchCmd())
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &ExitError{Code: 2, Err: fmt.Errorf("%w\nsee '%s --help'", err, c.CommandPath())}
	})
	return root
}

// noArgs refuses arguments as a usage error (exit 2).
// groupCommand is the RunE of a command that only groups others (cron,
// token, aws, bench): without one, cobra prints help for an unknown
// subcommand and exits 0.
func groupCommand(c *cobra.Command, args []string) error {
	if err := noArgs(c, args); err != nil {
		return err
	}
	return c.Help()
}

func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unknown command %q for %q\nsee '%s --help'", args[0], c.CommandPath(), c.CommandPath())
	}
	return nil
}
