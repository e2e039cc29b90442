package cli

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobbridge/jobbridge/shared/schedule"
)

// maxCronCount bounds `cron next --count`: enough for any look ahead, small
// enough that a typo cannot flood a terminal.
const maxCronCount = 1000

// newCronCmd returns the `cron` command group: next, validate, describe.
// They check EventBridge schedule expressions offline, with the same package
// the agent schedules with.
func newCronCmd() *cobra.Command {
	var tz string
	cron := &cobra.Command{
		Use:   "cron",
		Short: "Check EventBridge schedule expressions: next fire times, validate, describe",
		Long: `Check EventBridge schedule expressions without an agent or an AWS account:
cron(Minutes Hours Day-of-month Month Day-of-week Year), rate(Value Unit) or
at(yyyy-mm-ddThh:mm:ss), evaluated in the --tz zone (default UTC) with
EventBridge Scheduler's daylight-saving rules: a time the clocks skip does not
fire, a time they repeat fires once. Quote the expression: it is one argument.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE:          groupCommand,
	}
	cron.PersistentFlags().StringVar(&tz, "tz", "UTC", "IANA time zone cron() and at() are evaluated in, e.g. Europe/Paris")
	cron.AddCommand(
		newCronNextCmd(&tz),
		newCronLineCmd("validate EXPR", `Print "ok" if EventBridge accepts the expression, else why not (exit 2)`,
			`  agent cron validate 'cron(0 12 ? * 8 *)'`,
			func(*schedule.Schedule) string { return "ok" }, &tz),
		newCronLineCmd("describe EXPR", "Describe an expression in words",
			`  agent cron describe 'cron(0/30 20-2 ? * MON-FRI *)'`,
			(*schedule.Schedule).Describe, &tz),
	)
	return cron
}

func newCronNextCmd(tz *string) *cobra.Command {
	var (
		count  int
		from   string
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "next EXPR",
		Short: "Print the next fire times of an expression, in UTC",
		Long: `Print the next fire times strictly after --from (default now), one RFC 3339
UTC time per line, or a JSON array with --json. When fewer remain (a year range
ending, an at() that has passed) it prints those; when none remain it prints
nothing ("[]" with --json) and says so on stderr. For rate(), --from is the
anchor: the fire times are from + k × interval.`,
		Example: `  agent cron next 'cron(0 12 ? * MON-FRI *)' --count 3
  agent cron next 'cron(30 2 * * ? *)' --tz America/New_York --from 2027-03-12T00:00:00Z
  agent cron next 'at(2027-11-07T01:30:00)' --tz America/New_York
  agent cron next 'rate(90 minutes)' --from 2024-03-01T09:00:00Z --json`,
		Args:          oneExpression,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := parseExpression(args[0], *tz)
			if err != nil {
				return err
			}
			if count < 1 || count > maxCronCount {
				return usageErrorf("--count must be 1-%d, not %d", maxCronCount, count)
			}
			after := time.Now()
			if cmd.Flags().Changed("from") {
				if after, err = time.Parse(time.RFC3339, from); err != nil {
					return usageErrorf("--from %q is not an RFC 3339 time such as 2024-03-01T09:00:00Z", from)
				}
			}
			if s.IsRate() {
				s = s.WithAnchor(after)
			}
			times := s.NextN(after, count)

			out := cmd.OutOrStdout()
			if asJSON {
				stamps := make([]string, len(times)) // [] rather than null when none remain
				for i, t := range times {
					stamps[i] = t.Format(time.RFC3339)
				}
				b, err := json.Marshal(stamps)
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%s\n", b)
			} else {
				for _, t := range times {
					fmt.Fprintln(out, t.Format(time.RFC3339))
				}
			}
			if len(times) == 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s never fires again after %s\n", s, after.UTC().Format(time.RFC3339))
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&count, "count", 5, fmt.Sprintf("how many fire times to print (1-%d)", maxCronCount))
	cmd.Flags().StringVar(&from, "from", "", "RFC 3339 time to start after, and the anchor of rate() (default now)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array of RFC 3339 strings")
	return cmd
}

// newCronLineCmd is a subcommand that parses EXPR and prints one line about
// it: validate and describe differ only in that line.
func newCronLineCmd(use, short, example string, line func(*schedule.Schedule) string, tz *string) *cobra.Command {
	return &cobra.Command{
		Use:           use,
		Short:         short,
		Example:       example,
		Args:          oneExpression,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := parseExpression(args[0], *tz)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), line(s))
			return nil
		},
	}
}

// parseExpression parses a schedule expression in the zone named tz; an
// invalid one, an unknown zone or an at() the zone's clocks skip is a usage
// mistake whose message says which.
func parseExpression(expr, tz string) (*schedule.Schedule, error) {
	s, err := schedule.Parse(expr)
	if err != nil {
		return nil, &ExitError{Code: 2, Err: err}
	}
	loc, err := schedule.LoadLocation(tz)
	if err != nil {
		return nil, usageErrorf("--tz: %v", err)
	}
	s = s.In(loc)
	if _, ok := s.Next(time.Time{}); s.IsAt() && !ok {
		return nil, usageErrorf("%s does not exist in %s: the clocks skip that time that day", s, loc)
	}
	return s, nil
}

// oneExpression requires the expression as a single argument. The usual
// mistake is leaving it unquoted, which the shell splits at its spaces.
func oneExpression(cmd *cobra.Command, args []string) error {
	if len(args) == 1 {
		return nil
	}
	return usageErrorf("%s takes one expression, quoted: %s 'cron(0 12 * * ? *)' (got %d arguments)",
		cmd.CommandPath(), cmd.CommandPath(), len(args))
}
