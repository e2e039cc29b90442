package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// runCron runs `agent cron ARGS...` and returns what it wrote and the exit
// status the caller would use (0, or ExitError's Code; -1 for any other
// error). The group hangs under a bare "agent" command, as it does in the
// real command line, so command paths and argument checks are the real ones.
func runCron(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	root := &cobra.Command{Use: "agent", SilenceErrors: true, SilenceUsage: true}
	root.AddCommand(newCronCmd())
	var out, errOut bytes.Buffer
	root.SetArgs(append([]string{"cron"}, args...))
	root.SetOut(&out)
	root.SetErr(&errOut)
	err := root.Execute()
	var ee *ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.Code
		errOut.WriteString(ee.Error() + "\n") // as the caller prints it
	default:
		t.Errorf("cron %s: error %v (%T), want nil or an *ExitError", strings.Join(args, " "), err, err)
		code = -1
	}
	return out.String(), errOut.String(), code
}

func TestCronNext(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		stdout string
		stderr string
	}{
		{
			name:   "lines of RFC 3339 UTC times",
			args:   []string{"next", "cron(0/30 20-2 ? * MON-FRI *)", "--from", "2021-04-02T23:00:00Z", "--count", "3"},
			stdout: "2021-04-02T23:30:00Z\n2021-04-05T00:00:00Z\n2021-04-05T00:30:00Z\n",
		},
		{
			name:   "flags before the expression",
			args:   []string{"next", "--count", "2", "--from", "2021-05-01T00:00:00Z", "cron(0 12 15W * ? *)"},
			stdout: "2021-05-14T12:00:00Z\n2021-06-15T12:00:00Z\n",
		},
		{
			name:   "five by default",
			args:   []string{"next", "cron(0 0 LW * ? *)", "--from", "2021-04-01T00:00:00Z"},
			stdout: "2021-04-30T00:00:00Z\n2021-05-31T00:00:00Z\n2021-06-30T00:00:00Z\n2021-07-30T00:00:00Z\n2021-08-31T00:00:00Z\n",
		},
		{
			name:   "--from in another zone, output in UTC",
			args:   []string{"next", "cron(0 12 * * ? *)", "--from", "2021-06-01T20:00:00+09:00", "--count", "1"},
			stdout: "2021-06-01T12:00:00Z\n",
		},
		{
			name:   "JSON array",
			args:   []string{"next", "cron(0 0 ? * TUE#5 *)", "--from", "2021-01-01T00:00:00Z", "--count", "3", "--json"},
			stdout: `["2021-03-30T00:00:00Z","2021-06-29T00:00:00Z","2021-08-31T00:00:00Z"]` + "\n",
		},
		{
			name:   "fewer remain: those, and no complaint",
			args:   []string{"next", "cron(0 0 1 1 ? 2030-2031)", "--from", "2029-06-01T00:00:00Z", "--count", "5"},
			stdout: "2030-01-01T00:00:00Z\n2031-01-01T00:00:00Z\n",
		},
		{
			name:   "none remain: nothing on stdout, a note on stderr",
			args:   []string{"next", "cron(0 0 * * ? 2000-2010)", "--from", "2021-01-01T00:00:00Z"},
			stdout: "",
			stderr: "cron(0 0 * * ? 2000-2010) never fires again after 2021-01-01T00:00:00Z\n",
		},
		{
			name:   "none remain with --json: []",
			args:   []string{"next", "cron(0 0 30 2 ? *)", "--from", "2021-01-01T00:00:00Z", "--json"},
			stdout: "[]\n",
			stderr: "cron(0 0 30 2 ? *) never fires again after 2021-01-01T00:00:00Z\n",
		},
		{
			name:   "rate() counts from --from",
			args:   []string{"next", "rate(90 minutes)", "--from", "2024-03-01T10:07:30Z", "--count", "3"},
			stdout: "2024-03-01T11:37:00Z\n2024-03-01T13:07:00Z\n2024-03-01T14:37:00Z\n",
		},
		{
			name:   "--tz: 02:30 in New York does not exist on 14 March 2027",
			args:   []string{"next", "cron(30 2 * * ? *)", "--tz", "America/New_York", "--from", "2027-03-12T12:00:00Z", "--count", "3"},
			stdout: "2027-03-13T07:30:00Z\n2027-03-15T06:30:00Z\n2027-03-16T06:30:00Z\n",
		},
		{
			name:   "--tz: 01:30 in New York fires once on 7 November 2027",
			args:   []string{"next", "cron(30 1 * * ? *)", "--tz", "America/New_York", "--from", "2027-11-06T12:00:00Z", "--count", "2", "--json"},
			stdout: `["2027-11-07T05:30:00Z","2027-11-08T06:30:00Z"]` + "\n",
		},
		{
			name:   "--tz after the subcommand, a 30-minute zone",
			args:   []string{"next", "--tz", "Asia/Kolkata", "cron(0 9 * * ? *)", "--from", "2027-01-01T00:00:00Z", "--count", "1"},
			stdout: "2027-01-01T03:30:00Z\n",
		},
		{
			name:   "at() in a zone",
			args:   []string{"--tz", "Europe/Paris", "next", "at(2027-07-01T09:00:00)", "--from", "2027-01-01T00:00:00Z"},
			stdout: "2027-07-01T07:00:00Z\n",
		},
		{
			name:   "at() that has passed: [] and a note",
			args:   []string{"next", "at(2020-07-01T09:00:00)", "--from", "2027-01-01T00:00:00Z", "--json"},
			stdout: "[]\n",
			stderr: "at(2020-07-01T09:00:00) never fires again after 2027-01-01T00:00:00Z\n",
		},
		{
			name:   "rate() in JSON",
			args:   []string{"next", "rate(1 day)", "--from", "2024-02-28T06:00:00Z", "--count", "2", "--json"},
			stdout: `["2024-02-29T06:00:00Z","2024-03-01T06:00:00Z"]` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runCron(t, tt.args...)
			if code != 0 || stdout != tt.stdout || stderr != tt.stderr {
				t.Errorf("cron %s\n got: exit %d, stdout %q, stderr %q\nwant: exit 0, stdout %q, stderr %q",
					strings.Join(tt.args, " "), code, stdout, stderr, tt.stdout, tt.stderr)
			}
		})
	}
}

