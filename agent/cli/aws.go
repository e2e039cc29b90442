package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/eventbridge"
	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
)

// ebFlags are the settings an `agent aws` command reads besides the
// database ones. --scheduler says which backend: scheduler for the
// scheduler backend, anything else for the eventbridge (rules) one.
var ebFlags = []string{
	"scheduler",
	"eb-api-key", "eb-target-role-arn", "eb-scheduler-role-arn", "eb-connection-name", "eb-destination-name",
	"eb-auth-header", "eb-target-url", "eb-rule-prefix", "eb-event-bus", "eb-dlq-arn",
	"eb-invocation-rate",
}

// awsMode is the backend an `agent aws` command is about.
func awsMode(cfg agent.Config) eventbridge.Mode {
	if cfg.Scheduler == agent.SchedulerScheduler {
		return eventbridge.ModeScheduler
	}
	return eventbridge.ModeRules
}

func newAWSCmd(getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "aws",
		Short: "set up and check EventBridge (rules or Scheduler): IAM policies, a doctor, pruning orphans",
		RunE:  groupCommand,
	}
	cmd.AddCommand(newAWSPolicyCmd(getenv), newAWSDoctorCmd(getenv), newAWSPruneCmd(getenv))
	return cmd
}

func newAWSPolicyCmd(getenv func(string) string) *cobra.Command {
	var cfg agent.Config
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "print the IAM policies: the target role's trust and permission, and the agent's own",
		Long: `Prints the IAM documents the EventBridge setup needs, for the settings given:

  1. the trust policy of the target role (JOBBRIDGE_EB_TARGET_ROLE_ARN): EventBridge may assume it;
  2. the target role's permission: invoke the agent's API destination;
  3. a least-privilege policy for the identity the agent runs as;
  4. with JOBBRIDGE_EB_DLQ_ARN, the dead-letter queue's access policy;

and with JOBBRIDGE_SCHEDULER=scheduler (or --scheduler scheduler), for the
scheduler backend, the agent's policy also covers its schedules, schedule
group, relay rule and bus, and:

  5. the trust policy of the scheduler role (JOBBRIDGE_EB_SCHEDULER_ROLE_ARN): Scheduler may assume it, for this account only;
  6. the scheduler role's permission: put events on the bus (and send to the dead-letter queue).

The account comes from the target role's ARN and the region from AWS_REGION
(or the AWS profile); what is not known is a wildcard.`,
		Args: noArgs,
	}
	resolve := bindSettings(cmd, getenv, &cfg, ebFlags...)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object")
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if err := resolve(); err != nil {
			return err
		}
		region := ""
		if awsCfg, err := agent.LoadAWSConfig(c.Context()); err == nil {
			region = awsCfg.Region
		}
		mode := awsMode(cfg)
		p := eventbridge.BuildPoliciesFor(mode, cfg.EventBridge, region)
		out := c.OutOrStdout()
		if asJSON {
			enc := json.NewEncoder(out)
			enc.SetIndent("", "  ")
			return enc.Encode(p)
		}
		printDoc := func(title string, doc any) {
			fmt.Fprintf(out, "# %s\n", title)
			b, _ := json.MarshalIndent(doc, "", "  ")
			fmt.Fprintf(out, "%s\n\n", b)
		}
		printDoc("1. Target role: trust policy (who may assume it)", p.TargetRoleTrust)
		printDoc("2. Target role: permission policy (what EventBridge may do with it)", p.TargetRolePermissions)
		printDoc("3. The agent's identity: least-privilege policy", p.Agent)
		if p.DLQ != nil {
			printDoc("4. Dead-letter queue: access policy", *p.DLQ)
		}
		if p.SchedulerRoleTrust != nil {
			printDoc("5. Scheduler role: trust policy (who may assume it)", *p.SchedulerRoleTrust)
			printDoc("6. Scheduler role: permission policy (what EventBridge Scheduler may do with it)", *p.SchedulerRolePermissions)
		}
		if cfg.EventBridge.TargetRoleARN == "" || cfg.EventBridge.ConnectionName == "" || cfg.EventBridge.DestinationName == "" ||
			(mode == eventbridge.ModeScheduler && cfg.EventBridge.SchedulerRoleARN == "") {
			fmt.Fprintln(c.ErrOrStderr(), "note: set JOBBRIDGE_EB_TARGET_ROLE_ARN, JOBBRIDGE_EB_CONNECTION_NAME and JOBBRIDGE_EB_DESTINATION_NAME (and for the scheduler backend JOBBRIDGE_EB_SCHEDULER_ROLE_ARN) for exact resources; placeholders are printed in capitals")
		}
		return nil
	}
	return cmd
}

