package service

import (
	"context"
	"fmt"
	"reflect"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// paramJob is a job that only declares parameters.
type paramJob struct {
	id     string
	params []jobs.Param
}

func (j paramJob) ID() string                             { return j.id }
func (j paramJob) Description() string                    { return "takes parameters" }
func (j paramJob) Params() []jobs.Param                   { return j.params }
func (j paramJob) Run(context.Context, jobs.Params) error { return nil }

func chainJobs(t *testing.T) *jobs.Registry {
	t.Helper()
	reg := jobs.NewRegistry()
	err := reg.Register(
		paramJob{id: "export", params: []jobs.Param{{Name: "day"}, {Name: "token", Secret: true}}},
		paramJob{id: "report", params: []jobs.Param{{Name: "file"}, {Name: "count", Type: jobs.TypeInt}, {Name: "password", Secret: true}}},
	)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// rules builds a set of rules of job "report" from "name: target, ..."
// onSuccess steps without parameters.
func chainRules(edges map[string][]string) map[string]store.Rule {
	all := map[string]store.Rule{}
	for name, targets := range edges {
		r := store.Rule{Name: name, Job: "report"}
		for _, t := range targets {
			r.Chains.OnSuccess = append(r.Chains.OnSuccess, api.ChainStep{Rule: t})
		}
		all[name] = r
	}
	return all
}

// line is a chain of n+1 rules r0 → r1 → ... → rn.
func line(n int) map[string][]string {
	edges := map[string][]string{}
	for i := range n {
		edges[fmt.Sprintf("r%02d", i)] = []string{fmt.Sprintf("r%02d", i+1)}
	}
	edges[fmt.Sprintf("r%02d", n)] = nil
	return edges
}

// fan is rules f0 … f<levels>, each but the last with steps steps to the
// next: one run of f0 may start steps + steps² + … runs.
func fan(levels, steps int) map[string][]string {
	out := map[string][]string{}
	for i := 0; i < levels; i++ {
		for range steps {
			out[fmt.Sprintf("f%d", i)] = append(out[fmt.Sprintf("f%d", i)], fmt.Sprintf("f%d", i+1))
		}
	}
	out[fmt.Sprintf("f%d", levels)] = nil
	return out
}

func TestChainProblems(t *testing.T) {
	reg := chainJobs(t)
	withStep := func(all map[string]store.Rule, rule string, step api.ChainStep) map[string]store.Rule {
		r := all[rule]
		r.Chains.OnFailure = append(r.Chains.OnFailure, step)
		all[rule] = r
		return all
	}
	deep := func(n int) string {
		s := "r00"
		for i := 1; i <= n; i++ {
			s += fmt.Sprintf(" → r%02d", i)
		}
		return s
	}
	for _, c := range []struct {
		name    string
		all     map[string]store.Rule
		changed []string
		want    []chainProblem
	}{
		{"no chains", chainRules(map[string][]string{"a": nil, "b": nil}), []string{"a"}, nil},
		{"a step to an existing rule", chainRules(map[string][]string{"a": {"b"}, "b": nil}), []string{"a"}, nil},
		{"a step to no rule", chainRules(map[string][]string{"a": {"nope"}}), []string{"a"},
			[]chainProblem{{"a", "onSuccess[0].rule", `there is no rule "nope"`}}},
		{"a rule chaining to itself", chainRules(map[string][]string{"a": {"a"}}), []string{"a"},
			[]chainProblem{{"a", "onSuccess[0].rule", "the chain loops: a → a"}}},
		{"a loop through two rules", chainRules(map[string][]string{"a": {"b"}, "b": {"a"}}), []string{"b"},
			[]chainProblem{{"b", "onSuccess[0].rule", "the chain loops: b → a → b"}}},
		{"a loop through three, found through the second step", chainRules(map[string][]string{"a": {"x", "b"}, "b": {"c"}, "c": {"a"}, "x": nil}), []string{"a"},
			[]chainProblem{{"a", "onSuccess[1].rule", "the chain loops: a → b → c → a"}}},
		{"a diamond is no loop", chainRules(map[string][]string{"a": {"b", "c"}, "b": {"d"}, "c": {"d"}, "d": nil}), nil, nil},
		{"a loop elsewhere is not the change's", chainRules(map[string][]string{"a": {"b"}, "b": {"a"}, "c": nil}), []string{"c"}, nil},
		{"a chain as deep as allowed", chainRules(line(api.MaxChainDepth)), []string{"r00"}, nil},
		{"one step deeper, added at the start", chainRules(line(api.MaxChainDepth + 1)), []string{"r00"},
			[]chainProblem{{"r00", "onSuccess[0].rule", fmt.Sprintf("the chain %s is 11 chained runs long, more than the 10 a chain may be", deep(11))}}},
		{"one step deeper, added at the end", chainRules(line(api.MaxChainDepth + 1)), []string{"r11"},
			[]chainProblem{{"r11", "name", fmt.Sprintf("the chain %s is 11 chained runs long, more than the 10 a chain may be", deep(11))}}},
		{"one step deeper, added in the middle", chainRules(line(api.MaxChainDepth + 1)), []string{"r05"},
			[]chainProblem{{"r05", "onSuccess[0].rule", fmt.Sprintf("the chain %s is 11 chained runs long, more than the 10 a chain may be", deep(11))}}},
		{"a fan-out within the bound", chainRules(fan(3, 10)), []string{"f3"}, nil},
		{"a fan-out past the bound, found from a rule it reaches", chainRules(fan(4, 10)), []string{"f3"},
			[]chainProblem{{"f0", "onSuccess[0].rule", `one run of "f0" may start more than 1000 chained runs, through its steps and theirs`},
				{"f1", "onSuccess[0].rule", `one run of "f1" may start more than 1000 chained runs, through its steps and theirs`}}},
		{"a change that adds no step is not refused for a fan-out stored before", chainRules(fan(4, 10)), []string{"f4"}, nil},
		{"a parameter the target's job takes", withStep(chainRules(map[string][]string{"a": nil, "b": nil}), "a",
			api.ChainStep{Rule: "b", Parameters: map[string]string{"file": "x.csv", "count": "3"}}), []string{"a"}, nil},
		{"a parameter the target's job lacks", withStep(chainRules(map[string][]string{"a": nil, "b": nil}), "a",
			api.ChainStep{Rule: "b", Parameters: map[string]string{"colour": "red"}}), []string{"a"},
			[]chainProblem{{"a", "onFailure[0].parameters.colour", `rule "b"'s job "report" has no parameter "colour" (it takes file, count, password)`}}},
		{"a secret parameter of the target", withStep(chainRules(map[string][]string{"a": nil, "b": nil}), "a",
			api.ChainStep{Rule: "b", Parameters: map[string]string{"password": "hunter2"}}), []string{"a"},
			[]chainProblem{{"a", "onFailure[0].parameters.password", `parameter "password" of rule "b" is secret, and a chain never carries secrets: the rule's own value is used`}}},
		{"a value the target's job refuses", withStep(chainRules(map[string][]string{"a": nil, "b": nil}), "a",
			api.ChainStep{Rule: "b", Parameters: map[string]string{"count": "many"}}), []string{"a"},
			[]chainProblem{{"a", "onFailure[0].parameters.count", `"many" is not an integer`}}},
		{"a value with a reference is checked when the run is made", withStep(chainRules(map[string][]string{"a": nil, "b": nil}), "a",
			api.ChainStep{Rule: "b", Parameters: map[string]string{"count": "${output.count}"}}), []string{"a"}, nil},
		{"a step to the changed rule is checked against its job", func() map[string]store.Rule {
			all := withStep(chainRules(map[string][]string{"a": nil, "b": nil}), "a",
				api.ChainStep{Rule: "b", Parameters: map[string]string{"file": "x"}})
			b := all["b"]
			b.Job = "export" // b's new job takes no file
			all["b"] = b
			return all
		}(), []string{"b"},
			[]chainProblem{{"a", "onFailure[0].parameters.file", `rule "b"'s job "export" has no parameter "file" (it takes day, token)`}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := chainProblems(reg, c.all, c.changed...)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("chainProblems =\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}

func TestChainReferencesAreCheckedWithTheRule(t *testing.T) {
	reg := chainJobs(t)
	export, _ := reg.Get("export")
	for _, c := range []struct {
		value string
		want  string // "" for none
	}{
		{"${output.file}", ""},
		{"${param.day}.csv", ""},
		{"$${param.token}", ""}, // a literal, not a reference
		{"${param.token}", `"${param.token}": parameter "token" is secret, and a chain never carries secrets`},
		{"${param.colour}", `"${param.colour}": this rule's job "export" has no parameter "colour" (it takes day, token)`},
		{"${foo}", `"${foo}" is not a reference a chain knows: write ${output.NAME} or ${param.NAME} (or $${ for a literal ${)`},
		{"${output.file", `"${output.file" is not closed by }`},
	} {
		verr := &ValidationError{}
		chainsFromInput(api.Chains{OnFinish: []api.ChainStep{{Rule: "report", Parameters: map[string]string{"file": c.value}}}}, export, verr)
		var got string
		if len(verr.Fields) > 0 {
			if loc := verr.Fields[0].Location; loc != "body.onFinish[0].parameters.file" {
				t.Errorf("%q: located at %s", c.value, loc)
			}
			got = verr.Fields[0].Message
		}
		if len(verr.Fields) > 1 || (c.want == "") != (got == "") || (c.want != "" && !startsWith(got, c.want)) {
			t.Errorf("value %q: problems %v, want %q", c.value, verr.Fields, c.want)
		}
	}
	verr := &ValidationError{}
	chainsFromInput(api.Chains{OnSuccess: []api.ChainStep{{Rule: ""}, {Rule: "a b"}}}, export, verr)
	want := []api.ErrorDetail{
		{Location: "body.onSuccess[0].rule", Message: api.ErrRuleNameRequired.Error()},
		{Location: "body.onSuccess[1].rule", Message: api.ValidRuleName("a b").Error()},
	}
	if !reflect.DeepEqual(verr.Fields, want) {
		t.Errorf("bad step names: %v, want %v", verr.Fields, want)
	}

	// A list of more steps than a chain may have.
	verr = &ValidationError{}
	many := make([]api.ChainStep, api.MaxChainSteps+1)
	for i := range many {
		many[i] = api.ChainStep{Rule: "report"}
	}
	chainsFromInput(api.Chains{OnFailure: many[:api.MaxChainSteps], OnFinish: many}, export, verr)
	want = []api.ErrorDetail{{Location: "body.onFinish", Message: "has 21 steps, at most 20"}}
	if !reflect.DeepEqual(verr.Fields, want) {
		t.Errorf("too many steps: %v, want %v", verr.Fields, want)
	}
}

func startsWith(s, prefix string) bool { return len(s) >= len(prefix) && s[:len(prefix)] == prefix }

func TestChainedToNamesTheRulesThatChainToARule(t *testing.T) {
	rules := []store.Rule{
		{Name: "a", Chains: api.Chains{OnSuccess: []api.ChainStep{{Rule: "c"}}}},
		{Name: "b", Chains: api.Chains{OnFinish: []api.ChainStep{{Rule: "x"}, {Rule: "c"}}}},
		{Name: "c", Chains: api.Chains{OnFailure: []api.ChainStep{{Rule: "c"}}}},
	}
	if got := chainedTo(rules, "c"); !reflect.DeepEqual(got, []string{"a", "b"}) {
		t.Errorf("chainedTo c = %v, want [a b]", got)
	}
	if got := chainedTo(rules, "a"); got != nil {
		t.Errorf("chainedTo a = %v, want none", got)
	}
}
