package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// MaxCancelReason is the longest reason a cancel may give: it is stored
// with the run and shown in every listing of it.
const MaxCancelReason = 512

// checkText says what is wrong with a free text that is stored and shown
// to operators (in their terminals too), or "". Control characters are
// refused rather than stripped, so what is stored is what was sent, and
// one line stays one line.
func checkText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.ContainsFunc(s, unicode.IsControl):
		return "contains control characters (escape codes, line breaks, tabs): send plain text on one line"
	case strings.ContainsFunc(s, isBidiControl):
		return "contains bidirectional controls (U+202A-U+202E, U+2066-U+2069), which make text show other than it reads: send plain text"
	}
	return ""
}

// isBidiControl reports whether r is an explicit bidirectional embedding,
// override or isolate: in a terminal or a mail they reorder what follows.
func isBidiControl(r rune) bool {
	return r >= '\u202a' && r <= '\u202e' || r >= '\u2066' && r <= '\u2069'
}

// RunCancel asks a run to stop on behalf of actor, who may give a reason
// of up to MaxCancelReason bytes of plain text.
func (s *Service) RunCancel(ctx context.Context, actor, id, reason string) (store.Run, error) {
	verr := &ValidationError{}
	if len(reason) > MaxCancelReason {
		verr.add("body.reason", "is %d bytes long, at most %d", len(reason), MaxCancelReason)
	}
	if msg := checkText(reason); msg != "" {
		verr.add("body.reason", "%s", msg)
	}
	if err := verr.orNil(); err != nil {
		return store.Run{}, err
	}
	run, err := s.runner.Cancel(ctx, id, actor, reason)
	if errors.Is(err, store.ErrConflict) {
		status := "finished"
		if r, gerr := s.store.RunGet(ctx, id); gerr == nil {
			status = string(r.Status)
		}
		return store.Run{}, conflict(err, "run %s has already finished (%s)", id, status)
	}
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
// overrides on top. While maintenance is on it is refused
// (ErrMaintenance) unless force.
func (s *Service) RunRestart(ctx context.Context, actor Actor, id string, overrides map[string]string, force bool) (store.Run, error) {
	old, err := s.store.RunGet(ctx, id)
	if err != nil {
		return store.Run{}, fmt.Errorf("restart run %s: %w", id, err)
	}
	if err := s.checkMaintenance(ctx, force); err != nil {
		return store.Run{}, err
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
