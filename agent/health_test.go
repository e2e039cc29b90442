package agent_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
)

// TestEveryRuleAnswerCarriesItsLastRunAndHealth: the list, GET, and the
// answers of create, replace, enable and disable carry the rule's last
// run and health, and so does the rule.changed event an edit sends. The
// console puts that event's rule in place of the row it had: without the
// last run in it, a rule just edited showed "never run" until the next
// refresh of the list (the 15 s of issue 18).
func TestEveryRuleAnswerCarriesItsLastRunAndHealth(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		in := api.RuleInput{Name: "h", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "10ms", "steps": "1"}}
		created, err := ta.admin.CreateRule(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if created.LastRun != nil || created.Health.Recent == nil || len(created.Health.Recent) != 0 {
			t.Errorf("a new rule: lastRun %+v, health %+v; want no last run and recent [] (not null)", created.LastRun, created.Health)
		}
		var last api.Run
		for _, fail := range []string{"false", "true", "false"} {
			run, err := ta.admin.TriggerRuleWith(ctx, "h", api.RunParams{Parameters: map[string]string{"fail": fail}})
			if err != nil {
				t.Fatal(err)
			}
			last = ta.waitRun(t, run.ID, api.StatusSucceeded, api.StatusFailed)
		}
		check := func(what string, r api.Rule) {
			t.Helper()
			if r.LastRun == nil || r.LastRun.ID != last.ID {
				t.Errorf("%s: lastRun %+v, want run %s", what, r.LastRun, last.ID)
			}
			h := r.Health
			want := []api.RunStatus{api.StatusSucceeded, api.StatusFailed, api.StatusSucceeded}
			if !slices.Equal(h.Recent, want) || h.LastSuccess == nil || h.LastFailure == nil ||
				h.SuccessRate < 0.66 || h.SuccessRate > 0.67 || h.MedianDuration == "" {
				t.Errorf("%s: health %+v; want recent %v, both last times, rate 2/3 and a median", what, h, want)
			}
			if d, err := time.ParseDuration(h.MedianDuration); err != nil || d <= 0 {
				t.Errorf("%s: median %q is not a positive Go duration (%v)", what, h.MedianDuration, err)
			}
		}
		rules, err := ta.admin.Rules(ctx)
		if err != nil || len(rules) != 1 {
			t.Fatalf("GET /rules: %v %v", rules, err)
		}
		check("GET /rules", rules[0])
		got, err := ta.admin.Rule(ctx, "h")
		if err != nil {
			t.Fatal(err)
		}
		check("GET /rules/h", got)
		off, err := ta.admin.SetRuleEnabled(ctx, "h", false)
		if err != nil {
			t.Fatal(err)
		}
		check("disable", off)
		on, err := ta.admin.SetRuleEnabled(ctx, "h", true)
		if err != nil {
			t.Fatal(err)
		}
		check("enable", on)

		// The edit's event, as a stream opened before it sees it.
		events := make(chan api.Event, 16)
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		base := ta.Events().Subscribers()
		go func() {
			_ = ta.admin.Stream(sctx, "", func(e api.Event) error {
				if e.Type == api.EventRuleChanged {
					events <- e
					return errStop
				}
				return nil
			})
		}()
		for ta.Events().Subscribers() == base {
			if sctx.Err() != nil {
				t.Fatal("the event stream never opened")
			}
			time.Sleep(5 * time.Millisecond)
		}
		in.Description = "edited"
		replaced, err := ta.admin.ReplaceRule(ctx, "h", in)
		if err != nil {
			t.Fatal(err)
		}
		check("PUT /rules/h", replaced)
		select {
		case e := <-events:
			if e.Rule == nil || e.Rule.Description != "edited" {
				t.Fatalf("rule.changed event carries %+v, want the edited rule", e.Rule)
			}
			check("the rule.changed event", *e.Rule)
		case <-sctx.Done():
			t.Fatal("no rule.changed event after the edit")
		}
	})
}
