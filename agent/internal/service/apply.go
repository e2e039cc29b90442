package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// ApplyError is a RulesApply that failed while it wrote: Done lists what
// it had carried out before ("create nightly", "update hourly"), which
// stays done. Err is the failure, matched as usual (store.ErrConflict,
// store.ErrUnavailable, ...).
type ApplyError struct {
	Done []string
	Err  error
}

func (e *ApplyError) Error() string {
	done := "nothing"
	if len(e.Done) > 0 {
		done = strings.Join(e.Done, ", ")
	}
	return fmt.Sprintf("apply rules: %v (done before it: %s)", e.Err, done)
}

// Unwrap returns the failure.
func (e *ApplyError) Unwrap() error { return e.Err }

// RulesApply makes the stored rules match in.Rules and answers the plan:
// each rule of the set is created, updated or left unchanged, and each
// stored rule the set lacks is deleted when in.Prune, else kept. Every
// rule is checked first, as RuleCreate and RuleReplace check it, and then
// the set as a whole (checkRuleSet); anything wrong is one
// *ValidationError whose locations are body.rules[i].FIELD, and nothing
// is changed. A dry run answers the plan and changes nothing.
//
// Creates and updates go first, in name order, then deletes: each one as
// its own endpoint does it (backend, event, audit), and one audit entry
// "rules.apply" sums them up. A rule that is unchanged is not written, so
// a second apply of the same set changes nothing at all. A write that
// fails midway leaves what came before it done and returns an
// *ApplyError that lists it.
//
// In an update's Fields, From and To are the values as GET /rules shows
// them (lists and objects as JSON, absent ones empty); a secret
// parameter's value is never shown: each side is api.MaskedValue when the
// parameter is set there and empty when it is not, so a changed secret
// reads parameters.NAME ******** → ********.
func (s *Service) RulesApply(ctx context.Context, actor string, in api.RulesApply) (api.RulesPlan, error) {
	stored, err := s.store.RuleList(ctx)
	if err != nil {
		return api.RulesPlan{}, fmt.Errorf("apply rules: list the stored rules: %w", err)
	}
	old := make(map[string]store.Rule, len(stored))
	for _, r := range stored {
		old[r.Name] = r
	}

	verr := &ValidationError{}
	wanted := make(map[string]store.Rule, len(in.Rules))
	index := make(map[string]int, len(in.Rules)) // a rule's place in in.Rules
	for i, ri := range in.Rules {
		at := fmt.Sprintf("body.rules[%d]", i)
		var existing *store.Rule
		if r, ok := old[ri.Name]; ok {
			existing = &r
		}
		r, err := s.ruleFromInput(ri.Name, ri, existing)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				return api.RulesPlan{}, fmt.Errorf("apply rules: check rule %q: %w", ri.Name, err)
			}
			for _, f := range ve.Fields {
				verr.Fields = append(verr.Fields, api.ErrorDetail{Location: relocate(f.Location, at), Message: f.Message, Value: f.Value})
			}
		}
		if ri.Name == "" {
			continue // ruleFromInput said it is required
		}
		if j, dup := index[ri.Name]; dup {
			verr.add(at+".name", "%q is given twice (first as rules[%d]): a set names each rule once", ri.Name, j)
			continue
		}
		index[ri.Name] = i
		if err == nil {
			wanted[ri.Name] = r
		}
	}

	// The set is checked as a whole once each of its rules is valid: a
	// rule left out for its own mistakes would read as missing there.
	if len(verr.Fields) == 0 {
		final := make(map[string]store.Rule, len(stored)+len(wanted))
		if !in.Prune {
			maps.Copy(final, old)
		}
		maps.Copy(final, wanted)
		s.checkRuleSet(final, slices.Sorted(maps.Keys(wanted)), verr, func(rule string) string {
			if i, ok := index[rule]; ok {
				return fmt.Sprintf("body.rules[%d]", i)
			}
			return "body.rules"
		})
	}
	if err := verr.orNil(); err != nil {
		return api.RulesPlan{}, err
	}

	plan, steps := s.rulesPlan(old, wanted, in.Prune)
	if in.DryRun || len(steps) == 0 {
		return plan, nil
	}
	var done []string
	for _, st := range steps {
		var err error
		switch st.action {
		case api.PlanCreate:
			_, err = s.createRule(ctx, actor, st.rule)
		case api.PlanUpdate:
			// Expect the version planned from: a change made since is
			// not overwritten unseen (store.ErrStale stops the apply).
			o := old[st.rule.Name]
			_, err = s.replaceRule(ctx, actor, o, st.rule, o.Version, "apply")
		case api.PlanDelete:
			err = s.RuleDeleteIf(ctx, actor, st.rule.Name, st.rule.Version)
		}
		if err != nil {
			s.audit(ctx, actor, "rules.apply", "", fmt.Sprintf("failed at %s %s after %d of %d changes", st.action, st.rule.Name, len(done), len(steps)))
			return api.RulesPlan{}, &ApplyError{Done: done, Err: err}
		}
		done = append(done, st.action+" "+st.rule.Name)
	}
	plan.Applied = true
	s.audit(ctx, actor, "rules.apply", "", fmt.Sprintf("%d created, %d updated, %d deleted, %d unchanged", plan.Create, plan.Update, plan.Delete, plan.Unchanged))
	return plan, nil
}

