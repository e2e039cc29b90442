package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/schedule"
)

// MaxDescription is the longest rule description in characters
// (EventBridge's limit, which counts characters, not bytes).
const MaxDescription = 512

// ruleFromInput validates in and returns the rule it describes. existing is
// the rule being replaced (nil on create): a secret parameter sent back
// masked keeps its stored value.
func (s *Service) ruleFromInput(name string, in api.RuleInput, existing *store.Rule) (store.Rule, error) {
	verr := &ValidationError{}
	nameLoc := "body.name"
	if existing != nil {
		nameLoc = "path.name"
	}
	if err := api.ValidPrefixedRuleName(s.prefix, name); err != nil {
		verr.add(nameLoc, "%s", err)
	}
	if existing != nil && in.Name != "" && in.Name != name {
		verr.add("body.name", "%q differs from the rule's name %q: to rename a rule, delete it and create the new one", in.Name, name)
	}
	r := store.Rule{
		Name: name, Job: in.Job, Schedule: in.Schedule, Enabled: true,
		Description: in.Description, Overlap: in.Overlap, Parameters: map[string]string{},
	}
	if in.Enabled != nil {
		r.Enabled = *in.Enabled
	}
	if r.Overlap == "" {
		r.Overlap = api.OverlapAllow
	}
	if !r.Overlap.Valid() {
		verr.add("body.overlap", "%q is not allow, skip or queue", in.Overlap)
	}
	r.Policy = policyFromInput(in.RunPolicy, verr)
	s.scheduleFromInput(in, &r, verr)
	if in.Timeout != "" {
		d, err := time.ParseDuration(in.Timeout)
		switch {
		case err != nil:
			verr.add("body.timeout", "%q is not a duration (e.g. 90s, 30m, 2h)", in.Timeout)
		case d < time.Second:
			verr.add("body.timeout", "%q is shorter than 1s; leave it empty for no timeout", in.Timeout)
		default:
			r.Timeout = d
		}
	}
	if s.checkRule != nil && len(verr.Fields) == 0 {
		for _, f := range s.checkRule(r) {
			verr.add("body."+f.Field, "%s", f.Reason)
		}
	}
	if n := utf8.RuneCountInString(in.Description); n > MaxDescription {
		verr.add("body.description", "is %d characters long, at most %d", n, MaxDescription)
	}
	if err := checkText(in.Description); err != "" {
		verr.add("body.description", "%s", err)
	}
	for k, v := range in.Parameters {
		r.Parameters[k] = v
	}
	if in.Notify != nil {
		r.Notify = s.notifyPolicy(*in.Notify, verr)
	}
	job, ok := s.jobs.Get(in.Job)
	if !ok {
		verr.add("body.job", "%q is not a job of this agent (it has %s)", in.Job, s.jobIDs())
		job = nil
	} else {
		keepSecrets(job, r.Parameters, existing)
		if _, err := jobs.Resolve(job, r.Parameters); err != nil {
			addParamErrors(verr, "body.parameters", err)
		}
	}
	r.Chains = chainsFromInput(in.Chains, job, verr)
	return r, verr.orNil()
}

// Flexible windows EventBridge Scheduler accepts: whole minutes from 1 to
// 1,440.
const (
	MinFlexibleWindow = time.Minute
	MaxFlexibleWindow = 24 * time.Hour
)

