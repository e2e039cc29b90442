package agent

import (
	"context"

	"github.com/jobbridge/jobbridge/agent/internal/eventbridge"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// Backend is a scheduler backend: what fires rules on their schedules. The
// local scheduler fires them itself; the EventBridge backend keeps rules in
// AWS in step and lets EventBridge call the webhook. The rule service tells
// the backend about every change after storing it; the backend must not
// block on remote calls there (it records the rule as pending and syncs in
// the background).
type Backend interface {
	// Mode names the backend: "local", "eventbridge", "scheduler" or "off".
	Mode() string
	// RuleChanged is called after a rule was created or changed. It
	// returns the sync state it recorded for the rule (pending, say), which
	// the rule's answer shows; zero when the backend keeps none.
	RuleChanged(ctx context.Context, rule store.Rule) store.Sync
	// RuleDeleted is called after a rule was deleted.
	RuleDeleted(ctx context.Context, rule store.Rule)
	// Run runs the backend until ctx is done.
	Run(ctx context.Context) error
}

// offBackend fires nothing: webhook and manual runs only.
type offBackend struct{}

func (offBackend) Mode() string                                       { return SchedulerOff }
func (offBackend) RuleChanged(context.Context, store.Rule) store.Sync { return store.Sync{} }
func (offBackend) RuleDeleted(context.Context, store.Rule)            {}
func (offBackend) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// checkRuleFor returns the rule check of a scheduler mode: EventBridge's
// scheduled rules run in UTC, recur, and have no dates or flexible window,
// so in that mode a rule that needs any of those is refused with the
// backend that has them; the other modes take every valid rule.
func checkRuleFor(mode string) func(store.Rule) []service.FieldProblem {
	if mode != SchedulerEventBridge {
		return nil
	}
	return func(r store.Rule) []service.FieldProblem {
		const needs = " needs EventBridge Scheduler: EventBridge rules (JOBBRIDGE_SCHEDULER=eventbridge) run in UTC only, recur, and have no dates or window; the scheduler backend (JOBBRIDGE_SCHEDULER=scheduler, EventBridge Scheduler) has them"
		var out []service.FieldProblem
		for _, p := range eventbridge.SchedulerOnlyParts(r) {
			out = append(out, service.FieldProblem{Field: p.Field, Reason: p.What + needs})
		}
		return out
	}
}
