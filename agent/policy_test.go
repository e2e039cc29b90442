package agent_test

import (
	"reflect"
	"slices"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
)

// A rule's run policy goes through the API and the store whole, on both
// stores, and a bad one is a 400 naming each field at fault.
func TestRulePolicyThroughTheAPI(t *testing.T) {
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := t.Context()
		policy := api.RunPolicy{
			Retry:   &api.RetryPolicy{Attempts: 2, Backoff: "10s", MaxBackoff: "1m", Jitter: 0.2},
			CatchUp: api.CatchUpLatest, CatchUpWindow: "2h", MaxLateness: "10m", WarnAfter: "5m",
		}
		in := api.RuleInput{Name: "reliable", Job: "demo", Schedule: "rate(1 hour)", Overlap: api.OverlapQueue, RunPolicy: policy}
		created, err := ta.admin.CreateRule(ctx, in)
		if err != nil {
			t.Fatalf("create rule with a run policy: %v", err)
		}
		got, err := ta.admin.Rule(ctx, "reliable")
		if err != nil {
			t.Fatal(err)
		}
		for what, r := range map[string]api.Rule{"create's answer": created, "GET": got} {
			if !reflect.DeepEqual(r.RunPolicy, policy) || r.Overlap != api.OverlapQueue {
				t.Errorf("%s: policy %+v (retry %+v), overlap %q; want %+v (retry %+v), queue",
					what, r.RunPolicy, r.RunPolicy.Retry, r.Overlap, policy, policy.Retry)
			}
		}

		bad := in
		bad.Name = "bad"
		bad.Overlap = "sometimes"
		bad.RunPolicy = api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 0}, CatchUp: "most", WarnAfter: "soon"}
		_, err = ta.admin.CreateRule(ctx, bad)
		wantStatus(t, err, 400, "create rule with a bad run policy")
		locs := problemLocations(err)
		for _, want := range []string{"body.overlap", "body.retry.attempts", "body.catchUp", "body.warnAfter"} {
			if !slices.Contains(locs, want) {
				t.Errorf("bad run policy: problems at %v, want %s among them", locs, want)
			}
		}
		if _, err := ta.admin.Rule(ctx, "bad"); err == nil {
			t.Errorf("a refused rule was stored")
		}
	})
}
