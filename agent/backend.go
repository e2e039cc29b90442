package agent

import (
	"context"

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
	// RuleChanged is called after a rule was created or changed.
	RuleChanged(ctx context.Context, rule store.Rule)
	// RuleDeleted is called after a rule was deleted.
	RuleDeleted(ctx context.Context, rule store.Rule)
	// Run runs the backend until ctx is done.
	Run(ctx context.Context) error
}

// offBackend fires nothing: webhook and manual runs only.
type offBackend struct{}

func (offBackend) Mode() string                            { return SchedulerOff }
func (offBackend) RuleChanged(context.Context, store.Rule) {}
func (offBackend) RuleDeleted(context.Context, store.Rule) {}
func (offBackend) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}
