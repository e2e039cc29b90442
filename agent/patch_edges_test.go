package agent_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// TestPatchRefusesNullsWithoutAResetAndUnknownKeysAtAnyDepth sends PATCHes
// a merge patch would otherwise take silently: null for a field with no
// default to reset to (enabled would come back true, re-enabling a
// disabled rule), and unknown keys inside objects the rule has (ignored,
// where PUT refuses them). Each is a 400 naming the field, and the rule is
// left as it was; nulls that do reset a field still work.
func TestPatchRefusesNullsWithoutAResetAndUnknownKeysAtAnyDepth(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		disabled := false
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)", Enabled: &disabled,
			Timezone: "Europe/Paris", Description: "kept", Notify: &api.NotifyPolicy{On: []string{"failed"}},
			RunPolicy: api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 2}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "next", Job: "demo", Schedule: "rate(1 day)"}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ name, body, loc, says string }{
			// Each of these would otherwise get: enabled true (the create
			// default), job and schedule a "required" error, name dropped
			// (the path's), retry.attempts 0 and an out-of-range error.
			{"enabled null", `{"enabled": null}`, "body.enabled", "cannot be null"},
			{"job null", `{"job": null}`, "body.job", "cannot be null"},
			{"schedule null", `{"schedule": null}`, "body.schedule", "cannot be null"},
			{"name null", `{"name": null}`, "body.name", "cannot be null"},
			{"retry.attempts null", `{"retry": {"attempts": null}}`, "body.retry.attempts", "retry: null"},
			// Unknown keys inside objects, however deep.
			{"a misspelt retry key", `{"retry": {"maxAtempts": 3}}`, "body.retry.maxAtempts", "is not a field of retry"},
			{"a key in the wrong case", `{"retry": {"Attempts": 3}}`, "body.retry.Attempts", "attempts"},
			{"a misspelt notify key", `{"notify": {"channel": ["x"]}}`, "body.notify.channel", "is not a field of notify"},
			{"a misspelt chain step key", `{"onSuccess": [{"rule": "next", "parms": {"a": "b"}}]}`, "body.onSuccess[0].parms", "is not a field of a step of onSuccess"},
		} {
			status, h, got := ta.call(t, http.MethodPatch, "/rules/r", nil, c.body)
			p := wantProblem(t, c.name, status, h, got, http.StatusBadRequest, "", c.says)
			var locs []string
			for _, e := range p.Errors {
				locs = append(locs, e.Location)
			}
			if !slices.Equal(locs, []string{c.loc}) {
				t.Errorf("%s: errors at %v, want %s (%s)", c.name, locs, c.loc, got)
			}
		}
		r, err := ta.admin.Rule(ctx, "r")
		if err != nil || r.Version != 1 || r.Enabled || r.Retry == nil || r.Retry.Attempts != 2 || len(r.Notify.On) != 1 {
			t.Fatalf("refused patches changed the rule: %+v, %v", r, err)
		}

		// A null that resets a field to its default is taken.
		r, err = ta.admin.PatchRule(ctx, "r", map[string]any{"timezone": nil, "description": nil, "retry": nil,
			"notify": map[string]any{"on": nil}, "onSuccess": []map[string]any{{"rule": "next", "parameters": map[string]string{"steps": "1"}}}}, 1)
		if err != nil {
			t.Fatal(err)
		}
		if r.Timezone != "UTC" || r.Description != "" || r.Retry != nil || len(r.Notify.On) != 0 || len(r.OnSuccess) != 1 || r.Enabled {
			t.Fatalf("resetting nulls: %+v", r)
		}
	})
}

// TestAuditActionRuleUpdateListsOldRuleReplaceEntries: a PUT was audited
// as rule.replace before it became rule.update; such an entry, stored
// before the upgrade, is listed by GET /audit?action=rule.update beside a
// PUT made now.
func TestAuditActionRuleUpdateListsOldRuleReplaceEntries(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)"}); err != nil {
			t.Fatal(err)
		}
		old := store.AuditEntry{ID: "0190d1a8-0000-7000-8000-000000000001", Actor: "ops", Action: "rule.replace", Target: "r",
			Detail: "job demo, schedule rate(2 days), enabled true"}
		if err := ta.Store().AuditAppend(ctx, old); err != nil {
			t.Fatal(err)
		}
		if _, err := ta.admin.ReplaceRuleIf(ctx, "r", api.RuleInput{Job: "demo", Schedule: "rate(3 days)"}, 1); err != nil {
			t.Fatal(err)
		}
		page, err := ta.admin.AuditWith(ctx, api.AuditQuery{Action: "rule.update", Target: "r"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range page.Items {
			got = append(got, e.Action+" "+e.ID)
		}
		if len(got) != 2 || got[0] == "rule.update "+old.ID || !strings.HasPrefix(got[0], "rule.update ") || got[1] != "rule.replace "+old.ID {
			t.Fatalf("GET /audit?action=rule.update: %q, want the PUT's rule.update entry, then the old rule.replace one", got)
		}
	})
}
