package service

import (
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

func policyProblems(in api.RunPolicy) (store.RunPolicy, map[string]string) {
	verr := &ValidationError{}
	p := policyFromInput(in, verr)
	out := map[string]string{}
	for _, f := range verr.Fields {
		out[f.Location] = f.Message
	}
	return p, out
}

func TestRunPolicyIsStoredAsGivenAndShownBack(t *testing.T) {
	in := api.RunPolicy{
		Retry:   &api.RetryPolicy{Attempts: 3, Backoff: "10s", MaxBackoff: "5m", Jitter: 0.5},
		CatchUp: api.CatchUpAll, CatchUpWindow: "6h", MaxLateness: "15m", WarnAfter: "90s",
	}
	got, problems := policyProblems(in)
	if len(problems) != 0 {
		t.Fatalf("a good policy refused: %v", problems)
	}
	want := store.RunPolicy{
		Retry:   &store.RetryPolicy{Attempts: 3, Backoff: 10 * time.Second, MaxBackoff: 5 * time.Minute, Jitter: 0.5},
		CatchUp: api.CatchUpAll, CatchUpWindow: 6 * time.Hour, MaxLateness: 15 * time.Minute, WarnAfter: 90 * time.Second,
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stored policy\n got %+v\nwant %+v", got, want)
	}
	back := PolicyToAPI(got)
	in.WarnAfter = "1m30s" // shown as a Go duration, without zero units
	if !reflect.DeepEqual(back, in) {
		t.Fatalf("policy shown back\n got %+v\nwant %+v", back, in)
	}
}

func TestRunPolicyDefaults(t *testing.T) {
	got, problems := policyProblems(api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 2}, CatchUp: api.CatchUpLatest})
	if len(problems) != 0 {
		t.Fatalf("refused: %v", problems)
	}
	if got.Retry.Backoff != DefaultRetryBackoff || got.Retry.MaxBackoff != DefaultRetryMaxBackoff || got.CatchUpWindow != DefaultCatchUpWindow {
		t.Fatalf("defaults: got retry %+v, catch-up window %v", got.Retry, got.CatchUpWindow)
	}
	// "none" is stored as no catch-up, and the zero policy stays zero.
	if got, problems := policyProblems(api.RunPolicy{CatchUp: api.CatchUpNone}); len(problems) != 0 || !reflect.DeepEqual(got, store.RunPolicy{}) {
		t.Fatalf("catchUp none: got %+v, problems %v", got, problems)
	}
	// A long backoff raises the default cap to itself.
	got, _ = policyProblems(api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 1, Backoff: "2h"}})
	if got.Retry.MaxBackoff != 2*time.Hour {
		t.Fatalf("backoff 2h with no cap: cap %v, want 2h", got.Retry.MaxBackoff)
	}
}

func TestRunPolicyBadInputNamesTheField(t *testing.T) {
	for _, c := range []struct {
		in    api.RunPolicy
		field string
		want  string
	}{
		{api.RunPolicy{Retry: &api.RetryPolicy{}}, "body.retry.attempts", "0 is outside 1 to 100 (the retries after the first run); leave retry out for none"},
		{api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 101}}, "body.retry.attempts", "101 is outside 1 to 100 (the retries after the first run); leave retry out for none"},
		{api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 1, Backoff: "soon"}}, "body.retry.backoff", `"soon" is not a duration (e.g. 30s, 10m, 2h); leave it empty for none`},
		{api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 1, Backoff: "10ms"}}, "body.retry.backoff", `"10ms" is outside 1s to 168h; leave it empty for none`},
		{api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 1, Backoff: "1m", MaxBackoff: "30s"}}, "body.retry.maxBackoff", `"30s" is shorter than backoff 1m`},
		{api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 1, Jitter: 1.5}}, "body.retry.jitter", "1.5 is outside 0 (none) to 1 (a delay anywhere from 0 to the backoff)"},
		{api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 1, Jitter: math.NaN()}}, "body.retry.jitter", "NaN is outside 0 (none) to 1 (a delay anywhere from 0 to the backoff)"},
		{api.RunPolicy{CatchUp: "some"}, "body.catchUp", `"some" is not none, latest or all`},
		{api.RunPolicy{CatchUpWindow: "1h"}, "body.catchUpWindow", "is set but catchUp is none: set catchUp to latest or all, or leave the window out"},
		{api.RunPolicy{CatchUp: api.CatchUpAll, CatchUpWindow: "30s"}, "body.catchUpWindow", `"30s" is outside 1m to 168h; leave it empty for none`},
		{api.RunPolicy{MaxLateness: "25h"}, "body.maxLateness", `"25h" is outside 1m to 24h; leave it empty for none`},
		{api.RunPolicy{WarnAfter: "-1s"}, "body.warnAfter", `"-1s" is outside 1s to 168h; leave it empty for none`},
	} {
		_, problems := policyProblems(c.in)
		if got := problems[c.field]; got != c.want || len(problems) != 1 {
			t.Errorf("%+v: problems %q, want only %s: %q", c.in, problems, c.field, c.want)
		}
	}
}

// Text that reaches terminals and mails (descriptions, cancel and
// maintenance reasons) is plain: no escape codes, no line breaks, no
// bidirectional controls; emoji sequences (joined by U+200D) are fine.
func TestCheckTextRefusesWhatReordersOrEscapes(t *testing.T) {
	for s, want := range map[string]string{
		"nightly export ✓ 👨‍👩‍👧":  "",
		"db upgrade\x1b[2J":       "contains control characters (escape codes, line breaks, tabs): send plain text on one line",
		"two\nlines":              "contains control characters (escape codes, line breaks, tabs): send plain text on one line",
		"safe \u202egnp.exe":      "contains bidirectional controls (U+202A-U+202E, U+2066-U+2069), which make text show other than it reads: send plain text",
		"isolate \u2067x\u2069":   "contains bidirectional controls (U+202A-U+202E, U+2066-U+2069), which make text show other than it reads: send plain text",
		string([]byte{0xff, 'a'}): "is not valid UTF-8",
	} {
		if got := checkText(s); got != want {
			t.Errorf("checkText(%q) = %q, want %q", s, got, want)
		}
	}
}
