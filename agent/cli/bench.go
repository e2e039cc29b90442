package cli

import (
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobbridge/jobbridge/agent/internal/burst"
)

func newBenchCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "measure this agent under load: the midnight burst",
		RunE:  groupCommand,
	}
	cmd.AddCommand(newBenchBurstCmd())
	return cmd
}

// burstFlags are the flags of `bench burst` as given.
type burstFlags struct {
	mode, jobParams, duplicates, postgres string
	rules, rate                           int
	timeout                               time.Duration
	asJSON, keep                          bool
}

func newBenchBurstCmd() *cobra.Command {
	var f burstFlags
	cmd := &cobra.Command{
		Use:   "burst",
		Short: "many rules firing at the same minute, measured against this agent in a process of its own",
		Long: `The midnight burst: --rules rules (default 10,000) whose schedule fires at the
same minute, measured against this agent's own executable started as a child
process, serving on a free 127.0.0.1 port with a temporary data dir, as users
deploy it. The load and the measuring stay in this process. The store is SQLite
in the temporary directory, or, with --postgres, a scratch database
(jobbridge_burst_<hex>) created on that server and dropped afterwards, also on
failure and Ctrl-C. The agent sees only the JOBBRIDGE_* settings the harness
sets: yours, and AWS_*, are not passed on.

The rules are created through the admin API (POST /api/v1/rules), job demo
with --job-params.

--mode local: the agent's own scheduler (JOBBRIDGE_SCHEDULER=local) fires
every rule at one minute, cron(M H * * ? *), chosen so that creating the rules
ends before it (it measures how fast rules are created first, and fails saying
so if creating them ends too late). Reported: runs started, their start after
the minute (p50, p99, the last: the target is all started within 30 s), runs
finished by status, rules with no run (lost) or with two (twice), and when the
last run finished.

--mode eventbridge: the harness stands in for EventBridge calling the API
destination; the agent's scheduler is off (JOBBRIDGE_SCHEDULER=off), and POST
/webhook/run is the very path EventBridge's deliveries take. One delivery per
rule, open loop at --rate per second (EventBridge's default for an API
destination is 300) without waiting for answers (at most 1,000 in flight); a
share of the rules (--duplicates) delivered twice with the same event id, as
EventBridge's at-least-once delivery does: the agent must answer those as
duplicates and run them once. Attempts not answered 2xx within 5 s are
retried as EventBridge does (timeouts, errors, 401, 407, 409, 429, 5xx).
Reported: deliveries, answers by code, answer latency (p50, p99, max: the
targets are every delivery answered within 5 s, p99 under 50 ms), runs
finished by status, lost, twice, and when the last run finished.

Exit status: 0 when it measured, whatever the figures (the targets are
reported as met or missed); 1 when it could not measure; 2 on a bad flag.`,
		Example: `  agent bench burst                                  # local mode, SQLite, 10,000 rules
  agent bench burst --mode eventbridge --json
  agent bench burst --mode eventbridge --postgres 'postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable'`,
		Args: noArgs,
	}
	fl := cmd.Flags()
	fl.StringVar(&f.mode, "mode", string(burst.ModeLocal), "local (the agent's scheduler fires the rules) or eventbridge (the harness delivers to the webhook)")
	fl.IntVar(&f.rules, "rules", burst.DefaultRules, fmt.Sprintf("how many rules fire at the same minute (1-%d)", burst.MaxRules))
	fl.StringVar(&f.jobParams, "job-params", burst.DefaultJobParams, "the rules' parameters of the demo job, a JSON object of strings")
	fl.IntVar(&f.rate, "rate", burst.DefaultRate, fmt.Sprintf("eventbridge mode: deliveries per second (1-%d)", burst.MaxRate))
	fl.StringVar(&f.duplicates, "duplicates", "1%", fmt.Sprintf("eventbridge mode: share of the rules delivered twice with the same event id, 0.01 or 1%% (at most %g%%)", burst.MaxDuplicates*100))
	fl.StringVar(&f.postgres, "postgres", "", "postgres:// URL of a server on which to create (and drop) a scratch database; default: SQLite")
	fl.DurationVar(&f.timeout, "timeout", burst.DefaultTimeout, "how long to wait for every run to finish after the burst")
	fl.BoolVar(&f.asJSON, "json", false, "print the report as one JSON object")
	fl.BoolVar(&f.keep, "keep", false, "keep the temporary directory: the agent's data dir and log")
	fl.SortFlags = false

	cmd.RunE = func(c *cobra.Command, _ []string) error {
		cfg, err := f.config(c)
		if err != nil {
			return err
		}
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find this agent's executable: %w", err)
		}
		cfg.Agent = exe
		cfg.Progress = c.ErrOrStderr()
		ctx, stop := signal.NotifyContext(c.Context(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		rep, err := burst.Run(ctx, cfg)
		if err != nil {
			return err
		}
		if f.asJSON {
			enc := json.NewEncoder(c.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(rep)
		}
		return rep.WriteText(c.OutOrStdout())
	}
	return cmd
}

// config checks the flags and turns them into the harness's Config; a bad
// flag is a usage error naming it.
func (f burstFlags) config(c *cobra.Command) (burst.Config, error) {
	cfg := burst.Config{
		Mode: burst.Mode(f.mode), Rules: f.rules, Rate: f.rate, Timeout: f.timeout,
		PostgresURL: f.postgres, Keep: f.keep,
	}
	switch cfg.Mode {
	case burst.ModeLocal:
		for _, name := range []string{"rate", "duplicates"} {
			if c.Flags().Changed(name) {
				return cfg, usageErrorf("--%s applies to --mode eventbridge only", name)
			}
		}
	case burst.ModeEventBridge:
	default:
		return cfg, usageErrorf("--mode must be local or eventbridge, not %q", f.mode)
	}
	if f.rules < 1 || f.rules > burst.MaxRules {
		return cfg, usageErrorf("--rules must be 1-%d, not %d", burst.MaxRules, f.rules)
	}
	if f.rate < 1 || f.rate > burst.MaxRate {
		return cfg, usageErrorf("--rate must be 1-%d deliveries per second, not %d", burst.MaxRate, f.rate)
	}
	dup, err := parseShare(f.duplicates)
	if err != nil || dup > burst.MaxDuplicates {
		return cfg, usageErrorf("--duplicates must be a share from 0 to %g (or 0%% to %g%%), such as 0.01 or 1%%, not %q",
			burst.MaxDuplicates, burst.MaxDuplicates*100, f.duplicates)
	}
	cfg.Duplicates = dup
	if f.timeout <= 0 {
		return cfg, usageErrorf("--timeout must be a positive duration such as 10m, not %s", f.timeout)
	}
	if err := json.Unmarshal([]byte(f.jobParams), &cfg.JobParams); err != nil || cfg.JobParams == nil {
		return cfg, usageErrorf(`--job-params must be a JSON object of string values such as %s, not %q`, burst.DefaultJobParams, f.jobParams)
	}
	if f.postgres != "" {
		u, err := url.Parse(f.postgres)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
			// Not quoted back: it may hold a password.
			return cfg, usageErrorf("--postgres must be a postgres://user@host:port/database URL of a server where the role may create databases")
		}
	}
	return cfg, nil
}

// parseShare reads "0.01" or "1%" as 0.01; negative shares are errors.
func parseShare(s string) (float64, error) {
	div := 1.0
	if t, ok := strings.CutSuffix(strings.TrimSpace(s), "%"); ok {
		s, div = t, 100
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, err
	}
	if v < 0 || math.IsNaN(v) {
		return 0, fmt.Errorf("%q is negative or not a number", s)
	}
	return v / div, nil
}
