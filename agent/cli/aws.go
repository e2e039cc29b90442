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
// database ones.
var ebFlags = []string{
	"eb-api-key", "eb-target-role-arn", "eb-connection-name", "eb-destination-name",
	"eb-auth-header", "eb-target-url", "eb-rule-prefix", "eb-event-bus", "eb-dlq-arn",
	"eb-invocation-rate",
}

func newAWSCmd(getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "aws",
		Short: "set up and check EventBridge: IAM policies, a doctor, pruning orphaned rules",
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
  4. with JOBBRIDGE_EB_DLQ_ARN, the dead-letter queue's access policy.

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
		p := eventbridge.BuildPolicies(cfg.EventBridge, region)
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
		if cfg.EventBridge.TargetRoleARN == "" || cfg.EventBridge.ConnectionName == "" || cfg.EventBridge.DestinationName == "" {
			fmt.Fprintln(c.ErrOrStderr(), "note: set JOBBRIDGE_EB_TARGET_ROLE_ARN, JOBBRIDGE_EB_CONNECTION_NAME and JOBBRIDGE_EB_DESTINATION_NAME for exact resources; placeholders are printed in capitals")
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
		Short: "check the EventBridge setup and say what to fix; exits 1 if something fails",
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
		checks := eventbridge.Doctor(c.Context(), eventbridge.DoctorConfig{Settings: cfg.EventBridge, AWS: awsCfg})
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
		Short: "list (or, with --yes, delete) EventBridge rules under the prefix that no stored rule has",
		Long: `Lists the orphans: EventBridge rules under JOBBRIDGE_EB_RULE_PREFIX, tagged as
managed by this agent (same prefix and API destination), that no stored rule
has, for example after the agent was switched back to the local scheduler
and rules were deleted meanwhile. With --yes it deletes them (targets, then
rule). Rules outside the prefix or without the agent's tags are never
touched. It reads the agent's database, so on SQLite stop the agent first.`,
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
		return fmt.Errorf("%w\nprune compares EventBridge with the database: stop the agent and run it again", err)
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
