package agent_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// quick are the demo job's parameters for a run of a few milliseconds.
func quick() map[string]string { return map[string]string{"duration": "10ms", "steps": "1"} }

// chainedRuns are the runs of rule that a chain started, newest first.
func chainedRuns(t *testing.T, c *client.Client, rule string) []api.Run {
	t.Helper()
	page, err := c.Runs(context.Background(), api.RunQuery{Rule: rule, Trigger: api.TriggerChain, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	return page.Items
}

// problemsOf returns "LOCATION: MESSAGE" of each field of a 400.
func problemsOf(err error) []string {
	var out []string
	if e, ok := err.(*client.Error); ok {
		for _, d := range e.Problem.Errors {
			out = append(out, d.Location+": "+d.Message)
		}
	}
	return out
}

// Chains through the API: saved and shown as sent, refused when they
// loop, name no rule or set a parameter the rule's job lacks; a rule
// chained to cannot be deleted; a run's success starts its onSuccess rule
// with the parent's parameter, recorded with trigger chain and its parent.
func TestChainsThroughTheAPI(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		report := api.RuleInput{Name: "report", Job: "demo", Schedule: "rate(1 day)", Parameters: quick()}
		if _, err := ta.admin.CreateRule(ctx, report); err != nil {
			t.Fatal(err)
		}
		chains := api.Chains{
			OnSuccess: []api.ChainStep{{Rule: "report", Parameters: map[string]string{"duration": "${param.duration}"}}},
			OnFailure: []api.ChainStep{{Rule: "report", Parameters: map[string]string{"fail": "true"}}},
		}
		export := api.RuleInput{Name: "export", Job: "demo", Schedule: "rate(1 day)", Parameters: quick(), Chains: chains}
		saved, err := ta.admin.CreateRule(ctx, export)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ta.admin.Rule(ctx, "export")
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(saved.Chains) != fmt.Sprint(chains) || fmt.Sprint(got.Chains) != fmt.Sprint(chains) {
			t.Errorf("chains saved %+v, read back %+v; want %+v", saved.Chains, got.Chains, chains)
		}

		// A loop is refused, naming it.
		report.Chains = api.Chains{OnFinish: []api.ChainStep{{Rule: "export"}}}
		_, err = ta.admin.ReplaceRule(ctx, "report", report)
		wantStatus(t, err, 400, "a chain that loops")
		if p := problemsOf(err); len(p) != 1 || p[0] != "body.onFinish[0].rule: the chain loops: report → export → report" {
			t.Errorf("a loop: problems %q", p)
		}
		// Steps the other rules refuse.
		bad := api.RuleInput{Name: "bad", Job: "demo", Schedule: "rate(1 day)", Chains: api.Chains{OnSuccess: []api.ChainStep{
			{Rule: "nowhere"},
			{Rule: "report", Parameters: map[string]string{"colour": "red", "duration": "soon", "when": "${output.at"}},
		}}}
		_, err = ta.admin.CreateRule(ctx, bad)
		wantStatus(t, err, 400, "steps that do not fit")
		if p, want := problemsOf(err), "body.onSuccess[1].parameters.when: \"${output.at\" is not closed by }"; len(p) != 1 || !strings.HasPrefix(p[0], want) {
			t.Errorf("bad steps: problems %q, want only one starting %q (the rule's own check comes first)", p, want)
		}
		bad.Chains.OnSuccess[1].Parameters["when"] = "${output.at}"
		_, err = ta.admin.CreateRule(ctx, bad)
		wantStatus(t, err, 400, "steps that do not fit")
		p := problemsOf(err)
		for _, want := range []string{
			`body.onSuccess[0].rule: there is no rule "nowhere"`,
			`body.onSuccess[1].parameters.colour: rule "report"'s job "demo" has no parameter "colour"`,
			`body.onSuccess[1].parameters.duration: `,
			`body.onSuccess[1].parameters.when: rule "report"'s job "demo" has no parameter "when"`,
		} {
			if !slicesHasPrefix(p, want) {
				t.Errorf("bad steps: problems %q, want one starting %q", p, want)
			}
		}
		if _, err := ta.admin.Rule(ctx, "bad"); client.StatusOf(err) != 404 {
			t.Errorf("a refused rule was saved: %v", err)
		}

		err = ta.admin.DeleteRule(ctx, "report")
		wantStatus(t, err, 409, "delete a rule chained to")
		wantDetail(t, err, `rule "report" is named in the chains of "export": remove it from them first`)

		parent, err := ta.admin.TriggerRule(ctx, "export", map[string]string{"duration": "20ms"})
		if err != nil {
			t.Fatal(err)
		}
		ta.waitRun(t, parent.ID, api.StatusSucceeded)
		var child api.Run
		wait.For(t, 10*time.Second, func() (bool, string) {
			kids := chainedRuns(t, ta.admin, "report")
			if len(kids) == 1 && kids[0].Status == api.StatusSucceeded {
				child = kids[0]
				return true, ""
			}
			return false, fmt.Sprintf("chained runs of report: %v", runStates(kids))
		})
		if child.ParentRun != parent.ID || child.TriggeredBy != "chain:export" || child.Parameters["duration"] != "20ms" {
			t.Errorf("the chained run: parent %q triggered by %q duration %q; want %s, chain:export, 20ms",
				child.ParentRun, child.TriggeredBy, child.Parameters["duration"], parent.ID)
		}
		// Once the chain is gone, the rule may go.
		export.Chains = api.Chains{}
		if _, err := ta.admin.ReplaceRule(ctx, "export", export); err != nil {
			t.Fatal(err)
		}
		if err := ta.admin.DeleteRule(ctx, "report"); err != nil {
			t.Errorf("delete a rule no chain names: %v", err)
		}
	})
}

func slicesHasPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// A chained run queued when its parent finished (here during maintenance,
// which holds chained runs) is not lost when the agent stops before it
// starts: the next agent on the same database runs it, once.
func TestAChainedRunSurvivesAnAgentRestart(t *testing.T) {
	t.Parallel()
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			dataDir, dbURL := t.TempDir(), ""
			if kind == "postgres" {
				dbURL = pgtest.NewDatabase(t)
			}
			same := func(c *agent.Config) { c.DataDir, c.DatabaseURL = dataDir, dbURL }
			first := startAgent(t, "shared", same)
			if _, err := first.admin.CreateRule(ctx, api.RuleInput{Name: "child", Job: "demo", Schedule: "rate(1 day)", Parameters: quick()}); err != nil {
				t.Fatal(err)
			}
			if _, err := first.admin.CreateRule(ctx, api.RuleInput{Name: "parent", Job: "demo", Schedule: "rate(1 day)",
				Parameters: map[string]string{"duration": "500ms", "steps": "1"},
				Chains:     api.Chains{OnFinish: []api.ChainStep{{Rule: "child"}}}}); err != nil {
				t.Fatal(err)
			}
			parent, err := first.admin.TriggerRule(ctx, "parent", nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := first.admin.SetMaintenance(ctx, api.Maintenance{On: true, Reason: "restart"}); err != nil {
				t.Fatal(err)
			}
			first.waitRun(t, parent.ID, api.StatusSucceeded)
			var kids []api.Run
			wait.For(t, 10*time.Second, func() (bool, string) {
				kids = chainedRuns(t, first.admin, "child")
				return len(kids) == 1, fmt.Sprintf("chained runs %v", runStates(kids))
			})
			if kids[0].Status != api.StatusQueued {
				t.Fatalf("the chained run during maintenance: %s, want queued", kids[0].Status)
			}
			first.stop()

			// Another node name: the first agent's lock in PostgreSQL is
			// freed when its session ends, which the server may see a
			// moment after the agent has stopped.
			second := startAgent(t, "shared", same, func(c *agent.Config) { c.Node = "second-node" })
			if _, err := second.admin.SetMaintenance(ctx, api.Maintenance{On: false}); err != nil {
				t.Fatal(err)
			}
			done := second.waitRun(t, kids[0].ID, api.StatusSucceeded)
			if done.ParentRun != parent.ID {
				t.Errorf("the chained run's parent: %q, want %s", done.ParentRun, parent.ID)
			}
			if n := len(chainedRuns(t, second.admin, "child")); n != 1 {
				t.Errorf("%d chained runs of child after the restart, want 1", n)
			}
		})
	}
}

// Two agents on one PostgreSQL, parents finishing on both, both
// dispatching: each parent's chain makes one run, which runs once.
func TestChainsRunOnceAcrossAgents(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	var agents []*testAgent
	for i := range 2 {
		agents = append(agents, startAgent(t, "shared", func(c *agent.Config) {
			c.DatabaseURL = dbURL
			c.Node = fmt.Sprintf("agent-%d", i)
		}))
	}
	ctx := context.Background()
	if _, err := agents[0].admin.CreateRule(ctx, api.RuleInput{Name: "child", Job: "demo", Schedule: "rate(1 day)", Parameters: quick()}); err != nil {
		t.Fatal(err)
	}
	if _, err := agents[0].admin.CreateRule(ctx, api.RuleInput{Name: "parent", Job: "demo", Schedule: "rate(1 day)", Parameters: quick(),
		Chains: api.Chains{OnSuccess: []api.ChainStep{{Rule: "child"}}}}); err != nil {
		t.Fatal(err)
	}
	const n = 6
	var (
		mu      sync.Mutex
		parents = map[string]bool{}
		wg      sync.WaitGroup
	)
	for i := range n {
		wg.Go(func() {
			r, err := agents[i%2].admin.TriggerRule(ctx, "parent", nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			parents[r.ID] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	var kids []api.Run
	wait.For(t, 15*time.Second, func() (bool, string) {
		kids = chainedRuns(t, agents[1].admin, "child")
		done := 0
		for _, k := range kids {
			if k.Status == api.StatusSucceeded {
				done++
			}
		}
		return done == n, fmt.Sprintf("chained runs %v, want %d succeeded", runStates(kids), n)
	})
	// Both agents claim every ClaimInterval: none claims a run twice.
	time.Sleep(4 * time.Second)
	kids = chainedRuns(t, agents[0].admin, "child")
	seen := map[string]bool{}
	for _, k := range kids {
		if !parents[k.ParentRun] || seen[k.ParentRun] || k.Status != api.StatusSucceeded {
			t.Errorf("chained run %s: parent %q (seen before: %v), %s", k.ID, k.ParentRun, seen[k.ParentRun], k.Status)
		}
		seen[k.ParentRun] = true
	}
	if len(kids) != n {
		t.Errorf("%d chained runs for %d parents, want one each", len(kids), n)
	}
}