// scheduleFromInput checks the schedule, zone, dates and window of in and
// sets them on r in their canonical form.
func (s *Service) scheduleFromInput(in api.RuleInput, r *store.Rule, verr *ValidationError) {
	sch, err := schedule.Parse(in.Schedule)
	if err != nil {
		verr.add("body.schedule", "%s", err)
	} else {
		r.Schedule = sch.String()
	}
	loc, err := schedule.LoadLocation(in.Timezone)
	if err != nil {
		verr.add("body.timezone", "%s", err)
	} else {
		r.Timezone = loc.String()
	}
	for _, d := range []struct {
		in   *time.Time
		out  *time.Time
		name string
	}{{in.StartDate, &r.StartDate, "startDate"}, {in.EndDate, &r.EndDate, "endDate"}} {
		if d.in == nil {
			continue
		}
		// No schedule fires outside EventBridge's years; a date there is a
		// typo (0026 for 2026), and year 1 would read back as no date.
		if y := d.in.UTC().Year(); y < 1970 || y > 2199 {
			verr.add("body."+d.name, "%s is outside the years 1970-2199 that schedules fire in", d.in.Format(time.RFC3339))
			continue
		}
		*d.out = d.in.UTC()
	}
	if !r.StartDate.IsZero() && !r.EndDate.IsZero() && !r.EndDate.After(r.StartDate) {
		verr.add("body.endDate", "%s is not after startDate %s", r.EndDate.Format(time.RFC3339), r.StartDate.Format(time.RFC3339))
	}
	if in.FlexibleWindow != "" {
		d, err := time.ParseDuration(in.FlexibleWindow)
		switch {
		case err != nil:
			verr.add("body.flexibleWindow", "%q is not a duration (e.g. 15m, 2h); leave it empty for none", in.FlexibleWindow)
		case d < MinFlexibleWindow || d > MaxFlexibleWindow:
			verr.add("body.flexibleWindow", "%q is outside 1m to 24h; leave it empty for none", in.FlexibleWindow)
		case d%time.Minute != 0:
			verr.add("body.flexibleWindow", "%q is not a whole number of minutes, which EventBridge Scheduler counts it in", in.FlexibleWindow)
		default:
			r.FlexibleWindow = d
		}
	}
	if sch == nil || loc == nil {
		return
	}
	if sch.IsAt() {
		// Scheduler ignores the dates of a one-time schedule; saying so
		// beats keeping fields that do nothing.
		if in.StartDate != nil {
			verr.add("body.startDate", "an at() schedule fires once; it takes no start date")
		}
		if in.EndDate != nil {
			verr.add("body.endDate", "an at() schedule fires once; it takes no end date")
		}
		if _, ok := sch.In(loc).Next(time.Time{}); !ok {
			verr.add("body.schedule", "%s does not exist in %s: the clocks skip that time that day", sch, loc)
		}
	}
}

// keepSecrets puts back the stored value of a secret parameter that the
// client sent as it got it: masked.
func keepSecrets(job jobs.Job, values map[string]string, existing *store.Rule) {
	for _, p := range job.Params() {
		if !p.Secret || values[p.Name] != api.MaskedValue {
			continue
		}
		if existing != nil {
			if old, ok := existing.Parameters[p.Name]; ok {
				values[p.Name] = old
				continue
			}
		}
		delete(values, p.Name)
	}
}

func addParamErrors(verr *ValidationError, loc string, err error) {
	var perr *jobs.ValidationError
	if errors.As(err, &perr) {
		for _, f := range perr.Fields {
			verr.add(loc+"."+f.Param, "%s", f.Reason)
		}
		return
	}
	verr.add(loc, "%s", err)
}

func (s *Service) jobIDs() string {
	var ids []string
	for _, j := range s.jobs.List() {
		ids = append(ids, fmt.Sprintf("%q", j.ID()))
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		return "none"
	}
	out := ids[0]
	for _, id := range ids[1:] {
		out += ", " + id
	}
	return out
}

// RuleCreate validates and stores a new rule. A name in use is a
// ConflictError.
func (s *Service) RuleCreate(ctx context.Context, actor string, in api.RuleInput) (store.Rule, error) {
	r, err := s.ruleFromInput(in.Name, in, nil)
	if err != nil {
		return store.Rule{}, err
	}
	if err := s.checkChains(ctx, r); err != nil {
		return store.Rule{}, err
	}
	return s.createRule(ctx, actor, r)
}

// createRule stores a validated new rule and tells the runner, the
// backend, the watchers and the audit trail: what RuleCreate and
// RulesApply do once they have checked it.
func (s *Service) createRule(ctx context.Context, actor string, r store.Rule) (store.Rule, error) {
	created, err := s.store.RuleCreate(ctx, r)
	if err != nil {
		return store.Rule{}, fmt.Errorf("create rule %q: %w", r.Name, conflict(err, "a rule named %q already exists", r.Name))
	}
	created = s.ruleSaved(ctx, created, api.EventRuleCreated)
	s.auditRule(ctx, actor, "rule.create", created.Name, fmt.Sprintf("job %s, schedule %s, enabled %t", created.Job, created.Schedule, created.Enabled), nil, &created)
	return created, nil
}

// RuleReplace validates and stores a new version of an existing rule.
func (s *Service) RuleReplace(ctx context.Context, actor, name string, in api.RuleInput) (store.Rule, error) {
	return s.RuleReplaceIf(ctx, actor, name, in, 0)
}