func newAWSDoctorCmd(getenv func(string) string) *cobra.Command {
	var cfg agent.Config
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "doctor",
		Short: "check the EventBridge (or, in scheduler mode, Scheduler) setup and say what to fix; exits 1 if something fails",
		Args:  noArgs,
	}
	resolve := bindSettings(cmd, getenv, &cfg, ebFlags...)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the checks as a JSON array")
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if err := resolve(); err != nil {
			return err
		}
		awsCfg, err := agent.LoadAWSConfig(c.Context())
		if err != nil {
			return err
		}
		checks := eventbridge.Doctor(c.Context(), eventbridge.DoctorConfig{Settings: cfg.EventBridge, Mode: awsMode(cfg), AWS: awsCfg})
		failed := printChecks(c.OutOrStdout(), checks, asJSON)
		if failed > 0 {
			return &ExitError{Code: 1, Err: fmt.Errorf("%d of %d checks failed", failed, len(checks))}
		}
		return nil
	}
	return cmd
}

// printChecks prints the doctor's checks and returns how many failed.
func printChecks(out io.Writer, checks []eventbridge.Check, asJSON bool) int {
	failed := 0
	for _, ch := range checks {
		if ch.Status == eventbridge.CheckFail {
			failed++
		}
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		enc.Encode(checks)
		return failed
	}
	for _, ch := range checks {
		fmt.Fprintf(out, "%-4s %s: %s\n", strings.ToUpper(string(ch.Status)), ch.Name, ch.Detail)
		if ch.Status == eventbridge.CheckFail && ch.Fix != "" {
			fmt.Fprintf(out, "     fix: %s\n", ch.Fix)
		}
	}
	return failed
}

func newAWSPruneCmd(getenv func(string) string) *cobra.Command {
	var cfg agent.Config
	var yes bool
	cmd := &cobra.Command{
		Use:   "prune [--yes]",
		Short: "list (or, with --yes, delete) what this agent made in AWS and no stored rule uses",
		Long: `Lists the orphans, for the backend JOBBRIDGE_SCHEDULER names:

  eventbridge (and the others): EventBridge rules under JOBBRIDGE_EB_RULE_PREFIX,
    tagged as managed by this agent (same prefix and API destination), that no
    stored rule has, for example after the agent was switched back to the local
    scheduler and rules were deleted meanwhile; and the schedules the scheduler
    backend left in the agent's schedule group, with its relay rule.
  scheduler: the schedules in the agent's schedule group (GROUP/NAME) that no
    stored rule has, and the EventBridge rules under the prefix the eventbridge
    backend left (they would fire every rule a second time).

With --yes it deletes them (an EventBridge rule's targets, then the rule; a
schedule). Rules outside the prefix or without the agent's tags, and groups
that are not the agent's, are never touched. It reads the agent's database,
so on SQLite stop the agent first.`,
		Args: noArgs,
	}
	resolve := bindSettings(cmd, getenv, &cfg, append([]string{"data-dir", "database-url"}, ebFlags...)...)
	cmd.Flags().BoolVar(&yes, "yes", false, "delete the orphans instead of listing them")
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if err := resolve(); err != nil {
			return err
		}
		return awsPrune(c.Context(), c.OutOrStdout(), c.ErrOrStderr(), cfg, yes)
	}
	return cmd
}

func awsPrune(ctx context.Context, out, errOut io.Writer, cfg agent.Config, yes bool) error {
	log := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	b, closeStore, err := agent.OpenEventBridge(ctx, cfg, log)
	var inUse *sqlite.InUseError
	if errors.As(err, &inUse) {
		return fmt.Errorf("%w\nprune compares AWS with the database: stop the agent and run it again", err)
	}
	if err != nil {
		return err
	}
	defer closeStore()
	if !yes {
		orphans, err := b.Orphans(ctx)
		if err != nil {
			return err
		}
		if len(orphans) == 0 {
			fmt.Fprintf(out, "no orphans under prefix %q\n", b.Settings().RulePrefix)
			return nil
		}
		for _, name := range orphans {
			fmt.Fprintln(out, name)
		}
		fmt.Fprintf(errOut, "%d orphan(s); run again with --yes to delete them\n", len(orphans))
		return nil
	}
	deleted, err := b.Prune(ctx)
	for _, name := range deleted {
		fmt.Fprintf(out, "deleted %s\n", name)
	}
	if err != nil {
		return err
	}
	if len(deleted) == 0 {
		fmt.Fprintf(out, "no orphans under prefix %q\n", b.Settings().RulePrefix)
	}
	return nil
}
