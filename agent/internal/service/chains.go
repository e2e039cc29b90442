package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jobbridge/jobbridge/agent/internal/chainref"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// A rule's chains (api.Chains) are checked in two parts. chainsFromInput
// checks what the rule alone decides: the steps' rule names and the
// references in their values, which take this rule's runs' output and
// parameters. chainProblems checks what depends on the other rules: that
// each target exists and takes the step's parameters, and that the chains
// neither loop nor go deeper than api.MaxChainDepth.

// chainLists are a rule's chain lists with their JSON names, in the
// order they are checked and shown.
func chainLists(c api.Chains) []struct {
	field string
	steps []api.ChainStep
} {
	return []struct {
		field string
		steps []api.ChainStep
	}{{"onSuccess", c.OnSuccess}, {"onFailure", c.OnFailure}, {"onFinish", c.OnFinish}}
}

// chainsFromInput checks the steps of in against the rule's own job (nil
// when the agent lacks it) and returns them as stored.
func chainsFromInput(in api.Chains, job jobs.Job, verr *ValidationError) api.Chains {
	var params map[string]jobs.Param
	if job != nil {
		params = make(map[string]jobs.Param)
		for _, p := range job.Params() {
			params[p.Name] = p
		}
	}
	for _, l := range chainLists(in) {
		if len(l.steps) > api.MaxChainSteps {
			verr.add("body."+l.field, "has %d steps, at most %d", len(l.steps), api.MaxChainSteps)
		}
		for i, step := range l.steps {
			loc := fmt.Sprintf("body.%s[%d]", l.field, i)
			if err := api.ValidRuleName(step.Rule); err != nil {
				verr.add(loc+".rule", "%s", err)
			}
			for _, name := range slices.Sorted(maps.Keys(step.Parameters)) {
				refs, err := chainref.Parse(step.Parameters[name])
				if err != nil {
					verr.add(loc+".parameters."+name, "%s", err)
					continue
				}
				for _, ref := range refs {
					if ref.Kind != chainref.Param || params == nil {
						continue
					}
					p, ok := params[ref.Name]
					switch {
					case !ok:
						verr.add(loc+".parameters."+name, "%q: this rule's job %q has no parameter %q (it takes %s)", ref.String(), job.ID(), ref.Name, jobs.ParamNames(job.Params()))
					case p.Secret:
						verr.add(loc+".parameters."+name, "%q: parameter %q is secret, and a chain never carries secrets", ref.String(), ref.Name)
					}
				}
			}
		}
	}
	out := api.Chains{OnSuccess: slices.Clone(in.OnSuccess), OnFailure: slices.Clone(in.OnFailure), OnFinish: slices.Clone(in.OnFinish)}
	return out
}

// chainProblem is what is wrong with one of a rule's chains given the
// other rules. Field is the step's JSON location in the rule
// ("onSuccess[0].rule", "onFailure[1].parameters.day"), or "name" for a
// rule that chains reach too deep.
type chainProblem struct {
	Rule, Field, Reason string
}

