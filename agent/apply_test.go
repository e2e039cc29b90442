package agent_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
)

// changesOf is a plan's entries as "action rule", in the plan's order.
func changesOf(p api.RulesPlan) []string {
	out := make([]string, len(p.Changes))
	for i, c := range p.Changes {
		out[i] = c.Action + " " + c.Rule
	}
	return out
}

func auditCount(t *testing.T, ta *testAgent) int {
	t.Helper()
	page, err := ta.admin.Audit(context.Background(), 500, "")
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Items)
}

func TestApplyRulesPlansAppliesAndIsIdempotent(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "old", Job: "demo", Schedule: "rate(1 day)"}); err != nil {
			t.Fatal(err)
		}
		off := false
		set := []api.RuleInput{
			{Name: "nightly", Job: "secretive", Schedule: "cron(0 2 * * ? *)", Timezone: "Europe/Paris",
				Parameters: map[string]string{"password": "hunter2", "count": "3"}, Enabled: &off,
				RunPolicy: api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 2}}},
			{Name: "hourly", Job: "demo", Schedule: "rate(1 hour)", Description: "a demo", Timeout: "30m"},
		}

		// A dry run answers the plan and changes nothing.
		before := auditCount(t, ta)
		plan, err := ta.admin.ApplyRules(ctx, api.RulesApply{Rules: set, DryRun: true})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := changesOf(plan), []string{"create hourly", "create nightly", "kept old"}; !slices.Equal(got, want) ||
			plan.Applied || plan.Create != 2 || plan.Update != 0 || plan.Delete != 0 || plan.Unchanged != 0 {
			t.Errorf("dry run plan = %v %+v, want %v, not applied", got, plan, want)
		}
		if rules, _ := ta.admin.Rules(ctx); len(rules) != 1 {
			t.Errorf("a dry run stored rules: %d, want 1", len(rules))
		}
		if n := auditCount(t, ta); n != before {
			t.Errorf("a dry run wrote %d audit entries", n-before)
		}

		// Applied: the rules are there, as given, each audited once, and
		// the whole once more.
		plan, err = ta.admin.ApplyRules(ctx, api.RulesApply{Rules: set})
		if err != nil {
			t.Fatal(err)
		}
		if !plan.Applied || plan.Create != 2 {
			t.Errorf("apply = %+v, want applied, 2 created", plan)
		}
		n := auditCount(t, ta)
		if n != before+3 {
			t.Errorf("apply wrote %d audit entries, want 3 (two creates, rules.apply)", n-before)
		}
		page, _ := ta.admin.Audit(ctx, 1, "")
		if len(page.Items) != 1 || page.Items[0].Action != "rules.apply" || page.Items[0].Detail != "2 created, 0 updated, 0 deleted, 0 unchanged" {
			t.Errorf("last audit entry = %+v, want rules.apply with the counts", page.Items)
		}
		nightly, err := ta.admin.Rule(ctx, "nightly")
		if err != nil {
			t.Fatal(err)
		}
		if nightly.Enabled || nightly.Timezone != "Europe/Paris" || nightly.Parameters["password"] != api.MaskedValue ||
			nightly.Retry == nil || nightly.Retry.Attempts != 2 {
			t.Errorf("nightly = %+v", nightly)
		}

		// The same set again changes nothing, not even a time; a secret
		// sent back masked keeps its value.
		again := slices.Clone(set)
		again[0].Parameters = map[string]string{"password": api.MaskedValue, "count": "3"}
		plan, err = ta.admin.ApplyRules(ctx, api.RulesApply{Rules: again})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := changesOf(plan), []string{"unchanged hourly", "unchanged nightly", "kept old"}; !slices.Equal(got, want) || plan.Applied || plan.Unchanged != 2 {
			t.Errorf("second apply = %v %+v, want %v, not applied", got, plan, want)
		}
		if got := auditCount(t, ta); got != n {
			t.Errorf("a second apply wrote %d audit entries", got-n)
		}
		if r, _ := ta.admin.Rule(ctx, "nightly"); !r.UpdatedAt.Equal(nightly.UpdatedAt) {
			t.Errorf("a second apply moved UpdatedAt from %v to %v", nightly.UpdatedAt, r.UpdatedAt)
		}

		// An update lists its fields, secrets without values; prune
		// deletes what the set lacks.
		changed := slices.Clone(set)
		changed[0].Schedule = "cron(0 3 * * ? *)"
		changed[0].Parameters = map[string]string{"password": "swordfish", "count": "3"}
		plan, err = ta.admin.ApplyRules(ctx, api.RulesApply{Rules: changed, Prune: true})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := changesOf(plan), []string{"unchanged hourly", "update nightly", "delete old"}; !slices.Equal(got, want) || !plan.Applied {
			t.Fatalf("prune apply = %v, want %v", got, want)
		}
		wantFields := []api.FieldChange{
			{Field: "schedule", From: "cron(0 2 * * ? *)", To: "cron(0 3 * * ? *)"},
			{Field: "parameters.password", From: api.MaskedValue, To: api.MaskedValue},
		}
		if got := plan.Changes[1].Fields; !slices.Equal(got, wantFields) {
			t.Errorf("update fields = %+v, want %+v", got, wantFields)
		}
		_, err = ta.admin.Rule(ctx, "old")
		wantStatus(t, err, http.StatusNotFound, "old after prune")
		if r, _ := ta.admin.Rule(ctx, "nightly"); r.Schedule != "cron(0 3 * * ? *)" {
			t.Errorf("nightly's schedule = %q after the update", r.Schedule)
		}
		// The new secret reached the store: a run gets it.
		run, err := ta.admin.TriggerRule(ctx, "nightly", nil)
		if err != nil {
			t.Fatal(err)
		}
		ta.waitRun(t, run.ID, api.StatusSucceeded)
		if got := ta.secret.last()["password"]; got != "swordfish" {
			t.Errorf("the job got password %q, want the applied one", got)
		}
	})
}

