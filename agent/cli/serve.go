package cli

import (
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/jobbridge/jobbridge/agent"
)

// bindSettings registers the flags of the settings named (all when none
// are; see agent.Settings) on cmd and returns a function that resolves
// them, after parsing, into cfg: a flag given wins over its environment
// variable, which wins over the default (filled in later by Validate).
func bindSettings(cmd *cobra.Command, getenv func(string) string, cfg *agent.Config, only ...string) func() error {
	var set []agent.Setting
	for _, s := range agent.Settings() {
		if len(only) == 0 || slices.Contains(only, s.Flag) {
			set = append(set, s)
		}
	}
	flags := make([]*string, len(set))
	for i, s := range set {
		flags[i] = cmd.Flags().String(s.Flag, "", usage(s))
	}
	cmd.Flags().SortFlags = false
	return func() error {
		fs := cmd.Flags()
		for i, s := range set {
			v := getenv(s.Env)
			if fs.Changed(s.Flag) {
				v = *flags[i]
			}
			if v == "" {
				continue
			}
			if err := s.Set(cfg, v); err != nil {
				return usageErrorf("--%s (%s): %v", s.Flag, s.Env, err)
			}
		}
		return nil
	}
}

// usage is a setting's line in --help. Flags are registered with no
// default of their own (so that the environment can be told from a flag
// given), so the usage says the default.
func usage(s agent.Setting) string {
	u := s.Description
	if s.Default != "" {
		u += " (default " + s.Default + ")"
	}
	return u + " [$" + s.Env + "]"
}

func newServeCmd(getenv func(string) string, register agent.RegisterFunc) *cobra.Command {
	var cfg agent.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "run the agent (the default)",
		Args:  noArgs,
	}
	resolve := bindSettings(cmd, getenv, &cfg)
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if err := resolve(); err != nil {
			return err
		}
		return serve(c, cfg, register)
	}
	return cmd
}

func serve(c *cobra.Command, cfg agent.Config, register agent.RegisterFunc) error {
	log := slog.New(slog.NewTextHandler(c.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := agent.New(ctx, cfg, log, register)
	if err != nil {
		return err
	}
	return a.Run(ctx)
}