// chainProblems checks the chains of the rules in all, the whole set of
// rules as it is to be after a change, as far as they depend on each
// other: a step whose rule does not exist; a step parameter its rule's job
// does not take, takes as secret (a chain never carries secrets), or
// refuses (values with references are checked when the run is made); a
// chain that loops back to where it began (named: "a → b → a"); and one
// longer than api.MaxChainDepth along any path. reg gives the rules' jobs.
//
// changed names the rules the change makes or replaces: only problems they
// take part in are reported (their own steps, the steps that reach them,
// the loops and long paths through them), so a change is not refused for
// what was stored before it. No name checks every rule. It reads nothing
// but its arguments, and returns the problems by rule, then field.
func chainProblems(reg *jobs.Registry, all map[string]store.Rule, changed ...string) []chainProblem {
	watch := make(map[string]bool, len(changed))
	for _, n := range changed {
		watch[n] = true
	}
	involved := func(names ...string) bool {
		if len(changed) == 0 {
			return true
		}
		for _, n := range names {
			if watch[n] {
				return true
			}
		}
		return false
	}
	g := newChainGraph(all)
	var out []chainProblem
	for _, name := range g.names {
		rule := all[name]
		for _, l := range chainLists(rule.Chains) {
			for i, step := range l.steps {
				if !involved(name, step.Rule) {
					continue
				}
				field := fmt.Sprintf("%s[%d]", l.field, i)
				out = append(out, stepProblems(reg, all, name, field, step)...)
			}
		}
	}
	for _, name := range g.names {
		if !involved(name) {
			continue
		}
		if loop := g.loopFrom(name); loop != nil {
			out = append(out, chainProblem{Rule: name, Field: g.stepField(name, loop[1]) + ".rule",
				Reason: "the chain loops: " + strings.Join(loop, " → ")})
			continue
		}
		if path := g.longestThrough(name); len(path)-1 > api.MaxChainDepth {
			field := "name"
			if i := slices.Index(path, name); i < len(path)-1 {
				field = g.stepField(name, path[i+1]) + ".rule"
			}
			out = append(out, chainProblem{Rule: name, Field: field,
				Reason: fmt.Sprintf("the chain %s is %d chained runs long, more than the %d a chain may be", strings.Join(path, " → "), len(path)-1, api.MaxChainDepth)})
		}
	}
	// A run's chains may fan out: bound the runs one run may start, for
	// the rules the change touches and those whose chains reach them.
	// (A changed rule without steps adds no run to anyone's.)
	var adding []string
	for _, n := range changed {
		if firstStepField(all[n].Chains) != "" {
			adding = append(adding, n)
		}
	}
	reach := g.upstream(adding)
	counts := make(map[string]int)
	for _, name := range g.names {
		if len(changed) > 0 && !reach[name] {
			continue
		}
		if n := chainRuns(all, name, counts, map[string]bool{}); n > api.MaxChainRuns {
			field := "name"
			if f := firstStepField(all[name].Chains); f != "" {
				field = f + ".rule"
			}
			out = append(out, chainProblem{Rule: name, Field: field,
				Reason: fmt.Sprintf("one run of %q may start more than %d chained runs, through its steps and theirs", name, api.MaxChainRuns)})
		}
	}
	slices.SortStableFunc(out, func(a, b chainProblem) int { return strings.Compare(a.Rule, b.Rule) })
	return out
}

// chainRuns is how many chained runs one run of name may start at most,
// through every step of its chains and theirs (as if each list fired),
// counted in memo; a step back to a rule on the path (on) is left out, as
// loops are refused on their own. It stops counting past MaxChainRuns.
func chainRuns(all map[string]store.Rule, name string, memo map[string]int, on map[string]bool) int {
	if n, ok := memo[name]; ok {
		return n
	}
	on[name] = true
	total := 0
	for _, l := range chainLists(all[name].Chains) {
		for _, step := range l.steps {
			if _, ok := all[step.Rule]; !ok || on[step.Rule] {
				continue
			}
			total += 1 + chainRuns(all, step.Rule, memo, on)
			total = min(total, api.MaxChainRuns+1)
		}
	}
	delete(on, name)
	memo[name] = total
	return total
}

// firstStepField is the location of a rule's first chain step.
func firstStepField(c api.Chains) string {
	for _, l := range chainLists(c) {
		if len(l.steps) > 0 {
			return l.field + "[0]"
		}
	}
	return ""
}

// upstream is the rules whose chains reach one of names, names included.
func (g *chainGraph) upstream(names []string) map[string]bool {
	seen := make(map[string]bool)
	queue := slices.Clone(names)
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		if seen[n] {
			continue
		}
		seen[n] = true
		queue = append(queue, g.prev[n]...)
	}
	return seen
}

// stepProblems checks one step of rule's chains against its target.
func stepProblems(reg *jobs.Registry, all map[string]store.Rule, rule, field string, step api.ChainStep) []chainProblem {
	target, ok := all[step.Rule]
	if !ok {
		return []chainProblem{{rule, field + ".rule", fmt.Sprintf("there is no rule %q", step.Rule)}}
	}
	job, ok := reg.Get(target.Job)
	if !ok {
		return nil // the target's own check says its job is unknown
	}
	declared := make(map[string]jobs.Param)
	for _, p := range job.Params() {
		declared[p.Name] = p
	}
	var out []chainProblem
	values := maps.Clone(target.Parameters)
	if values == nil {
		values = map[string]string{}
	}
	mine := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(step.Parameters)) {
		loc := field + ".parameters." + name
		p, ok := declared[name]
		switch {
		case !ok:
			out = append(out, chainProblem{rule, loc, fmt.Sprintf("rule %q's job %q has no parameter %q (it takes %s)", step.Rule, job.ID(), name, jobs.ParamNames(job.Params()))})
			continue
		case p.Secret:
			out = append(out, chainProblem{rule, loc, fmt.Sprintf("parameter %q of rule %q is secret, and a chain never carries secrets: the rule's own value is used", name, step.Rule)})
			continue
		}
		if refs, err := chainref.Parse(step.Parameters[name]); err != nil || len(refs) > 0 {
			continue // checked by chainsFromInput; the value is known when the run is made
		}
		values[name] = step.Parameters[name]
		mine[name] = true
	}
	if _, err := jobs.Resolve(job, values); err != nil {
		var perr *jobs.ValidationError
		if errors.As(err, &perr) {
			for _, f := range perr.Fields {
				if mine[f.Param] {
					out = append(out, chainProblem{rule, field + ".parameters." + f.Param, f.Reason})
				}
			}
		}
	}
	return out
}