// RuleReplaceIf is RuleReplace of a rule that must be at version (any when
// 0): a *store.StaleError (store.ErrStale) says the version it is at.
func (s *Service) RuleReplaceIf(ctx context.Context, actor, name string, in api.RuleInput, version int64) (store.Rule, error) {
	for attempt := 0; ; attempt++ {
		existing, err := s.store.RuleGet(ctx, name)
		if err != nil {
			return store.Rule{}, fmt.Errorf("replace rule %q: %w", name, err)
		}
		if err := checkVersion(existing, version); err != nil {
			return store.Rule{}, fmt.Errorf("replace rule %q: %w", name, err)
		}
		r, err := s.ruleFromInput(name, in, &existing)
		if err != nil {
			return store.Rule{}, err
		}
		if err := s.checkChains(ctx, r); err != nil {
			return store.Rule{}, err
		}
		// The write expects the version read even without one asked for:
		// the secrets sent back masked are taken from that read, so a
		// secret changed meanwhile (a leaked token rotated) must not be
		// written back over. Such a change is read again instead.
		updated, err := s.replaceRule(ctx, actor, existing, r, existing.Version, "")
		if errors.Is(err, store.ErrStale) && version == 0 && attempt < 3 {
			continue
		}
		return updated, err
	}
}

// replaceRule stores r, validated, in place of existing if the stored
// rule is at version (any when 0), and tells the runner, the backend, the
// watchers and the audit trail (rule.update, with the rule before and
// after): what RuleReplace, RulePatch and RulesApply do once they have
// checked it. how ("patch", "apply") is said in the audit entry's detail.
func (s *Service) replaceRule(ctx context.Context, actor string, existing, r store.Rule, version int64, how string) (store.Rule, error) {
	r.Sync = existing.Sync
	r.Version = version
	updated, err := s.store.RuleUpdate(ctx, r)
	if err != nil {
		return store.Rule{}, fmt.Errorf("replace rule %q: %w", r.Name, err)
	}
	updated = s.ruleSaved(ctx, updated, api.EventRuleChanged)
	detail := fmt.Sprintf("job %s, schedule %s, enabled %t", updated.Job, updated.Schedule, updated.Enabled)
	if how != "" {
		detail = how + ": " + detail
	}
	if names := s.changedSecrets(existing, updated); len(names) > 0 {
		detail += "; secret " + strings.Join(names, ", ") + " changed"
	}
	s.auditRule(ctx, actor, "rule.update", r.Name, detail, &existing, &updated)
	return updated, nil
}

// RuleSetEnabled enables or disables a rule.
func (s *Service) RuleSetEnabled(ctx context.Context, actor, name string, enabled bool) (store.Rule, error) {
	return s.RuleSetEnabledIf(ctx, actor, name, enabled, 0)
}

// RuleSetEnabledIf is RuleSetEnabled of a rule that must be at version
// (any when 0; store.ErrStale otherwise). A rule that is as asked already
// is not written and keeps its version.
func (s *Service) RuleSetEnabledIf(ctx context.Context, actor, name string, enabled bool, version int64) (store.Rule, error) {
	for attempt := 0; ; attempt++ {
		r, err := s.store.RuleGet(ctx, name)
		if err != nil {
			return store.Rule{}, fmt.Errorf("get rule %q: %w", name, err)
		}
		if err := checkVersion(r, version); err != nil {
			return store.Rule{}, fmt.Errorf("update rule %q: %w", name, err)
		}
		if r.Enabled == enabled {
			return r, nil
		}
		before := r
		r.Enabled = enabled
		r.UpdatedAt = time.Time{} // now: what the rule expects of its fires starts here
		// The write expects the version read, so a change made meanwhile
		// is not undone; without a version asked for, read it again.
		updated, err := s.store.RuleUpdate(ctx, r)
		if errors.Is(err, store.ErrStale) && version == 0 && attempt < 3 {
			continue
		}
		if err != nil {
			return store.Rule{}, fmt.Errorf("update rule %q: %w", name, err)
		}
		updated = s.ruleSaved(ctx, updated, api.EventRuleChanged)
		action := "rule.disable"
		if enabled {
			action = "rule.enable"
		}
		s.auditRule(ctx, actor, action, name, "", &before, &updated)
		return updated, nil
	}
}

// RuleDelete deletes a rule. A rule another rule's chain names is not
// deleted: a ConflictError names the rules that chain to it.
func (s *Service) RuleDelete(ctx context.Context, actor, name string) error {
	return s.RuleDeleteIf(ctx, actor, name, 0)
}

// RuleDeleteIf is RuleDelete of a rule that must be at version (any when
// 0; store.ErrStale otherwise).
func (s *Service) RuleDeleteIf(ctx context.Context, actor, name string, version int64) error {
	r, err := s.store.RuleGet(ctx, name)
	if err != nil {
		return fmt.Errorf("delete rule %q: %w", name, err)
	}
	if err := checkVersion(r, version); err != nil {
		return fmt.Errorf("delete rule %q: %w", name, err)
	}
	rules, err := s.store.RuleList(ctx)
	if err != nil {
		return fmt.Errorf("delete rule %q: %w", name, err)
	}
	if by := chainedTo(rules, name); len(by) > 0 {
		return &ConflictError{
			Detail: fmt.Sprintf("rule %q is named in the chains of %s: remove it from them first", name, quotedList(by)),
			Err:    fmt.Errorf("delete rule %q: %w", name, store.ErrConflict),
		}
	}
	if err := s.store.RuleDeleteIf(ctx, name, version); err != nil {
		return fmt.Errorf("delete rule %q: %w", name, err)
	}
	if s.runner != nil {
		s.runner.ForgetRule(name)
	}
	if s.backend != nil {
		s.backend.RuleDeleted(ctx, r)
	}
	s.publishRule(api.EventRuleDeleted, r)
	s.auditRule(ctx, actor, "rule.delete", name, "", &r, nil)
	return nil
}

