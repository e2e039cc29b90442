package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// DerivedRuleFields are the fields of api.Rule that the agent derives and
// a client does not set: PUT and PATCH ignore them, so that what GET
// returns can be sent back as it is.
var DerivedRuleFields = []string{
	"version", "createdAt", "updatedAt", "nextFireTimes", "nextFireTimesApproximate",
	"done", "scheduleText", "lastRun", "sync", "missedFire", "health",
}

// RuleInputOf is r as the RuleInput that would store it again, with the
// values of its secret parameters masked (all of them when the agent lacks
// its job, as GET /rules shows them).
func (s *Service) RuleInputOf(r store.Rule) api.RuleInput {
	in := s.ruleInput(r)
	job, ok := s.jobs.Get(r.Job)
	if !ok {
		for k := range in.Parameters {
			in.Parameters[k] = api.MaskedValue
		}
		return in
	}
	in.Parameters = jobs.Mask(job, in.Parameters)
	return in
}

// ruleInput is r as a RuleInput, secret values as they are.
func (s *Service) ruleInput(r store.Rule) api.RuleInput {
	enabled := r.Enabled
	in := api.RuleInput{
		Name: r.Name, Job: r.Job, Schedule: r.Schedule, Timezone: r.Timezone,
		StartDate: timePtr(r.StartDate), EndDate: timePtr(r.EndDate),
		FlexibleWindow: durationText(r.FlexibleWindow), Enabled: &enabled,
		Parameters: make(map[string]string, len(r.Parameters)), Description: r.Description,
		Timeout: durationText(r.Timeout), Overlap: r.Overlap,
		RunPolicy: PolicyToAPI(r.Policy), Chains: r.Chains,
	}
	for k, v := range r.Parameters {
		in.Parameters[k] = v
	}
	if len(r.Notify.On) > 0 || len(r.Notify.Channels) > 0 {
		in.Notify = &api.NotifyPolicy{On: r.Notify.On, Channels: r.Notify.Channels}
	}
	return in
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// auditJSON is r for an audit entry's Before or After: its RuleInput with
// secrets masked; nil for no rule.
func (s *Service) auditJSON(r *store.Rule) json.RawMessage {
	if r == nil {
		return nil
	}
	b, err := json.Marshal(s.RuleInputOf(*r))
	if err != nil {
		return nil // not reached: plain data
	}
	return b
}

// auditRule records a change of a rule with the rule before and after it
// (nil for none); like audit, a failure is logged.
func (s *Service) auditRule(ctx context.Context, actor, action, target, detail string, before, after *store.Rule) {
	e := store.AuditEntry{Actor: actor, Action: action, Target: target, Detail: detail,
		Before: s.auditJSON(before), After: s.auditJSON(after)}
	if err := s.store.AuditAppend(ctx, e); err != nil {
		s.log.Error("write audit entry", "actor", actor, "action", action, "target", target, "err", err)
	}
}

// changedSecrets names the secret parameters whose value differs between
// before and after (set, changed or removed), as the audit entry's detail
// says it: the masked before and after cannot show it.
func (s *Service) changedSecrets(before, after store.Rule) []string {
	var names []string
	for _, r := range []store.Rule{before, after} {
		job, ok := s.jobs.Get(r.Job)
		if !ok {
			continue
		}
		for _, p := range job.Params() {
			if !p.Secret || slices.Contains(names, p.Name) {
				continue
			}
			b, inB := before.Parameters[p.Name]
			a, inA := after.Parameters[p.Name]
			if inB != inA || b != a {
				names = append(names, p.Name)
			}
		}
	}
	slices.Sort(names)
	return names
}

// checkVersion refuses, as stale, a change that expects version (0: any)
// of r, which is at another.
func checkVersion(r store.Rule, version int64) error {
	if version != 0 && r.Version != version {
		return &store.StaleError{Rule: r.Name, Expected: version, Current: r.Version}
	}
	return nil
}

// RulePatch applies patch, a JSON merge patch (RFC 7396), to the named
// rule and stores the result, checked as RuleReplace checks a rule: the
// fields it gives replace the rule's, null resets an optional field to its
// default, and parameters merge by name (null removes one). A secret
// parameter given masked keeps its value. The rule's derived fields (see
// DerivedRuleFields) are ignored. With version not 0 the rule must be at
// that version (store.ErrStale).
func (s *Service) RulePatch(ctx context.Context, actor, name string, patch []byte, version int64) (store.Rule, error) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(patch))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return store.Rule{}, badBody("is not JSON: %s", err)
	}
	if dec.More() {
		return store.Rule{}, badBody("holds more than one JSON value")
	}
	p, ok := doc.(map[string]any)
	if !ok {
		return store.Rule{}, badBody("a merge patch of a rule is a JSON object, not %s", jsonKind(doc))
	}
	for _, f := range DerivedRuleFields {
		delete(p, f)
	}
	verr := &ValidationError{}
	checkPatchKeys(verr, "body", "a rule", p, reflect.TypeFor[api.RuleInput]())
	checkPatchNulls(verr, p)
	if err := verr.orNil(); err != nil {
		return store.Rule{}, err
	}

	for attempt := 0; ; attempt++ {
		r, err := s.patchRule(ctx, actor, name, p, version)
		// Without a version asked for, a change made between the read
		// and the write is not a conflict: patch the new version.
		if errors.Is(err, store.ErrStale) && version == 0 && attempt < 3 {
			continue
		}
		return r, err
	}
}

