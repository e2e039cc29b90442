// Package rulefields lists a rule's fields as the console compares them:
// the rule form's conflict (yours against theirs) and the audit view's
// before and after of a change. Values are text as an operator reads them,
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
	value := func(fs []Field) map[string]string {
		m := make(map[string]string, len(fs))
		for _, f := range fs {
			m[f.Name] = f.Value
		}
		return m
	}
	va, vb := value(a), value(b)
	var names []string
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	// The fields of Of in its order, the parameters of both in theirs.
	base := Of(api.RuleInput{})
	params := map[string]bool{}
	for _, f := range append(slices.Clone(a), b...) {
		if strings.HasPrefix(f.Name, "parameters.") {
			params[f.Name] = true
		}
	}
	for _, f := range base {
		if f.Name == "description" {
			for _, p := range slices.Sorted(maps.Keys(params)) {
				add(p)
			}
		}
		add(f.Name)
	}
	out := make([]Change, 0, len(names))
	for _, n := range names {
		x, y := va[n], vb[n]
		out = append(out, Change{Name: n, Before: x, After: y, Changed: x != y})
	}
	return out
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
