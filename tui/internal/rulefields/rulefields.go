// Package rulefields lists a rule's fields as the console compares them:
// the rule form's conflict (the rule as loaded, yours and theirs, and the
// merge of your changes over theirs) and the audit view's before and after
// of a change. Values are text as an operator reads them,
// normalised so that two ways of writing one value ("30m" and "30m0s")
// compare equal; a secret parameter's value is whatever the agent gave,
// which is its mask.
package rulefields

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
)

// Field is one field of a rule: its name ("schedule", "parameters.url")
// and its value as text ("" when not set).
type Field struct {
	Name, Value string
}

// Change is a field on both sides of a comparison.
type Change struct {
	Name          string
	Before, After string
	// Changed says the two sides differ; a field one side lacks is "".
	Changed bool
}

// FromRule is the input that would store r again.
func FromRule(r api.Rule) api.RuleInput {
	enabled := r.Enabled
	in := api.RuleInput{
		Name: r.Name, Job: r.Job, Schedule: r.Schedule, Timezone: r.Timezone,
		StartDate: r.StartDate, EndDate: r.EndDate, FlexibleWindow: r.FlexibleWindow,
		Enabled: &enabled, Parameters: r.Parameters, Description: r.Description,
		Timeout: r.Timeout, Overlap: r.Overlap, RunPolicy: r.RunPolicy, Chains: r.Chains,
	}
	if len(r.Notify.On) > 0 || len(r.Notify.Channels) > 0 {
		n := r.Notify
		in.Notify = &n
	}
	return in
}

// Of lists in's fields in the order of the rule form, each parameter in
// its place, by name.
func Of(in api.RuleInput) []Field {
	enabled := "true"
	if in.Enabled != nil && !*in.Enabled {
		enabled = "false"
	}
	tz := in.Timezone
	if tz == "" {
		tz = "UTC"
	}
	overlap := string(in.Overlap)
	if overlap == "" {
		overlap = string(api.OverlapAllow)
	}
	catchUp := string(in.CatchUp)
	if catchUp == "" {
		catchUp = string(api.CatchUpNone)
	}
	fs := []Field{
		{"job", in.Job},
		{"schedule", in.Schedule},
		{"timezone", tz},
		{"startDate", date(in.StartDate)},
		{"endDate", date(in.EndDate)},
		{"flexibleWindow", duration(in.FlexibleWindow)},
		{"enabled", enabled},
	}
	for _, k := range slices.Sorted(maps.Keys(in.Parameters)) {
		fs = append(fs, Field{"parameters." + k, in.Parameters[k]})
	}
	var notifyOn, notifyChannels string
	if in.Notify != nil {
		notifyOn, notifyChannels = strings.Join(in.Notify.On, ","), strings.Join(in.Notify.Channels, ",")
	}
	fs = append(fs,
		Field{"description", in.Description},
		Field{"timeout", duration(in.Timeout)},
		Field{"overlap", overlap},
		Field{"notify.on", notifyOn},
		Field{"notify.channels", notifyChannels},
		Field{"retry", retry(in.Retry)},
		Field{"catchUp", catchUp},
		Field{"catchUpWindow", duration(in.CatchUpWindow)},
		Field{"maxLateness", duration(in.MaxLateness)},
		Field{"warnAfter", duration(in.WarnAfter)},
		Field{"onSuccess", steps(in.OnSuccess)},
		Field{"onFailure", steps(in.OnFailure)},
		Field{"onFinish", steps(in.OnFinish)},
	)
	return fs
}

// Compare lists the fields of before and after (nil: a side with no rule,
// as before a create or after a delete), in the order of Of, the
// parameters of both sides merged by name.
func Compare(before, after *api.RuleInput) []Change {
	var a, b []Field
	if before != nil {
		a = Of(*before)
	}
	if after != nil {
		b = Of(*after)
	}
	va, vb := values(a), values(b)
	names := order(a, b)
	out := make([]Change, 0, len(names))
	for _, n := range names {
		x, y := va[n], vb[n]
		out = append(out, Change{Name: n, Before: x, After: y, Changed: x != y})
	}
	return out
}

func values(fs []Field) map[string]string {
	m := make(map[string]string, len(fs))
	for _, f := range fs {
		m[f.Name] = f.Value
	}
	return m
}

// order is the names of the fields of sides, in the order of Of, the
// parameters of all sides by name.
func order(sides ...[]Field) []string {
	var names []string
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	params := map[string]bool{}
	for _, fs := range sides {
		for _, f := range fs {
			if strings.HasPrefix(f.Name, "parameters.") {
				params[f.Name] = true
			}
		}
	}
	for _, f := range Of(api.RuleInput{}) {
		if f.Name == "description" {
			for _, p := range slices.Sorted(maps.Keys(params)) {
				add(p)
			}
		}
		add(f.Name)
	}
	return names
}

// Changed is the changes of cs that differ.
func Changed(cs []Change) []Change {
	var out []Change
	for _, c := range cs {
		if c.Changed {
			out = append(out, c)
		}
	}
	return out
}