// checkRuleSet checks the rules a set would leave stored, as a whole
// (rules by name), adding what is wrong to verr at loc(rule), the
// location of a rule of the set ("body.rules[3]"; "body.rules" for a
// stored rule the set keeps). Each rule has passed its own checks.
// The set's rules are the changed ones: a stored rule it keeps is not
// refused for what was stored before.
func (s *Service) checkRuleSet(final map[string]store.Rule, set []string, verr *ValidationError, loc func(rule string) string) {
	for _, p := range chainProblems(s.jobs, final, set...) {
		verr.add(loc(p.Rule)+"."+p.Field, "%s", p.Reason)
	}
}

// deleteOrder orders deletes so that a rule goes before the rules its
// chains name: RuleDelete refuses a rule another rule still chains to.
func deleteOrder(deletes []applyStep) []applyStep {
	left := slices.Clone(deletes)
	var out []applyStep
	for len(left) > 0 {
		next := left[:0:0]
		remaining := make([]store.Rule, len(left))
		for i, o := range left {
			remaining[i] = o.rule
		}
		for _, d := range left {
			if len(chainedTo(remaining, d.rule.Name)) == 0 {
				out = append(out, d)
			} else {
				next = append(next, d)
			}
		}
		if len(next) == len(left) { // a loop among them: stored before loops were refused
			return append(out, next...)
		}
		left = next
	}
	return out
}

// relocate moves a location ruleFromInput gives ("body.schedule",
// "path.name") under the rule's place in the set (at, "body.rules[3]").
func relocate(loc, at string) string {
	switch {
	case loc == "body":
		return at
	case strings.HasPrefix(loc, "body."):
		return at + strings.TrimPrefix(loc, "body")
	case loc == "path.name":
		return at + ".name"
	}
	return at + "." + loc
}

// applyStep is one write of a plan.
type applyStep struct {
	action string
	rule   store.Rule // the new rule; for a delete, the stored one
}