// patchRule is one attempt of RulePatch with the patch p, checked.
func (s *Service) patchRule(ctx context.Context, actor, name string, p map[string]any, version int64) (store.Rule, error) {
	existing, err := s.store.RuleGet(ctx, name)
	if err != nil {
		return store.Rule{}, fmt.Errorf("patch rule %q: %w", name, err)
	}
	if err := checkVersion(existing, version); err != nil {
		return store.Rule{}, fmt.Errorf("patch rule %q: %w", name, err)
	}
	// The rule as GET shows it, secrets masked: the patch applies to what
	// a client sees, and a secret given back masked (or left alone) keeps
	// its stored value as a PUT's does. A real value never moves into a
	// parameter of another job that does not keep it secret.
	base, err := json.Marshal(s.RuleInputOf(existing))
	if err != nil {
		return store.Rule{}, fmt.Errorf("patch rule %q: %w", name, err)
	}
	var target any
	if err := json.Unmarshal(base, &target); err != nil {
		return store.Rule{}, fmt.Errorf("patch rule %q: %w", name, err)
	}
	merged, err := json.Marshal(mergePatch(target, p))
	if err != nil {
		return store.Rule{}, fmt.Errorf("patch rule %q: %w", name, err)
	}
	var in api.RuleInput
	if err := json.Unmarshal(merged, &in); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			v := &ValidationError{}
			v.add("body."+te.Field, "is %s, not %s", te.Value, jsonTypeName(te.Type))
			return store.Rule{}, v
		}
		return store.Rule{}, badBody("%s", err)
	}
	r, err := s.ruleFromInput(name, in, &existing)
	if err != nil {
		return store.Rule{}, err
	}
	if err := s.checkChains(ctx, r); err != nil {
		return store.Rule{}, err
	}
	// The patch applied to the version read: expect it in the write, so
	// that a change made meanwhile is not undone without a word.
	return s.replaceRule(ctx, actor, existing, r, existing.Version, "patch")
}

// mergePatch applies the merge patch p to target (RFC 7396, section 2).
func mergePatch(target, p any) any {
	pm, ok := p.(map[string]any)
	if !ok {
		return p
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = map[string]any{}
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = mergePatch(tm[k], v)
	}
	return tm
}

func badBody(format string, args ...any) error {
	v := &ValidationError{}
	v.add("body", format, args...)
	return v
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// jsonTypeName names a Go type as the JSON it is read from.
func jsonTypeName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		if t.String() == "time.Time" {
			return "an RFC 3339 time"
		}
		return "an object"
	case reflect.Pointer:
		return jsonTypeName(t.Elem())
	}
	return t.String()
}

// noReset says, for each field of a rule that null cannot reset, why: a
// merge patch's null removes the field, and what a RuleInput without it
// means (enabled: true, the create default) is no reset of the rule.
var noReset = map[string]string{
	"name":     "cannot be null: a rule keeps its name (rename it by delete and create)",
	"job":      "cannot be null: every rule has a job; give one",
	"schedule": "cannot be null: every rule has a schedule; give one",
	"enabled":  "cannot be null: give true or false (null would enable the rule)",
}

// checkPatchNulls refuses, in the merge patch p, null for the fields no
// default stands in for (see noReset).
func checkPatchNulls(verr *ValidationError, p map[string]any) {
	for _, k := range slices.Sorted(maps.Keys(noReset)) {
		if v, ok := p[k]; ok && v == nil {
			verr.add("body."+k, "%s", noReset[k])
		}
	}
	if retry, ok := p["retry"].(map[string]any); ok {
		if v, ok := retry["attempts"]; ok && v == nil {
			verr.add("body.retry.attempts", "cannot be null: give the number of retries, or retry: null for none")
		}
	}
}

// checkPatchKeys refuses the keys of obj, a part of a merge patch at loc
// (what names it in a message), that are not fields of t, and does so in
// each object inside it that t reads as a struct (retry, notify, the steps
// of a chain): PUT refuses them, and without this a patch would drop them
// without a word. Keys compare exactly, as PUT's do.
func checkPatchKeys(verr *ValidationError, loc, what string, obj map[string]any, t reflect.Type) {
	fields := jsonFields(t)
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		ft, ok := fields[k]
		if !ok {
			verr.add(loc+"."+k, "is not a field of %s (they are %s)", what, strings.Join(slices.Sorted(maps.Keys(fields)), ", "))
			continue
		}
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch v := obj[k].(type) {
		case map[string]any:
			if ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Time]() {
				checkPatchKeys(verr, loc+"."+k, k, v, ft)
			}
		case []any:
			if ft.Kind() != reflect.Slice || ft.Elem().Kind() != reflect.Struct {
				continue
			}
			for i, e := range v {
				if m, ok := e.(map[string]any); ok {
					checkPatchKeys(verr, fmt.Sprintf("%s.%s[%d]", loc, k, i), "a step of "+k, m, ft.Elem())
				}
			}
		}
	}
}

// jsonFields are the JSON names of struct type t's fields, those of its
// embedded structs included, with their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				walk(f.Type)
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" && f.IsExported() {
				out[name] = f.Type
			}
		}
	}
	walk(t)
	return out
}
