// Package service holds what the agent does on an operator's behalf, apart
// from how the request arrived: validating and saving rules (and telling the
// scheduler backend), triggering, cancelling and restarting runs, managing
// API tokens, and writing every change to the audit trail. The HTTP API and
// the command line both call it.
package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/maintenance"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// Backend is told about rule changes after they are stored.
type Backend interface {
	// RuleChanged returns the sync state it recorded for the rule, zero
	// when it keeps none.
	RuleChanged(ctx context.Context, rule store.Rule) store.Sync
	RuleDeleted(ctx context.Context, rule store.Rule)
}

// Service carries out operators' actions. Create it with New.
type Service struct {
	store   store.Store
	jobs    *jobs.Registry
	runner  *runner.Runner
	events  *events.Broker
	backend Backend
	prefix  string
	notify  []string
	log     *slog.Logger
	maint   *maintenance.Switch
	now     func() time.Time

	checkRule func(store.Rule) []FieldProblem
}

// FieldProblem is why the scheduler backend cannot take a field of a rule.
// Field is the rule's JSON field name ("timezone").
type FieldProblem struct {
	Field, Reason string
}

// Config is what a Service needs. Runner, Events and Backend may be nil
// for a service that only manages tokens (the command line's).
type Config struct {
	Store   store.Store
	Jobs    *jobs.Registry
	Runner  *runner.Runner
	Events  *events.Broker
	Backend Backend
	// RulePrefix is prepended to rule names in EventBridge; a name must fit
	// EventBridge's 64 characters with it.
	RulePrefix string
	// NotifyChannels are the notification channels a rule may name.
	NotifyChannels []string
	Logger         *slog.Logger
	// CheckRule, when set, returns the fields of a valid rule that the
	// scheduler backend cannot schedule; the rule is refused naming them.
	CheckRule func(store.Rule) []FieldProblem
	// Maintenance is the agent's maintenance mode. Default: one on Store
	// whose end no timer records (it is still evaluated on read).
	Maintenance *maintenance.Switch
	// Now is the clock maintenance's end times are checked against.
	// Default time.Now.
	Now func() time.Time
}

// New returns a service.
func New(cfg Config) *Service {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Jobs == nil {
		cfg.Jobs = jobs.NewRegistry()
	}
	if cfg.Maintenance == nil && cfg.Store != nil {
		cfg.Maintenance = newMaintenance(cfg)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{
		store: cfg.Store, jobs: cfg.Jobs, runner: cfg.Runner, events: cfg.Events,
		backend: cfg.Backend, prefix: cfg.RulePrefix, notify: cfg.NotifyChannels, log: cfg.Logger,
		checkRule: cfg.CheckRule, maint: cfg.Maintenance, now: cfg.Now,
	}
}

// Jobs returns the registry of jobs.
func (s *Service) Jobs() *jobs.Registry { return s.jobs }

// ConflictError is an action refused because of what is stored (a rule
// name taken, a run already finished). Detail is the sentence an operator
// is shown; the error matches store.ErrConflict.
type ConflictError struct {
	Detail string
	Err    error // the store's error
}

func (e *ConflictError) Error() string { return e.Detail }

// Unwrap returns the store's error, which wraps store.ErrConflict.
func (e *ConflictError) Unwrap() error { return e.Err }

// conflict turns a store conflict into a ConflictError saying detail, and
// returns any other error (nil included) as it is.
func conflict(err error, detail string, args ...any) error {
	if errors.Is(err, store.ErrConflict) {
		return &ConflictError{Detail: fmt.Sprintf(detail, args...), Err: err}
	}
	return err
}

// ValidationError lists everything wrong with a request, field by field.
type ValidationError struct {
	Fields []api.ErrorDetail
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		parts[i] = f.Location + ": " + f.Message
	}
	return "invalid request: " + strings.Join(parts, "; ")
}

func (e *ValidationError) add(loc, format string, args ...any) {
	e.Fields = append(e.Fields, api.ErrorDetail{Location: loc, Message: fmt.Sprintf(format, args...)})
}

func (e *ValidationError) orNil() error {
	if len(e.Fields) == 0 {
		return nil
	}
	return e
}

// audit records an action; a failure to record is logged, not returned:
// the action itself has happened.
func (s *Service) audit(ctx context.Context, actor, action, target, detail string) {
	if err := s.store.AuditAppend(ctx, store.AuditEntry{Actor: actor, Action: action, Target: target, Detail: detail}); err != nil {
		s.log.Error("write audit entry", "actor", actor, "action", action, "target", target, "err", err)
	}
}

func (s *Service) publishRule(t string, r store.Rule) {
	if s.events == nil {
		return
	}
	ev := events.Event{Type: t, RuleName: r.Name}
	if t != api.EventRuleDeleted {
		ev.Rule = &r
	}
	s.events.Publish(ev)
}
