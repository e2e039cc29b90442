package tui_test

import (
	"encoding/base64"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/shared/api"
)

// describedRun is a failed run with a long error (holding a title change,
// which must show as text) and many parameters, one of them secret.
var describedRun = runID(9, "eeee5555")

const longError = "upload to s3://exports-eu-west-1/nightly/2025-03-14/part-0007.csv.gz failed after 5 attempts: " +
	"RequestTimeout: Your socket connection to the server was not read from or written to within the timeout period. " +
	"Idle connections will be closed.\nLast response: \x1b]0;owned\a503 Slow Down (request id 4F7A1C0DDE2B9A31)"

// seedDescribe gives the agent the seeded runs, a rule with everything a
// rule may say (policy, chains, notify, dates, a long description) and
// the failed run described.
func seedDescribe(a *agenttest.Agent) {
	seedRuns(a)
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	a.AddRules(api.RuleInput{
		Name: "eu-export", Job: "demo", Schedule: "cron(30 1 * * ? *)", Timezone: "Europe/Berlin",
		StartDate: &start, FlexibleWindow: "15m", Timeout: "2h", Overlap: api.OverlapQueue,
		Description: "Exports the day's orders to the EU bucket for the finance team's reconciliation; " +
			"talk to #data-platform before changing the schedule, the warehouse load at 03:00 depends on it.",
		Parameters: map[string]string{"duration": "45s", "steps": "12"},
		Notify:     &api.NotifyPolicy{On: []string{"failed", "timeout"}},
		RunPolicy: api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 3, Backoff: "30s", MaxBackoff: "10m", Jitter: 0.2},
			CatchUp: api.CatchUpLatest, CatchUpWindow: "6h", WarnAfter: "30m"},
		Chains: api.Chains{
			OnSuccess: []api.ChainStep{{Rule: "nightly-report", Parameters: map[string]string{"duration": "${param.duration}"}}},
			OnFailure: []api.ChainStep{{Rule: "ping-partner"}},
		},
	})
	at := clock.Add(-5 * time.Minute)
	a.AddRuns(api.Run{ID: describedRun, Rule: "eu-export", Job: "demo", Status: api.StatusFailed, Trigger: api.TriggerSchedule,
		CreatedAt: at, StartedAt: ptr(at), FinishedAt: ptr(at.Add(97 * time.Second)), Error: longError,
		Node: "agent-eu-1", Attempt: 1,
		Progress: api.Progress{Percent: 70, Message: "uploading part 7 of 10"},
		Parameters: map[string]string{
			"bucket": "exports-eu-west-1", "prefix": "nightly/2025-03-14/", "format": "csv.gz",
			"region": "eu-west-1", "parts": "10", "compression_level": "9", "api_key": api.MaskedValue,
			"notify_email": "finance-reconciliation@example.com",
			"query":        "SELECT order_id, customer_id, total_cents, currency, created_at FROM orders WHERE created_at >= date_trunc('day', now() - interval '1 day') ORDER BY created_at",
			"duration":     "45s", "steps": "12",
		}})
}

// stamps are a rule's createdAt and updatedAt, as fields and as JSON.
var stamps = regexp.MustCompile(`((?:"createdAt|"updatedAt|createdAt|updatedAt)"?:?)(\s+)(?:"[^"]*"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CET \([^)]*\))`)

func TestDescribe(t *testing.T) {
	for _, c := range []struct {
		name       string
		w, h       int
		start      string
		keys       []string
		wait       []string
		rawWait    []string
		scrollWait string
	}{
		// At 80x24 the error is on the second page: pgdown shows it.
		{name: "run at 80x24", w: 80, h: 24, start: "run " + describedRun,
			wait: []string{"Run " + describedRun, "api_key"}, keys: []string{"pgdown"}, scrollWait: "RequestTimeout",
			rawWait: []string{`"id": "` + describedRun + `"`}},
		{name: "run at 160x45", w: 160, h: 45, start: "run " + describedRun,
			wait:    []string{"Run " + describedRun, "RequestTimeout", "api_key"},
			rawWait: []string{`"id": "` + describedRun + `"`}},
		{name: "rule at 80x24", w: 80, h: 24, start: "rules",
			wait:    []string{"Rule eu-export", "description", "finance team"},
			rawWait: []string{`"name": "eu-export"`}},
		{name: "rule at 160x45", w: 160, h: 45, start: "rules",
			wait:    []string{"Rule eu-export", "description", "finance team"},
			rawWait: []string{`"name": "eu-export"`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			for _, raw := range []bool{false, true} {
				name := "fields"
				if raw {
					name = "raw JSON"
				}
				t.Run(name, func(t *testing.T) {
					f := setup(t, adminToken, c.w, c.h, c.start, seedDescribe)
					if c.start == "rules" {
						f.waitFor(t, "live", "admin", "eu-export")
						// eu-export is the first rule (by name) under the cursor.
						f.press("d")
					} else {
						f.waitFor(t, "live", "admin", "FAILED")
						f.press("d")
					}
					f.waitFor(t, c.wait...)
					if raw {
						f.press("v")
						f.waitFor(t, c.rawWait...)
					}
					if len(c.keys) > 0 {
						f.press(c.keys...)
						f.waitFor(t, c.scrollWait)
					}
					screen := f.screen(t)
					if strings.Contains(screen, "\x1b]0;") {
						t.Fatalf("the error's title change reached the screen raw:\n%q", screen)
					}
					if c.start == "rules" {
						// The agent stamps a rule with the wall clock, not
						// the tests' fixed one.
						screen = stamps.ReplaceAllString(screen, "$1$2<now>")
					}
					requireGolden(t, screen)
				})
			}
		})
	}
}

