package tui_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// editElsewhere saves a change of ping-partner as another admin, alice,
// through the API, as a second operator would while the form is open.
func editElsewhere(t *testing.T, f *fixture) {
	t.Helper()
	patchAs(t, f, "ping-partner", map[string]any{"description": "owned by team B", "schedule": "rate(15 minutes)"})
}

// patchAs saves patch to rule as another admin, alice.
func patchAs(t *testing.T, f *fixture, rule string, patch map[string]any) {
	t.Helper()
	ctx := context.Background()
	admin := f.agent.Client(adminToken)
	tok, err := admin.CreateToken(ctx, api.TokenInput{Name: "alice", Role: api.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	alice := client.New(f.agent.URL(), tok.Secret)
	r, err := alice.Rule(ctx, rule)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alice.PatchRule(ctx, rule, patch, r.Version); err != nil {
		t.Fatal(err)
	}
}

// Two real edits of one rule: the console's save, made from the version
// it loaded, is refused; the form says who changed which field, and
// overwrite saves the operator's changes over the other's: the field both
// changed takes the operator's value, the one only alice changed keeps
// hers.
func TestRuleFormConflictOverwrite(t *testing.T) {
	f := setup(t, adminToken, 100, 30, "rules", seedRuns)
	f.waitFor(t, "live", "ping-partner", "admin")
	f.press("down", "e")
	f.waitFor(t, "Edit rule ping-partner", "*url")
	editElsewhere(t, f)
	f.press("tab", "tab", "tab", "tab", "tab", "tab") // job, schedule, zone, start, end, window -> description
	f.typeText("pings the partner")
	f.press("ctrl+s")
	f.waitFor(t, "Conflict: alice changed ping-partner at", "version 1; it is at version 2",
		"FIELD", "CHANGED BY", "WAS", "YOURS", "THEIRS", "description", "pings the partner", "owned by team B",
		"schedule", "them", "both", "cron(0/5 * * * ? *)", "rate(15 minutes)", "reload theirs",
		"save your changes over theirs (their other changes are kept")
	if r, _ := f.agent.Rule("ping-partner"); r.Description != "owned by team B" {
		t.Fatalf("the refused save changed the rule: %+v", r)
	}
	f.press("o")
	f.waitFor(t, "rule ping-partner saved over alice's change")
	r, _ := f.agent.Rule("ping-partner")
	if r.Description != "pings the partner" || r.Schedule != "rate(15 minutes)" || r.Parameters["bearer_token"] != "s3cr3t" {
		t.Errorf("after overwrite the rule is %+v, want the form's description, alice's schedule, the secret kept", r)
	}
	got, err := f.agent.Client(adminToken).Rule(context.Background(), "ping-partner")
	if err != nil || got.Version != 3 {
		t.Errorf("after overwrite the rule is at version %d (%v), want 3", got.Version, err)
	}
	if n := f.requests.count("PUT /api/v1/rules/ping-partner"); n != 2 {
		t.Errorf("the console sent %d PUTs, want 2 (refused, then over theirs)", n)
	}
}

// They change one field, you another: overwrite keeps both. A review
// found overwrite putting back the value alice had changed, a field the
// operator never touched.
func TestRuleFormConflictOverwriteKeepsTheirOtherChanges(t *testing.T) {
	f := setup(t, adminToken, 100, 30, "rules", seedRuns)
	f.waitFor(t, "live", "nightly-report", "admin")
	f.press("e")
	f.waitFor(t, "Edit rule nightly-report", "duration")
	patchAs(t, f, "nightly-report", map[string]any{"parameters": map[string]string{"duration": "7s"}})
	f.press("tab", "tab", "tab", "tab", "tab", "tab") // -> description
	f.typeText("the nightly figures")
	f.press("ctrl+s")
	f.waitFor(t, "Conflict: alice changed nightly-report", "parameters.duration", "them", "you")
	f.press("o")
	f.waitFor(t, "rule nightly-report saved over alice's change")
	r, _ := f.agent.Rule("nightly-report")
	if r.Description != "the nightly figures" || r.Parameters["duration"] != "7s" {
		t.Errorf("after overwrite the rule is %+v, want your description and alice's duration 7s", r)
	}
}

// The conflict screen at 80×24 and 160×45: every line whole (wrapped, not
// cut), each field's whole name, who changed it.
func TestRuleFormConflictScreen(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {160, 45}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			f := setup(t, adminToken, size.w, size.h, "rules", seedRuns)
			f.waitFor(t, "live", "nightly-report", "admin")
			f.press("e")
			f.waitFor(t, "Edit rule nightly-report", "duration")
			patchAs(t, f, "nightly-report", map[string]any{"description": "figures for finance",
				"parameters": map[string]string{"duration": "7s"}})
			f.press("tab", "tab", "tab", "tab", "tab", "tab") // -> description
			f.typeText("the nightly figures")
			f.press("tab", "tab") // enabled -> timeout
			f.typeText("90s")
			f.press("ctrl+s")
			f.waitFor(t, "Conflict: alice changed", "parameters.duration", "keep editing")
			// The audit trail stamps the change with the wall clock.
			screen := auditTime.ReplaceAllString(f.screen(t), "<date>$1<time>")
			requireGolden(t, screen)
		})
	}
}