// ruleSaved tells the runner, the backend and the watchers about r, and
// returns r with the sync state the backend gave it: the EventBridge
// backend records a saved rule as pending until AWS has it, and the
// answer and the event say so. (Not read back from the store: the
// backend's worker may have synced the rule by then.)
func (s *Service) ruleSaved(ctx context.Context, r store.Rule, t string) store.Rule {
	if s.runner != nil {
		s.runner.ForgetRule(r.Name)
	}
	if s.backend != nil {
		if sync := s.backend.RuleChanged(ctx, r); sync.State != "" {
			r.Sync = sync
		}
	}
	s.publishRule(t, r)
	return r
}

// RuleTrigger runs a rule now on behalf of actor, with parameter overrides.
// A disabled rule can be triggered: disabling stops the schedule, not the
// operator. While maintenance is on it is refused (ErrMaintenance) unless
// force.
func (s *Service) RuleTrigger(ctx context.Context, actor Actor, name string, overrides map[string]string, force bool) (store.Run, error) {
	r, err := s.store.RuleGet(ctx, name)
	if err != nil {
		return store.Run{}, fmt.Errorf("trigger rule %q: %w", name, err)
	}
	if err := s.checkMaintenance(ctx, force); err != nil {
		return store.Run{}, err
	}
	run, err := s.start(ctx, actor, runner.StartParams{Rule: r, Trigger: api.TriggerManual, TriggeredBy: actor.Name, Overrides: overrides}, overrides)
	if err != nil {
		return store.Run{}, err
	}
	s.audit(ctx, actor.Name, "rule.trigger", name, "run "+run.ID)
	return run, nil
}

// start starts a run on behalf of actor, who typed supplied (the rest of
// p.Overrides comes from an earlier run). It refuses an override that would
// send a stored secret elsewhere, and turns parameter problems into a
// ValidationError.
func (s *Service) start(ctx context.Context, actor Actor, p runner.StartParams, supplied map[string]string) (store.Run, error) {
	if job, ok := s.jobs.Get(p.Rule.Job); ok {
		if err := checkSecretDestinations(actor, job, p.Rule, p.Overrides, supplied); err != nil {
			return store.Run{}, err
		}
		keepSecrets(job, p.Overrides, &p.Rule)
	}
	run, _, err := s.runner.Start(ctx, p)
	var perr *jobs.ValidationError
	switch {
	case errors.As(err, &perr):
		verr := &ValidationError{}
		addParamErrors(verr, "body.parameters", err)
		return store.Run{}, verr
	case errors.Is(err, runner.ErrUnknownJob):
		verr := &ValidationError{}
		verr.add("rule.job", "%q is not a job of this agent (it has %s)", p.Rule.Job, s.jobIDs())
		return store.Run{}, verr
	case err != nil:
		return store.Run{}, err
	}
	return run, nil
}

// notifyPolicy checks a rule's notification policy.
func (s *Service) notifyPolicy(p api.NotifyPolicy, verr *ValidationError) store.NotifyPolicy {
	for i, k := range p.On {
		switch {
		case k == api.NotifyNone && len(p.On) == 1:
		case k == api.NotifyNone:
			verr.add(fmt.Sprintf("body.notify.on[%d]", i), "%q must be alone", api.NotifyNone)
		default:
			if _, err := api.ParseNotifyKind(k); err != nil {
				// "... is not one of failed, ..., recovered" or none
				verr.add(fmt.Sprintf("body.notify.on[%d]", i), "%s or %s", err, api.NotifyNone)
			}
		}
	}
	for i, c := range p.Channels {
		if !slices.Contains(s.notify, c) {
			have := "no channel is configured"
			if len(s.notify) > 0 {
				have = "the agent has " + strings.Join(s.notify, ", ")
			}
			verr.add(fmt.Sprintf("body.notify.channels[%d]", i), "%q is not a notification channel of this agent (%s)", c, have)
		}
	}
	return store.NotifyPolicy{On: p.On, Channels: p.Channels}
}