func TestCronNextDefaultsToNow(t *testing.T) {
	t.Parallel()
	before := time.Now()
	stdout, stderr, code := runCron(t, "next", "cron(* * * * ? *)", "--count", "1", "--json")
	var got []time.Time
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || code != 0 || len(got) != 1 {
		t.Fatalf("cron next without --from: exit %d, stdout %q, stderr %q; want one time in a JSON array", code, stdout, stderr)
	}
	if !got[0].After(before) || got[0].After(before.Add(2*time.Minute)) {
		t.Errorf("cron next without --from gave %v; want the minute after now (%v)", got[0], before)
	}
}

func TestCronNextCountBounds(t *testing.T) {
	t.Parallel()
	from := "--from=2021-01-01T00:00:00Z"
	for _, tt := range []struct {
		count string
		lines int // 0: refused with exit 2
	}{
		{"1", 1},
		{"1000", 1000},
		{"0", 0},
		{"-1", 0},
		{"1001", 0},
	} {
		stdout, stderr, code := runCron(t, "next", "cron(* * * * ? *)", from, "--count", tt.count)
		if tt.lines == 0 {
			want := "--count must be 1-1000, not " + tt.count + "\n"
			if code != 2 || stdout != "" || stderr != want {
				t.Errorf("--count %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", tt.count, code, stdout, stderr, want)
			}
			continue
		}
		if n := strings.Count(stdout, "\n"); code != 0 || n != tt.lines {
			t.Errorf("--count %s: exit %d, %d lines (stderr %q); want exit 0 and %d lines", tt.count, code, n, stderr, tt.lines)
		}
	}
}

