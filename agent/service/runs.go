package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/jobbridge/jobbridge/agent/runner"
	"github.com/jobbridge/jobbridge/agent/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// RunCancel asks a run to stop on behalf of actor.
func (s *Service) RunCancel(ctx context.Context, actor, id, reason string) (store.Run, error) {
	run, err := s.runner.Cancel(ctx, id, actor, reason)
	if err != nil {
		return store.Run{}, err
	}
	s.audit(ctx, actor, "run.cancel", id, reason)
	return run, nil
}

// ErrRuleGone is returned when a run is restarted whose rule was deleted.
var ErrRuleGone = errors.New("the run's rule no longer exists")

// RunRestart starts a new run of the same rule with the earlier run's
// parameters (secrets from the rule, since runs keep them masked), and
// overrides on top.
func (s *Service) RunRestart(ctx context.Context, actor Actor, id string, overrides map[string]string) (store.Run, error) {
	old, err := s.store.RunGet(ctx, id)
	if err != nil {
		return store.Run{}, fmt.Errorf("restart run %s: %w", id, err)
	}
	rule, err := s.store.RuleGet(ctx, old.Rule)
	if errors.Is(err, store.ErrNotFound) {
		return store.Run{}, fmt.Errorf("restart run %s of rule %q: %w", id, old.Rule, ErrRuleGone)
	}
	if err != nil {
		return store.Run{}, fmt.Errorf("restart run %s: %w", id, err)
	}
	params := make(map[string]string, len(old.Parameters)+len(overrides))
	for k, v := range old.Parameters {
		if v != api.MaskedValue {
			params[k] = v
		}
	}
	for k, v := range overrides {
		params[k] = v
	}
	rule.Job = old.Job
	run, err := s.start(ctx, actor, runner.StartParams{
		Rule: rule, Trigger: api.TriggerRestart, TriggeredBy: actor.Name, RestartOf: id, Overrides: params,
	}, overrides)
	if err != nil {
		return store.Run{}, err
	}
	s.audit(ctx, actor.Name, "run.restart", id, "new run "+run.ID)
	return run, nil
}