// auditTime is a time the agent stamped with the wall clock.
var auditTime = regexp.MustCompile(`\d{4}-\d\d-\d\d(\s+)\d\d:\d\d:\d\d`)

// Reload drops the operator's edits for the other's version, which the
// next save keeps.
func TestRuleFormConflictReload(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "ping-partner", "admin")
	f.press("down", "e")
	f.waitFor(t, "Edit rule ping-partner", "*url")
	editElsewhere(t, f)
	f.press("tab", "tab", "tab", "tab", "tab", "tab")
	f.typeText("mine")
	f.press("ctrl+s")
	f.waitFor(t, "Conflict: alice changed", "owned by team B")
	f.press("r")
	f.waitFor(t, "loaded ping-partner as alice saved it (version 2)")
	f.press("tab", "tab") // job, schedule: rate(15 minutes) is theirs
	f.press("ctrl+s")
	seen := f.waitSeen(t, "rule ping-partner saved")
	if strings.Contains(seen, "saved over") {
		t.Errorf("a save after reload conflicted again:\n%s", seen)
	}
	r, _ := f.agent.Rule("ping-partner")
	if r.Description != "owned by team B" || r.Schedule != "rate(15 minutes)" || r.Parameters["bearer_token"] != "s3cr3t" {
		t.Errorf("after reload and save the rule is %+v, want alice's, the secret kept", r)
	}
}

// esc leaves the conflict for the form with the operator's edits; the
// next save meets it again.
func TestRuleFormConflictKeepEditing(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "ping-partner", "admin")
	f.press("down", "e")
	f.waitFor(t, "Edit rule ping-partner", "*url")
	editElsewhere(t, f)
	f.press("ctrl+s")
	f.waitFor(t, "Conflict: alice changed")
	f.press("esc")
	f.waitFor(t, "Not saved: alice changed ping-partner meanwhile.")
	f.press("ctrl+s")
	f.waitFor(t, "r reload theirs")
	if r, _ := f.agent.Rule("ping-partner"); r.Description != "owned by team B" {
		t.Fatalf("the refused saves changed the rule: %+v", r)
	}
}

// An overwrite the agent refuses for a field leaves the form at their
// version: once the field is fixed, the next save goes through instead of
// meeting the conflict it already answered.
func TestRuleFormConflictOverwriteRefusedThenFixed(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "ping-partner", "admin")
	f.press("down", "e")
	f.waitFor(t, "Edit rule ping-partner", "*url")
	for range 40 {
		f.press("tab")
	}
	f.waitFor(t, "> On finish")
	f.typeText("ping-partner") // a loop: the agent refuses it
	editElsewhere(t, f)
	f.press("ctrl+s")
	f.waitFor(t, "Conflict: alice changed ping-partner")
	f.press("o")
	f.waitFor(t, "step 1: the chain loops: ping-partner")
	for range len("ping-partner") {
		f.tm.Send(tea.KeyMsg{Type: tea.KeyBackspace})
	}
	f.press("ctrl+s")
	// Without the form at their version, this save met the conflict again.
	f.waitFor(t, "rule ping-partner saved")
	if n := f.requests.count("PUT /api/v1/rules/ping-partner"); n != 3 {
		t.Errorf("the console sent %d PUTs, want 3 (refused as stale, refused for the loop, saved)", n)
	}
}

// A secret typed into the form shows as new on the conflict screen, never
// as typed; overwrite saves it, and their change of another field stays.
func TestRuleFormConflictKeepsSecretsMasked(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "rules", seedRuns)
	f.waitFor(t, "live", "ping-partner", "admin")
	f.press("down", "e")
	f.waitFor(t, "Edit rule ping-partner", "*url")
	for range 18 { // job ... overlap, url ... log_body -> bearer_token
		f.press("tab")
	}
	f.waitFor(t, "> bearer_token")
	f.typeText("n3wt0ken")
	patchAs(t, f, "ping-partner", map[string]any{"description": "owned by team B"})
	f.press("ctrl+s")
	seen := f.waitSeen(t, "(new value)")
	if strings.Contains(seen, "n3wt0ken") {
		t.Fatalf("the conflict screen showed the typed secret:\n%s", seen)
	}
	f.press("o")
	f.waitFor(t, "rule ping-partner saved over alice's change")
	r, _ := f.agent.Rule("ping-partner")
	if r.Parameters["bearer_token"] != "n3wt0ken" || r.Description != "owned by team B" {
		t.Errorf("after overwrite the rule is %+v, want your token and alice's description", r)
	}
}