func TestCronUsageMistakesExit2(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"unknown subcommand", []string{"bogus"}, "unknown command \"bogus\" for \"agent cron\"\nsee 'agent cron --help'\n"},
		{"invalid expression", []string{"next", "cron(0 12 ? * 8 *)"}, `day-of-week: "8" is out of range 1-7 (SUN-SAT)` + "\n"},
		{"invalid rate", []string{"next", "rate(1 minutes)", "--json"}, `rate: "minutes" needs a value greater than 1; use "1 minute"` + "\n"},
		{"bad --from", []string{"next", "cron(0 12 * * ? *)", "--from", "yesterday"}, `--from "yesterday" is not an RFC 3339 time such as 2024-03-01T09:00:00Z` + "\n"},
		{"no expression", []string{"next"}, "agent cron next takes one expression, quoted: agent cron next 'cron(0 12 * * ? *)' (got 0 arguments)\n"},
		{"unquoted expression", []string{"validate", "cron(0", "12", "*", "*", "?", "*)"}, "agent cron validate takes one expression, quoted: agent cron validate 'cron(0 12 * * ? *)' (got 6 arguments)\n"},
		{"validate refuses", []string{"validate", "cron(0 12 * * * *)"}, `day-of-month and day-of-week: one of them must be "?"` + "\n"},
		{"describe refuses", []string{"describe", "cron(*/0 12 * * ? *)"}, `minutes: "*/0" step must be at least 1` + "\n"},
		{"unknown zone", []string{"next", "cron(0 12 * * ? *)", "--tz", "Mars/Olympus"},
			`--tz: "Mars/Olympus" is not a time zone in the IANA database (such as America/New_York or Europe/Paris)` + "\n"},
		{"validate with an unknown zone", []string{"validate", "--tz", "EST5EDT6", "cron(0 12 * * ? *)"},
			`--tz: "EST5EDT6" is not a time zone in the IANA database (such as America/New_York or Europe/Paris)` + "\n"},
		{"at() the clocks skip", []string{"validate", "--tz", "America/New_York", "at(2027-03-14T02:30:00)"},
			"at(2027-03-14T02:30:00) does not exist in America/New_York: the clocks skip that time that day\n"},
		{"malformed at()", []string{"next", "at(2027-03-14)"},
			`at: "2027-03-14" is not a date and time written yyyy-mm-ddThh:mm:ss, e.g. at(2027-03-14T09:30:00)` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := runCron(t, tt.args...)
			if code != 2 || stdout != "" || stderr != tt.stderr {
				t.Errorf("cron %s\n got: exit %d, stdout %q, stderr %q\nwant: exit 2, no stdout, stderr %q",
					strings.Join(tt.args, " "), code, stdout, stderr, tt.stderr)
			}
		})
	}
}

func TestCronValidateAndDescribe(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args   []string
		stdout string
	}{
		{[]string{"validate", "cron(0 12 * * ? *)"}, "ok\n"},
		{[]string{"validate", "  rate(5 minutes) "}, "ok\n"},
		{[]string{"describe", "cron(15 10 ? * 6L *)"}, "At 10:15 UTC on the last Friday of the month\n"},
		{[]string{"describe", "cron(0/30 20-2 ? * MON-FRI *)"}, "Every 30 minutes between 20:00 and 02:59 UTC, Monday through Friday\n"},
		{[]string{"describe", "rate(5 minutes)"}, "Every 5 minutes\n"},
		{[]string{"validate", "--tz", "Australia/Lord_Howe", "at(2027-04-04T01:45:00)"}, "ok\n"},
		{[]string{"describe", "--tz", "Europe/Paris", "cron(0 9 ? * MON-FRI *)"}, "At 09:00 Europe/Paris, Monday through Friday\n"},
		{[]string{"describe", "at(2027-07-01T09:00:00)", "--tz", "Asia/Kolkata"}, "Once, on 2027-07-01 at 09:00 Asia/Kolkata\n"},
	}
	for _, tt := range tests {
		stdout, stderr, code := runCron(t, tt.args...)
		if code != 0 || stdout != tt.stdout || stderr != "" {
			t.Errorf("cron %s\n got: exit %d, stdout %q, stderr %q\nwant: exit 0, stdout %q",
				strings.Join(tt.args, " "), code, stdout, stderr, tt.stdout)
		}
	}
}