// TestDescribeScrolls: G shows the last lines, g the first again.
func TestDescribeScrolls(t *testing.T) {
	f := setup(t, viewerToken, 80, 24, "run "+describedRun, seedDescribe)
	f.waitFor(t, "live", "viewer", "FAILED")
	f.press("d")
	f.waitFor(t, "Run "+describedRun, "lines 1-20 of")
	f.press("G")
	f.waitFor(t, "attempt", "node")
	f.press("g")
	f.waitFor(t, "lines 1-20 of")
}

func TestDescribeCopiesTheIDAndTheJSON(t *testing.T) {
	f := setup(t, operatorToken, 80, 24, "run "+describedRun, seedDescribe)
	f.waitFor(t, "live", "operator", "FAILED")
	f.press("d")
	f.waitFor(t, "Run "+describedRun, "api_key") // loaded: the title shows before
	f.press("y")
	f.waitFor(t, "copied run eeee5555")
	want := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(describedRun)) + "\a"
	if got := f.clipboard.String(); got != want {
		t.Fatalf("y wrote %q to the terminal, want %q", got, want)
	}
	f.press("Y")
	f.waitFor(t, "copied run eeee5555 as JSON")
	seq := strings.TrimPrefix(f.clipboard.String(), want)
	if !strings.HasPrefix(seq, "\x1b]52;c;") || !strings.HasSuffix(seq, "\a") {
		t.Fatalf("Y wrote %q, not an OSC 52 sequence", seq)
	}
	doc, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(strings.TrimPrefix(seq, "\x1b]52;c;"), "\a"))
	if err != nil {
		t.Fatalf("Y's sequence is not base64: %v", err)
	}
	var run api.Run
	if err := json.Unmarshal(doc, &run); err != nil {
		t.Fatalf("Y copied what is not the run's JSON: %v\n%s", err, doc)
	}
	if run.ID != describedRun || run.Error != longError || run.Parameters["api_key"] != api.MaskedValue {
		t.Errorf("Y copied id %q, error %q, api_key %q; want the run as the agent has it, its secret masked",
			run.ID, run.Error, run.Parameters["api_key"])
	}
	if !strings.Contains(string(doc), `\u001b]0;owned\u0007`) {
		t.Errorf("the copied JSON does not hold the error's escape as a JSON escape:\n%s", doc)
	}
}

// TestCopyTheIDFromTheListsAndTheRunView: y in the runs list and the
// rules list copies the row under the cursor; in the run view, its run.
func TestCopyTheIDFromTheListsAndTheRunView(t *testing.T) {
	osc := func(s string) string { return "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(s)) + "\a" }
	f := setup(t, viewerToken, 100, 24, "runs", seedDescribe)
	f.waitFor(t, "live", "viewer", "eeee5555")
	f.press("down", "y") // the second newest
	f.waitFor(t, "copied run eeee5555")
	f.press("up")
	f.press("enter")
	f.waitFor(t, "Run "+run4)
	f.press("y")
	f.waitFor(t, "copied run dddd4444")
	f.press("esc", ":")
	f.typeText("rules")
	f.press("enter")
	f.waitFor(t, "Rules 3") // not eu-export: the runs list shows it too
	f.press("down", "y")
	f.waitFor(t, "copied rule nightly-report")
	if got, want := f.clipboard.String(), osc(describedRun)+osc(run4)+osc("nightly-report"); got != want {
		t.Errorf("the console wrote %q to the terminal, want %q", got, want)
	}
}

func TestDescribeFollowsTheRunAndOpensFromTheRunView(t *testing.T) {
	f := setup(t, viewerToken, 80, 24, "run "+run4, seedRuns)
	f.waitFor(t, "live", "viewer", "RUNNING")
	f.press("d")
	f.waitFor(t, "Run "+run4, "step 4 of 10")
	f.agent.Progress(run4, 70, "step 7 of 10")
	f.waitFor(t, "step 7 of 10")
	f.press("esc")
	f.waitFor(t, "RUNNING")
}

func TestDescribeKeepsADeletedRuleAndSaysSo(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "admin", "nightly-report")
	f.press("d")
	f.waitFor(t, "Rule nightly-report", "schedule")
	if err := f.agent.Client(adminToken).DeleteRule(t.Context(), "nightly-report"); err != nil {
		t.Fatal(err)
	}
	f.waitFor(t, "Cannot load it again (shown as it was):", "not found")
}

// TestDescribeAndCopyKeepSecretsMasked: a rule's secret parameter shows,
// and is copied, masked as the API masks it, even for an admin.
func TestDescribeAndCopyKeepSecretsMasked(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "admin", "ping-partner")
	f.press("down", "d")
	f.waitFor(t, "Rule ping-partner", "bearer_token  ********")
	f.press("v")
	f.waitFor(t, `"bearer_token": "********"`)
	f.press("Y")
	f.waitFor(t, "copied rule ping-partner as JSON")
	seq := f.clipboard.String()
	doc, err := base64.StdEncoding.DecodeString(strings.TrimSuffix(strings.TrimPrefix(seq, "\x1b]52;c;"), "\a"))
	if err != nil {
		t.Fatalf("Y wrote %q: %v", seq, err)
	}
	if strings.Contains(string(doc), "s3cr3t") || !strings.Contains(string(doc), `"bearer_token": "********"`) {
		t.Errorf("the copied JSON does not mask the secret:\n%s", doc)
	}
	if screen := f.screen(t); strings.Contains(screen, "s3cr3t") {
		t.Errorf("the secret shows:\n%s", screen)
	}
}