// rulesPlan compares the wanted rules with the stored ones: the plan's
// entries by rule name, and its writes (creates and updates, then deletes,
// each in name order).
func (s *Service) rulesPlan(old, wanted map[string]store.Rule, prune bool) (api.RulesPlan, []applyStep) {
	plan := api.RulesPlan{Changes: []api.RuleChange{}}
	var writes, deletes []applyStep
	names := slices.Sorted(maps.Keys(wanted))
	for name := range old {
		if _, ok := wanted[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		w, isWanted := wanted[name]
		o, isStored := old[name]
		c := api.RuleChange{Rule: name}
		switch {
		case !isStored:
			c.Action = api.PlanCreate
			plan.Create++
			writes = append(writes, applyStep{api.PlanCreate, w})
		case !isWanted && prune:
			c.Action = api.PlanDelete
			plan.Delete++
			deletes = append(deletes, applyStep{api.PlanDelete, o})
		case !isWanted:
			c.Action = api.PlanKept
		default:
			c.Fields = s.ruleDiff(o, w)
			if len(c.Fields) == 0 {
				c.Action = api.PlanUnchanged
				plan.Unchanged++
				break
			}
			c.Action = api.PlanUpdate
			plan.Update++
			writes = append(writes, applyStep{api.PlanUpdate, w})
		}
		plan.Changes = append(plan.Changes, c)
	}
	return plan, append(writes, deleteOrder(deletes)...)
}

// ruleDiff lists the fields in which b differs from a, in the order of
// api.RuleInput, valued as GET /rules shows them. Derived and system
// fields (sync, times) are not compared.
func (s *Service) ruleDiff(a, b store.Rule) []api.FieldChange {
	fa, fb := s.ruleFields(a, b.Job), s.ruleFields(b, a.Job)
	var out []api.FieldChange
	seen := make(map[string]bool)
	at := func(fs []ruleField, name string) (ruleField, bool) {
		for _, f := range fs {
			if f.name == name {
				return f, true
			}
		}
		return ruleField{}, false
	}
	// The fields in order; parameters only one side has are merged into
	// their place, sorted with the others.
	var order []string
	for _, f := range append(slices.Clone(fa), fb...) {
		if !seen[f.name] {
			seen[f.name] = true
			order = append(order, f.name)
		}
	}
	slices.SortFunc(order, func(x, y string) int {
		return cmp.Or(cmp.Compare(fieldRank(x), fieldRank(y)), strings.Compare(x, y))
	})
	for _, name := range order {
		x, inA := at(fa, name)
		y, inB := at(fb, name)
		if inA == inB && x.value == y.value {
			continue
		}
		fc := api.FieldChange{Field: name, From: x.value, To: y.value}
		if x.secret || y.secret {
			fc.From, fc.To = "", ""
			if inA {
				fc.From = api.MaskedValue
			}
			if inB {
				fc.To = api.MaskedValue
			}
		}
		out = append(out, fc)
	}
	return out
}

// ruleField is one field of a rule as ruleDiff compares it.
type ruleField struct {
	name, value string
	secret      bool
}

// ruleFieldOrder is api.RuleInput's order; every parameter takes the
// place of "parameters".
var ruleFieldOrder = []string{
	"job", "schedule", "timezone", "startDate", "endDate", "flexibleWindow", "enabled", "parameters",
	"description", "timeout", "overlap", "notify", "retry", "catchUp", "catchUpWindow", "maxLateness",
	"warnAfter", "onSuccess", "onFailure", "onFinish",
}

func fieldRank(name string) int {
	base, _, _ := strings.Cut(name, ".")
	return slices.Index(ruleFieldOrder, base)
}

// ruleFields lists r's fields as GET /rules shows them. A parameter is
// secret when r's job or otherJob (the job of the rule it is compared
// with) says so, or when r's job is unknown (GET masks them all then).
func (s *Service) ruleFields(r store.Rule, otherJob string) []ruleField {
	secret := func(param string) bool {
		job, ok := s.jobs.Get(r.Job)
		if !ok || isSecret(job, param) {
			return true
		}
		other, ok := s.jobs.Get(otherJob)
		return ok && isSecret(other, param)
	}
	p := PolicyToAPI(r.Policy)
	tz := r.Timezone
	if tz == "" {
		tz = "UTC"
	}
	overlap := r.Overlap
	if overlap == "" {
		overlap = api.OverlapAllow
	}
	fs := []ruleField{
		{name: "job", value: r.Job},
		{name: "schedule", value: r.Schedule},
		{name: "timezone", value: tz},
		{name: "startDate", value: timeText(r.StartDate)},
		{name: "endDate", value: timeText(r.EndDate)},
		{name: "flexibleWindow", value: durationText(r.FlexibleWindow)},
		{name: "enabled", value: strconv.FormatBool(r.Enabled)},
	}
	for _, k := range slices.Sorted(maps.Keys(r.Parameters)) {
		fs = append(fs, ruleField{name: "parameters." + k, value: r.Parameters[k], secret: secret(k)})
	}
	fs = append(fs,
		ruleField{name: "description", value: r.Description},
		ruleField{name: "timeout", value: durationText(r.Timeout)},
		ruleField{name: "overlap", value: string(overlap)},
		ruleField{name: "notify", value: jsonText(api.NotifyPolicy{On: r.Notify.On, Channels: r.Notify.Channels}, false)},
		ruleField{name: "retry", value: jsonText(p.Retry, true)},
		ruleField{name: "catchUp", value: string(p.CatchUp)},
		ruleField{name: "catchUpWindow", value: p.CatchUpWindow},
		ruleField{name: "maxLateness", value: p.MaxLateness},
		ruleField{name: "warnAfter", value: p.WarnAfter},
		ruleField{name: "onSuccess", value: jsonText(r.Chains.OnSuccess, true)},
		ruleField{name: "onFailure", value: jsonText(r.Chains.OnFailure, true)},
		ruleField{name: "onFinish", value: jsonText(r.Chains.OnFinish, true)},
	)
	return fs
}

func isSecret(job jobs.Job, param string) bool {
	for _, p := range job.Params() {
		if p.Name == param {
			return p.Secret
		}
	}
	return false
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// durationText is a duration as GET /rules shows it ("30m0s"), "" for none.
func durationText(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// jsonText is v as JSON; with emptyIsNone, "" for nil and empty lists
// (which GET leaves out).
func jsonText(v any, emptyIsNone bool) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v) // not reached: plain data
	}
	if emptyIsNone && (string(b) == "null" || string(b) == "[]") {
		return ""
	}
	return string(b)
}
