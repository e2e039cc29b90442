package tui_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/shared/api"
)

// auditID is an audit entry id as the agent writes them (a UUIDv7: ids
// sort by time).
func auditID(n int) string { return runID(n, "eeee0000") }

func ruleJSON(t testing.TB, in api.RuleInput) json.RawMessage {
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seedAudit gives the agent an audit trail: a rule created, edited (its
// secret changed, so masked on both sides), disabled, and other actions.
func seedAudit(t testing.TB) func(a *agenttest.Agent) {
	return func(a *agenttest.Agent) {
		at := func(min int) time.Time { return clock.Add(-time.Duration(min) * time.Minute) }
		v1 := api.RuleInput{Name: "ping-partner", Job: "http", Schedule: "cron(0/5 * * * ? *)", Timezone: "UTC", Enabled: ptr(true),
			Parameters: map[string]string{"url": "https://partner.example/ping", "bearer_token": api.MaskedValue}, Overlap: api.OverlapAllow}
		v2 := v1
		v2.Schedule = "rate(10 minutes)"
		v2.Description = "pings the partner every ten minutes, as agreed with them in the contract of March"
		v2.Parameters = map[string]string{"url": "https://partner.example/ping", "bearer_token": api.MaskedValue, "method": "POST"}
		v2.Timeout = "30s"
		v3 := v2
		v3.Enabled = ptr(false)
		a.AddAudit(
			api.AuditEntry{ID: auditID(1), Time: at(90), Actor: "admin", Action: "token.create", Target: "ci", Detail: "role operator"},
			api.AuditEntry{ID: auditID(2), Time: at(60), Actor: "alice", Action: "rule.create", Target: "ping-partner",
				Detail: "job http, schedule cron(0/5 * * * ? *), enabled true", After: ruleJSON(t, v1)},
			api.AuditEntry{ID: auditID(3), Time: at(30), Actor: "bob", Action: "rule.update", Target: "ping-partner",
				Detail: "job http, schedule rate(10 minutes), enabled true", Before: ruleJSON(t, v1), After: ruleJSON(t, v2)},
			api.AuditEntry{ID: auditID(4), Time: at(20), Actor: "ci", Action: "run.cancel", Target: run3, Detail: "deploy"},
			api.AuditEntry{ID: auditID(5), Time: at(10), Actor: "alice", Action: "rule.disable", Target: "ping-partner",
				Before: ruleJSON(t, v2), After: ruleJSON(t, v3)},
		)
	}
}

func TestAuditViewAt80x24(t *testing.T) {
	f := setup(t, viewerToken, 80, 24, "audit", seedAudit(t))
	f.waitFor(t, "live", "viewer (read-only)", "Audit 5", "rule.disable", "token.create")
	requireGolden(t, f.screen(t))
}

func TestAuditViewWide(t *testing.T) {
	f := setup(t, viewerToken, 160, 45, "audit", seedAudit(t))
	f.waitFor(t, "live", "viewer (read-only)", "Audit 5", "rule.disable", "token.create")
	requireGolden(t, f.screen(t))
}

// The edit's entry, whole: the fields that changed first, the secret
// masked on both sides, the long description wrapped.
func TestAuditEntryShowsBeforeAndAfterAt80x24(t *testing.T) {
	f := setup(t, viewerToken, 80, 24, "audit", seedAudit(t))
	f.waitFor(t, "live", "Audit 5", "rule.update")
	f.press("j", "j", "enter")
	f.waitFor(t, "Rule before and after", "4 of")
	requireGolden(t, f.screen(t))
}

func TestAuditEntryShowsBeforeAndAfterWide(t *testing.T) {
	f := setup(t, viewerToken, 160, 45, "audit", seedAudit(t))
	f.waitFor(t, "live", "Audit 5", "rule.update")
	f.press("j", "j", "enter")
	f.waitFor(t, "Rule before and after", "4 of")
	requireGolden(t, f.screen(t))
}

func TestAuditFiltersAskTheAgent(t *testing.T) {
	f := setup(t, viewerToken, 100, 24, "audit actor:alice", seedAudit(t))
	f.waitFor(t, "live", "Audit 2", "actor:alice", "rule.disable", "rule.create")
	// / with a term asks the agent on enter; text filters what is read.
	f.press("esc")
	f.waitFor(t, "Audit 5")
	f.press("/")
	f.typeText("action:rule.update")
	f.press("enter")
	f.waitFor(t, "Audit 1", "action:rule.update")
	screen := f.screen(t)
	contains(t, screen, "bob", "rule.update")
	for _, absent := range []string{"token.create", "run.cancel", "rule.disable"} {
		if strings.Contains(screen, absent) {
			t.Errorf("the filtered trail shows %s:\n%s", absent, screen)
		}
	}
	if n := f.requests.count("GET /api/v1/audit"); n < 3 {
		t.Errorf("the console asked the agent for the trail %d times, want one per filter (3)", n)
	}
}

func TestAuditRefusesAnUnknownTerm(t *testing.T) {
	f := setup(t, viewerToken, 100, 24, "rules", seedAudit(t))
	f.waitFor(t, "live")
	f.press(":")
	f.typeText("audit who:alice")
	f.press("enter")
	f.waitFor(t, "“who:alice”: the audit view filters by actor:NAME, action:NAME and target:NAME")
}

// / in the audit view starts with the terms in force, to be edited; one
// taken out is no longer asked for.
func TestAuditFilterStartsWithTheTermsInForce(t *testing.T) {
	f := setup(t, viewerToken, 80, 24, "audit actor:alice", seedAudit(t))
	f.waitFor(t, "live", "Audit 2", "actor:alice")
	f.press("/")
	f.waitFor(t, "Audit /actor:alice ")
	f.press("ctrl+u")
	f.typeText("action:run.cancel")
	f.press("enter")
	f.waitFor(t, "Audit 1 action:run.cancel")
	f.press("/")
	f.waitFor(t, "Audit /action:run.cancel ")
	f.press("esc") // puts back what was in force
	f.waitFor(t, "Audit 1 action:run.cancel")
	screen := f.screen(t)
	contains(t, screen, "Audit 1 action:run.cancel", "cccc3333")
	if strings.Contains(screen, "actor:alice") {
		t.Errorf("the term taken out is still in force:\n%s", screen)
	}
}
