package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestBenchBurstBadFlags: every bad flag of `bench burst` exits 2, before
// anything is started, with a message naming the flag; a password in a bad
// --postgres URL is not quoted back.
func TestBenchBurstBadFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "cron"}, `--mode must be local or eventbridge, not "cron"`},
		{[]string{"--rules", "0"}, "--rules must be 1-100000, not 0"},
		{[]string{"--rules", "many"}, `invalid argument "many" for "--rules"`},
		{[]string{"--mode", "eventbridge", "--rate", "0"}, "--rate must be 1-10000 deliveries per second, not 0"},
		{[]string{"--rate", "100"}, "--rate applies to --mode eventbridge only"},
		{[]string{"--duplicates", "1%"}, "--duplicates applies to --mode eventbridge only"},
		{[]string{"--mode", "eventbridge", "--duplicates", "60%"}, `--duplicates must be a share from 0 to 0.5 (or 0% to 50%), such as 0.01 or 1%, not "60%"`},
		{[]string{"--mode", "eventbridge", "--duplicates", "-0.1"}, `--duplicates must be a share`},
		{[]string{"--mode", "eventbridge", "--duplicates", "some"}, `--duplicates must be a share`},
		{[]string{"--job-params", `{"steps":1}`}, `--job-params must be a JSON object of string values such as {"duration":"0s","steps":"1"}, not "{\"steps\":1}"`},
		{[]string{"--job-params", "null"}, "--job-params must be a JSON object"},
		{[]string{"--timeout", "0s"}, "--timeout must be a positive duration such as 10m, not 0s"},
		{[]string{"--timeout", "soon"}, `invalid argument "soon" for "--timeout"`},
		{[]string{"--postgres", "mysql://u:s3cret@db/x"}, "--postgres must be a postgres://user@host:port/database URL"},
		{[]string{"--postgres", "host=db user=u"}, "--postgres must be a postgres://"},
		{[]string{"--bogus"}, "unknown flag: --bogus"},
		{[]string{"extra"}, `unknown command "extra" for "agent bench burst"`},
	} {
		args := append([]string{"bench", "burst"}, tc.args...)
		checkUsageError(t, args, tc.want)
	}
	checkUsageError(t, []string{"bench", "brust"}, `unknown command "brust" for "agent bench"`)
}

// checkUsageError runs `agent ARGS...` and checks that it exits 2 with want
// on stderr, nothing on stdout and no password anywhere.
func checkUsageError(t *testing.T, args []string, want string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut, func(string) string { return "" }, nil)
	if code != 2 || !strings.Contains(errOut.String(), want) || strings.Contains(errOut.String(), "s3cret") || out.Len() != 0 {
		t.Errorf("agent %s: exit %d, stdout %q, stderr %q; want exit 2 and %q (no password)",
			strings.Join(args, " "), code, out.String(), errOut.String(), want)
	}
}

func TestParseShare(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"0.01": 0.01, "1%": 0.01, " 2.5 % ": 0.025, "0": 0, "0%": 0} {
		got, err := parseShare(in)
		if err != nil || got != want {
			t.Errorf("parseShare(%q) = %g, %v; want %g", in, got, err, want)
		}
	}
	for _, in := range []string{"", "%", "-1%", "NaN", "one"} {
		if _, err := parseShare(in); err == nil {
			t.Errorf("parseShare(%q): no error, want one", in)
		}
	}
}
