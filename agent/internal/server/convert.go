package server

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// The conversions from the store's types to the API's. Secrets are masked
// here, on the way out, whatever the caller's role.

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func apiRun(r store.Run) api.Run {
	params := r.Parameters
	if params == nil {
		params = map[string]string{}
	}
	return api.Run{
		ID: r.ID, Rule: r.Rule, Job: r.Job, Status: r.Status, Trigger: r.Trigger,
		Parameters: params, EventID: r.EventID, RestartOf: r.RestartOf,
		TriggeredBy: r.TriggeredBy, CancelledBy: r.CancelledBy, CancelReason: r.CancelReason,
		ScheduledAt: timePtr(r.ScheduledAt), CreatedAt: r.CreatedAt.UTC(),
		StartedAt: timePtr(r.StartedAt), FinishedAt: timePtr(r.FinishedAt),
		Error: r.Error, Progress: r.Progress, Node: r.Node,
		Attempt: max(r.Attempt, 1), RetryOf: r.RetryOf, NotBefore: timePtr(r.NotBefore),
		Slow: r.Slow(time.Now()), ParentRun: r.ParentRun,
	}
}

// apiRunWithOutput is apiRun with the run's output, for the answers that
// carry it: GET /runs/{id} and run.finished. The store keeps it as the
// runner wrote it (JSON, secrets masked); what is not JSON, which only a
// damaged database holds, is left out rather than failing the answer.
func apiRunWithOutput(r store.Run) api.Run {
	out := apiRun(r)
	if len(r.Output) > 0 && json.Valid(r.Output) {
		out.Output = r.Output
	}
	return out
}

func apiRunSummary(r store.Run) api.RunSummary {
	return api.RunSummary{ID: r.ID, Status: r.Status, CreatedAt: r.CreatedAt.UTC(), FinishedAt: timePtr(r.FinishedAt)}
}

func apiLogLine(l store.LogLine) api.LogLine {
	return api.LogLine{Seq: l.Seq, Time: l.Time.UTC(), Level: l.Level, Message: l.Message}
}

// declaredJob is a job declared outside Go, in the agent's jobs file (see
// agent/internal/jobsfile): it says its kind ("command", "http") and where
// it is declared ("FILE:LINE"), which the API shows as Kind and Source. The
// server asks for the method rather than importing jobsfile, so any job
// may say so.
type declaredJob interface {
	Source() (kind, where string)
}

func apiJob(j jobs.Job) api.Job {
	ps := j.Params()
	out := api.Job{ID: j.ID(), Description: j.Description(), Parameters: make([]api.Param, len(ps))}
	if d, ok := j.(declaredJob); ok {
		out.Kind, out.Source = d.Source()
	}
	for i, p := range ps {
		typ := p.Type
		if typ == "" {
			typ = jobs.TypeString
		}
		def := p.Default
		if p.Secret && def != "" {
			def = api.MaskedValue
		}
		out.Parameters[i] = api.Param{
			Name: p.Name, Description: p.Description, Required: p.Required, Type: string(typ),
			Default: def, Choices: p.Choices, Secret: p.Secret, Destination: p.Destination,
		}
	}
	return out
}

// ruleView is what apiRule needs beyond the rule.
type ruleView struct {
	job     jobs.Job // nil if the agent lacks it
	lastRun *store.Run
	mode    string // scheduler mode
	now     time.Time
	missed  *time.Time // the fire the rule is missing, if any
}

func apiRule(r store.Rule, v ruleView) api.Rule {
	params := map[string]string{}
	for k, val := range r.Parameters {
		params[k] = val
	}
	if v.job != nil {
		params = jobs.Mask(v.job, params)
	} else {
		for k := range params { // unknown job: we cannot tell secrets, hide all
			params[k] = api.MaskedValue
		}
	}
	out := api.Rule{
		Name: r.Name, Job: r.Job, Schedule: r.Schedule, Enabled: r.Enabled, Parameters: params,
		Description: r.Description, Overlap: r.Overlap, CreatedAt: r.CreatedAt.UTC(), UpdatedAt: r.UpdatedAt.UTC(),
		Notify:        api.NotifyPolicy{On: r.Notify.On, Channels: r.Notify.Channels},
		NextFireTimes: []time.Time{},
		Version:       r.Version,
	}
	if out.Overlap == "" {
		out.Overlap = api.OverlapAllow
	}
	out.RunPolicy = service.PolicyToAPI(r.Policy)
	out.Chains = r.Chains
	if r.Timeout > 0 {
		out.Timeout = r.Timeout.String()
	}
	out.Timezone = r.Timezone
	if out.Timezone == "" {
		out.Timezone = "UTC"
	}
	out.StartDate, out.EndDate = timePtr(r.StartDate), timePtr(r.EndDate)
	if r.FlexibleWindow > 0 {
		out.FlexibleWindow = r.FlexibleWindow.String()
	}
	// The local scheduler counts rate() from the rule's creation; AWS counts
	// from when it got the rule, which the agent can only estimate by the
	// rule's last change.
	anchor, inAWS := r.CreatedAt, v.mode != "local" && v.mode != "off"
	if inAWS {
		anchor = r.UpdatedAt
	}
	if s, err := r.FireSchedule(anchor); err == nil {
		out.ScheduleText = s.Describe()
		// With a window, the last fire may still start up to a window after
		// its time (but not one from before the rule was created): the rule
		// is done once that has passed too.
		horizon := v.now.Add(-r.FlexibleWindow)
		if horizon.Before(r.CreatedAt) {
			horizon = r.CreatedAt
		}
		out.Done = s.Done(horizon)
		if r.Enabled && v.mode != "off" {
			out.NextFireTimes = s.NextN(v.now, 5)
			out.NextFireTimesApproximate = inAWS && s.IsRate() && r.StartDate.IsZero() && len(out.NextFireTimes) > 0
		}
	}
	out.MissedFire = v.missed
	if v.lastRun != nil {
		lr := apiRunSummary(*v.lastRun)
		out.LastRun = &lr
	}
	switch v.mode {
	case "local", "off":
		out.Sync = api.Sync{State: v.mode}
	default:
		out.Sync = api.Sync{State: r.Sync.State, Error: r.Sync.Error, ARN: r.Sync.ARN, At: timePtr(r.Sync.At)}
	}
	return out
}