func TestApplyRulesRefusesABadSetWhole(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		before := auditCount(t, ta)
		_, err := ta.admin.ApplyRules(ctx, api.RulesApply{Rules: []api.RuleInput{
			{Name: "good", Job: "demo", Schedule: "rate(1 hour)"},
			{Job: "demo", Schedule: "rate(1 hour)"},
			{Name: "bad", Job: "demo", Schedule: "cron(0 0 * * * *)", Timeout: "soon"},
			{Name: "good", Job: "demo", Schedule: "rate(2 hours)"},
			{Name: "nojob", Job: "nope", Schedule: "rate(1 hour)"},
			{Name: "secret", Job: "secretive", Schedule: "rate(1 hour)", Parameters: map[string]string{"count": "many"}},
		}})
		wantStatus(t, err, http.StatusBadRequest, "bad set")
		locs := problemLocations(err)
		want := []string{"body.rules[1].name", "body.rules[2].schedule", "body.rules[2].timeout", "body.rules[3].name",
			"body.rules[4].job", "body.rules[5].parameters.password", "body.rules[5].parameters.count"}
		for _, w := range want {
			if !contains(locs, w) {
				t.Errorf("problems at %v, missing %s (%v)", locs, w, err)
			}
		}
		if len(locs) != len(want) {
			t.Errorf("problems at %v, want exactly %v", locs, want)
		}
		if !strings.Contains(err.Error(), `"good" is given twice (first as rules[0])`) {
			t.Errorf("duplicate name message: %v", err)
		}
		if rules, _ := ta.admin.Rules(ctx); len(rules) != 0 {
			t.Errorf("a refused set stored %d rules", len(rules))
		}
		if n := auditCount(t, ta); n != before {
			t.Errorf("a refused set wrote %d audit entries", n-before)
		}
		// An empty set with prune is a set too: it deletes everything.
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "x", Job: "demo", Schedule: "rate(1 hour)"}); err != nil {
			t.Fatal(err)
		}
		plan, err := ta.admin.ApplyRules(ctx, api.RulesApply{Prune: true})
		if err != nil || !slices.Equal(changesOf(plan), []string{"delete x"}) || !plan.Applied {
			t.Errorf("empty set with prune = %+v, %v; want x deleted", plan, err)
		}
	})
}