// chainGraph is the rules as nodes, a step from one to another as an edge.
type chainGraph struct {
	names []string            // every rule, sorted
	next  map[string][]string // targets, in the order of the steps, once each
	prev  map[string][]string // rules with a step to it
	field map[[2]string]string
}

func newChainGraph(all map[string]store.Rule) *chainGraph {
	g := &chainGraph{names: slices.Sorted(maps.Keys(all)), next: map[string][]string{}, prev: map[string][]string{}, field: map[[2]string]string{}}
	for _, name := range g.names {
		for _, l := range chainLists(all[name].Chains) {
			for i, step := range l.steps {
				edge := [2]string{name, step.Rule}
				if _, seen := g.field[edge]; seen {
					continue
				}
				g.field[edge] = fmt.Sprintf("%s[%d]", l.field, i)
				if _, ok := all[step.Rule]; ok {
					g.next[name] = append(g.next[name], step.Rule)
					g.prev[step.Rule] = append(g.prev[step.Rule], name)
				}
			}
		}
	}
	return g
}

// stepField is the location of rule's first step to target.
func (g *chainGraph) stepField(rule, target string) string { return g.field[[2]string{rule, target}] }

// loopFrom returns a path of steps from start back to start ([start, ...,
// start]), nil when there is none.
func (g *chainGraph) loopFrom(start string) []string {
	seen := map[string]bool{}
	var path []string
	var visit func(n string) bool
	visit = func(n string) bool {
		path = append(path, n)
		for _, m := range g.next[n] {
			if m == start {
				path = append(path, m)
				return true
			}
			if !seen[m] {
				seen[m] = true
				if visit(m) {
					return true
				}
			}
		}
		path = path[:len(path)-1]
		return false
	}
	if visit(start) {
		return path
	}
	return nil
}

// longestThrough returns the longest path of steps that passes through
// name, loops left out.
func (g *chainGraph) longestThrough(name string) []string {
	up := longestFrom(name, g.prev, map[string][]string{}, map[string]bool{})
	up = slices.Clone(up)
	slices.Reverse(up)
	down := longestFrom(name, g.next, map[string][]string{}, map[string]bool{})
	return append(up, down[1:]...)
}

// longestFrom is the longest path from n along edges, each path found
// kept in memo. An edge back to a node on the path so far (on) is left
// out: loops are refused on their own.
func longestFrom(n string, edges map[string][]string, memo map[string][]string, on map[string]bool) []string {
	if p, ok := memo[n]; ok {
		return p
	}
	on[n] = true
	var best []string
	for _, m := range edges[n] {
		if on[m] {
			continue
		}
		if p := longestFrom(m, edges, memo, on); len(p) > len(best) {
			best = p
		}
	}
	delete(on, n)
	memo[n] = append([]string{n}, best...)
	return memo[n]
}

// checkChains refuses r, about to be stored, when its chains do not fit
// the other rules (see chainProblems).
func (s *Service) checkChains(ctx context.Context, r store.Rule) error {
	rules, err := s.store.RuleList(ctx)
	if err != nil {
		return fmt.Errorf("check the chains of rule %q: %w", r.Name, err)
	}
	all := make(map[string]store.Rule, len(rules)+1)
	for _, o := range rules {
		all[o.Name] = o
	}
	all[r.Name] = r
	verr := &ValidationError{}
	for _, p := range chainProblems(s.jobs, all, r.Name) {
		if p.Rule == r.Name {
			verr.add("body."+p.Field, "%s", p.Reason)
		} else {
			verr.add("body.job", "rule %q's chain: %s: %s", p.Rule, p.Field, p.Reason)
		}
	}
	return verr.orNil()
}

// chainedTo lists the rules other than name whose chains name it, sorted.
func chainedTo(rules []store.Rule, name string) []string {
	var out []string
	for _, r := range rules {
		if r.Name == name {
			continue
		}
		for _, l := range chainLists(r.Chains) {
			if slices.ContainsFunc(l.steps, func(s api.ChainStep) bool { return s.Rule == name }) {
				out = append(out, r.Name)
				break
			}
		}
	}
	return out
}

// quotedList is names quoted and joined: "a", "b" and "c".
func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	if len(q) == 1 {
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}