func date(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// duration is a duration as the console writes it ("1h30m"), so that the
// agent's "1h30m0s" and a typed "90m" compare equal; text that is not a
// duration is kept as it is.
func duration(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil || d == 0 {
		return s
	}
	return api.FormatDuration(d)
}

func retry(r *api.RetryPolicy) string {
	if r == nil {
		return ""
	}
	parts := []string{strconv.Itoa(r.Attempts) + " attempts"}
	if r.Backoff != "" {
		parts = append(parts, "backoff "+duration(r.Backoff))
	}
	if r.MaxBackoff != "" {
		parts = append(parts, "max "+duration(r.MaxBackoff))
	}
	if r.Jitter != 0 {
		parts = append(parts, "jitter "+strconv.FormatFloat(r.Jitter, 'f', -1, 64))
	}
	return strings.Join(parts, ", ")
}

func steps(ss []api.ChainStep) string {
	if len(ss) == 0 {
		return ""
	}
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.Rule
		if len(s.Parameters) > 0 {
			b, _ := json.Marshal(s.Parameters) // keys sorted
			parts[i] += " " + string(b)
		}
	}
	return strings.Join(parts, "; ")
}

// Side says who changed a field since a common base: the operator's form
// (Yours), someone else's save (Theirs), or both.
type Side int

// The sides of a three-way comparison.
const (
	Yours Side = iota + 1
	Theirs
	Both
)

// String is the side as the conflict screen says it.
func (s Side) String() string {
	switch s {
	case Yours:
		return "you"
	case Theirs:
		return "them"
	case Both:
		return "both"
	}
	return ""
}

// Edit is a field that yours or theirs changed from their common base.
type Edit struct {
	Name                string
	Base, Yours, Theirs string
	By                  Side
}

// Diff3 lists the fields that yours or theirs changed from base, in the
// order of Compare. A secret parameter compares by its mask: one nobody
// typed is unchanged on every side.
func Diff3(base, yours, theirs api.RuleInput) []Edit {
	fb, fy, ft := Of(base), Of(yours), Of(theirs)
	vb, vy, vt := values(fb), values(fy), values(ft)
	var out []Edit
	for _, n := range order(fb, fy, ft) {
		e := Edit{Name: n, Base: vb[n], Yours: vy[n], Theirs: vt[n]}
		switch {
		case e.Yours != e.Base && e.Theirs != e.Base:
			e.By = Both
		case e.Yours != e.Base:
			e.By = Yours
		case e.Theirs != e.Base:
			e.By = Theirs
		default:
			continue
		}
		out = append(out, e)
	}
	return out
}

// Merge is theirs with your changes: each field yours changed from base
// (alone or as they did too) is yours, every other field theirs, each
// parameter on its own. A job yours changed brings all your parameters,
// which belong to it. A secret left masked on the side taken keeps the
// value the agent stores.
func Merge(base, yours, theirs api.RuleInput) api.RuleInput {
	out := theirs
	out.Parameters = maps.Clone(theirs.Parameters)
	if out.Parameters == nil {
		out.Parameters = map[string]string{}
	}
	if theirs.Notify != nil {
		n := *theirs.Notify
		out.Notify = &n
	}
	edits := Diff3(base, yours, theirs)
	jobMine := false
	for _, e := range edits {
		if e.Name == "job" && e.By != Theirs {
			jobMine = true
		}
	}
	if jobMine {
		out.Parameters = maps.Clone(yours.Parameters)
	}
	for _, e := range edits {
		if e.By == Theirs || jobMine && strings.HasPrefix(e.Name, "parameters.") {
			continue
		}
		take(&out, yours, e.Name)
	}
	if len(out.Parameters) == 0 {
		out.Parameters = nil
	}
	return out
}

// take sets field name (as Of names it) of dst to src's.
func take(dst *api.RuleInput, src api.RuleInput, name string) {
	notify := func() *api.NotifyPolicy {
		if dst.Notify == nil {
			dst.Notify = &api.NotifyPolicy{}
		}
		if src.Notify == nil {
			return &api.NotifyPolicy{}
		}
		return src.Notify
	}
	switch name {
	case "job":
		dst.Job = src.Job
	case "schedule":
		dst.Schedule = src.Schedule
	case "timezone":
		dst.Timezone = src.Timezone
	case "startDate":
		dst.StartDate = src.StartDate
	case "endDate":
		dst.EndDate = src.EndDate
	case "flexibleWindow":
		dst.FlexibleWindow = src.FlexibleWindow
	case "enabled":
		dst.Enabled = src.Enabled
	case "description":
		dst.Description = src.Description
	case "timeout":
		dst.Timeout = src.Timeout
	case "overlap":
		dst.Overlap = src.Overlap
	case "notify.on":
		dst.Notify.On = notify().On
	case "notify.channels":
		dst.Notify.Channels = notify().Channels
	case "retry":
		dst.Retry = src.Retry
	case "catchUp":
		dst.CatchUp = src.CatchUp
	case "catchUpWindow":
		dst.CatchUpWindow = src.CatchUpWindow
	case "maxLateness":
		dst.MaxLateness = src.MaxLateness
	case "warnAfter":
		dst.WarnAfter = src.WarnAfter
	case "onSuccess":
		dst.OnSuccess = src.OnSuccess
	case "onFailure":
		dst.OnFailure = src.OnFailure
	case "onFinish":
		dst.OnFinish = src.OnFinish
	default:
		if p, ok := strings.CutPrefix(name, "parameters."); ok {
			if v, set := src.Parameters[p]; set {
				dst.Parameters[p] = v
			} else {
				delete(dst.Parameters, p)
			}
		}
	}
}