func TestApplyRulesNeedsAdmin(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	ctx := context.Background()
	set := api.RulesApply{Rules: []api.RuleInput{{Name: "r", Job: "demo", Schedule: "rate(1 hour)"}}, DryRun: true}
	for _, role := range []string{api.RoleViewer, api.RoleOperator} {
		_, err := ta.tokenClient(t, role+"-token", role).ApplyRules(ctx, set)
		wantStatus(t, err, http.StatusForbidden, role+" applying rules")
		set.DryRun = false
		_, err = ta.tokenClient(t, role+"-token2", role).ApplyRules(ctx, set)
		wantStatus(t, err, http.StatusForbidden, role+" applying rules for real")
		set.DryRun = true
	}
	if rules, _ := ta.admin.Rules(ctx); len(rules) != 0 {
		t.Errorf("a refused apply stored %d rules", len(rules))
	}
}

// A set's chains are checked as a whole: a rule may chain to one the same
// set creates, a loop across the set is refused where it is declared, and
// a prune deletes a rule and the rule it chains to, whatever their names'
// order.
func TestApplyRulesChecksTheSetsChains(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		step := func(rule string) []api.ChainStep { return []api.ChainStep{{Rule: rule}} }
		set := []api.RuleInput{
			{Name: "b-report", Job: "demo", Schedule: "rate(1 day)"},
			{Name: "z-nightly", Job: "demo", Schedule: "rate(1 day)", Chains: api.Chains{OnSuccess: step("b-report")}},
		}
		plan, err := ta.admin.ApplyRules(ctx, api.RulesApply{Rules: set})
		if err != nil || !slices.Equal(changesOf(plan), []string{"create b-report", "create z-nightly"}) {
			t.Fatalf("apply a chain to a rule of the set = %v, %v", changesOf(plan), err)
		}
		got, err := ta.admin.Rule(ctx, "z-nightly")
		if err != nil || len(got.OnSuccess) != 1 || got.OnSuccess[0].Rule != "b-report" {
			t.Fatalf("z-nightly = %+v, %v; want its chain to b-report", got.Chains, err)
		}

		// A loop through the set, and a step to a rule nobody has.
		loop := []api.RuleInput{
			{Name: "b-report", Job: "demo", Schedule: "rate(1 day)", Chains: api.Chains{OnFinish: step("z-nightly")}},
			set[1],
			{Name: "c-lonely", Job: "demo", Schedule: "rate(1 day)", Chains: api.Chains{OnFailure: step("nobody")}},
		}
		_, err = ta.admin.ApplyRules(ctx, api.RulesApply{Rules: loop})
		wantStatus(t, err, http.StatusBadRequest, "a loop in the set")
		locs := problemLocations(err)
		for _, w := range []string{"body.rules[0].onFinish[0].rule", "body.rules[2].onFailure[0].rule"} {
			if !contains(locs, w) {
				t.Errorf("problems at %v, missing %s (%v)", locs, w, err)
			}
		}
		if !strings.Contains(err.Error(), "→") {
			t.Errorf("the loop is not named: %v", err)
		}
		if r, _ := ta.admin.Rule(ctx, "b-report"); len(r.OnFinish) != 0 {
			t.Errorf("a refused set changed b-report: %+v", r.Chains)
		}

		// Pruning both: z-nightly (which chains to b-report) goes first,
		// though b-report sorts before it.
		plan, err = ta.admin.ApplyRules(ctx, api.RulesApply{Prune: true})
		if err != nil || plan.Delete != 2 {
			t.Fatalf("prune both = %v, %v", changesOf(plan), err)
		}
		if rules, _ := ta.admin.Rules(ctx); len(rules) != 0 {
			t.Errorf("%d rules left after the prune", len(rules))
		}
	})
}