func apiToken(t store.Token) api.Token {
	return api.Token{Name: t.Name, Role: string(t.Role), CreatedAt: t.CreatedAt.UTC(), LastUsedAt: timePtr(t.LastUsedAt)}
}

func apiAudit(e store.AuditEntry) api.AuditEntry {
	out := api.AuditEntry{ID: e.ID, Time: e.Time.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail}
	// Stored by this agent as JSON; anything else (a damaged database) is
	// left out rather than failing the list.
	if json.Valid(e.Before) {
		out.Before = e.Before
	}
	if json.Valid(e.After) {
		out.After = e.After
	}
	return out
}

// apiEvent converts a broker event; rules need the view (job, mode).
func (s *Server) apiEvent(e events.Event) api.Event {
	out := api.Event{ID: strconv.FormatUint(e.ID, 10), Type: string(e.Type), Time: e.Time.UTC(), RuleName: e.RuleName}
	if e.Run != nil {
		r := apiRun(*e.Run)
		if e.Type == api.EventRunFinished {
			r = apiRunWithOutput(*e.Run)
		}
		out.Run = &r
	}
	if e.Log != nil {
		l := apiLogLine(*e.Log)
		out.Log = &l
	}
	if e.Rule != nil {
		out.Rule = s.eventRule(*e.Rule)
	}
	if e.Maintenance != nil {
		m := apiMaintenance(*e.Maintenance)
		out.Maintenance = &m
	}
	return out
}

// eventRuleTimeout bounds the reads that complete an event's rule.
const eventRuleTimeout = 5 * time.Second

// eventRule is a rule event's rule as the API answers it, last run and
// health included: a client that puts it in place of the rule it had (the
// console does, after every edit) must not lose them. The event is encoded
// once for every stream, so this reads the store once per rule event. If
// the store cannot answer, the rule goes without them: lastRun absent and
// health.recent null, which a client reads as "unknown, keep yours".
func (s *Server) eventRule(r store.Rule) *api.Rule {
	ctx, cancel := context.WithTimeout(context.Background(), eventRuleTimeout)
	defer cancel()
	rs, err := s.rules(ctx, []store.Rule{r})
	if err != nil {
		s.log.Warn("event stream: cannot read the rule's last run and health", "rule", r.Name, "err", err)
		job, _ := s.cfg.Jobs.Get(r.Job)
		out := apiRule(r, ruleView{job: job, mode: s.cfg.SchedulerMode, now: s.cfg.Now(), missed: s.missedFire(r.Name)})
		return &out
	}
	return &rs[0]
}

// missedFire is the fire the rule is missing, nil if none (or the
// dead-man's switch is off).
func (s *Server) missedFire(rule string) *time.Time {
	if s.cfg.Missed == nil {
		return nil
	}
	if t, ok := s.cfg.Missed.MissedFire(rule); ok {
		return timePtr(t)
	}
	return nil
}

// apiHealth is a rule's health as the API gives it: Recent never null,
// the success rate and median run time worked out of it. Runs that never
// started (cancelled while queued) count in the rate, not in the median.
func apiHealth(h store.RuleHealth) api.RuleHealth {
	out := api.RuleHealth{LastSuccess: timePtr(h.LastSuccess), LastFailure: timePtr(h.LastFailure), Recent: make([]api.RunStatus, 0, len(h.Recent))}
	var times []time.Duration
	succeeded := 0
	for _, r := range h.Recent {
		out.Recent = append(out.Recent, r.Status)
		if r.Status == api.StatusSucceeded {
			succeeded++
		}
		if !r.StartedAt.IsZero() {
			times = append(times, r.Duration())
		}
	}
	if len(out.Recent) > 0 {
		out.SuccessRate = float64(succeeded) / float64(len(out.Recent))
	}
	if len(times) > 0 {
		slices.Sort(times)
		m := times[len(times)/2]
		if len(times)%2 == 0 {
			m = (times[len(times)/2-1] + m) / 2
		}
		out.MedianDuration = m.Round(time.Millisecond).String()
	}
	return out
}
