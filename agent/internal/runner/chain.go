package runner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"

	"github.com/jobbridge/jobbridge/agent/internal/chainref"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// A run that ends starts the runs its rule's chains name for how it ended
// (api.Chains): they are created queued, with the finish, in its
// transaction (store.RunFinishParams.Chained), and only when no retry
// follows it. A finish is recorded once, so the chained runs are made
// once, whichever agent runs the parent and whatever it retries; they then
// start through the dispatcher of any agent, as retries do, within their
// jobs' limits and not during maintenance. A chained run whose values
// cannot be made (a reference the parent cannot fill, a rule gone) is
// recorded failed at once, so that it shows rather than vanishes.

// chained is what a finish creates for a run's chains: the runs, and the
// values each queued one's job is to get, secrets unmasked.
type chained struct {
	runs   []store.Run
	values []map[string]string
}

// chainSteps are the steps a run that ended in status starts.
func chainSteps(c api.Chains, status api.RunStatus) []api.ChainStep {
	var steps []api.ChainStep
	switch status {
	case api.StatusSucceeded:
		steps = append(steps, c.OnSuccess...)
	case api.StatusFailed:
		steps = append(steps, c.OnFailure...)
	case api.StatusCancelled:
	default:
		return nil // skipped, missed, interrupted: nothing ran to its end
	}
	return append(steps, c.OnFinish...)
}

// chainedOf returns the runs ar's rule chains to, ar having ended in
// status with output (masked JSON, nil for none); rule is its rule as read
// when it ended (finishingRule), err why it could not be. note logs a line
// in the run's log (why no chain starts, when it is too deep).
func (r *Runner) chainedOf(ctx context.Context, ar *activeRun, rule store.Rule, err error, status api.RunStatus, output json.RawMessage, note func(string)) chained {
	parent := ar.run
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) { // deleted meanwhile: it chains to nothing
			r.log.Error("read the rule of a run that ended: its chains start nothing", "run", parent.ID, "rule", parent.Rule, "err", err)
			note(fmt.Sprintf("the rule's chains start nothing: its rule could not be read: %v", err))
		}
		return chained{}
	}
	steps := chainSteps(rule.Chains, status)
	if len(steps) == 0 {
		return chained{}
	}
	if parent.ChainDepth >= api.MaxChainDepth {
		note(fmt.Sprintf("the rule's chains start nothing: this run is %d chained runs from the one that began the chain, the most a chain may be", parent.ChainDepth))
		return chained{}
	}
	lookup := r.chainLookup(ar, output)
	var out chained
	for i, step := range steps {
		c := store.Run{
			Rule: step.Rule, Status: api.StatusQueued, Trigger: api.TriggerChain,
			EventID:     fmt.Sprintf("chain:%s:%d", parent.ID, i),
			TriggeredBy: "chain:" + rule.Name, Node: r.cfg.Node, Attempt: 1,
			ParentRun: parent.ID, ChainDepth: parent.ChainDepth + 1,
			Parameters: map[string]string{},
		}
		values, err := r.chainValues(ctx, &c, step, lookup)
		if err != nil {
			c.Status, c.Error = api.StatusFailed, r.mask.mask(fmt.Sprintf("chained from run %s of rule %q: %v", parent.ID, rule.Name, err))
		}
		out.runs = append(out.runs, c)
		out.values = append(out.values, values)
	}
	return out
}

// chainValues fills in c, a run of step's rule, from that rule and the
// step's values (references filled in by lookup), and returns the values
// its job is to get.
func (r *Runner) chainValues(ctx context.Context, c *store.Run, step api.ChainStep, lookup func(chainref.Ref) (string, error)) (map[string]string, error) {
	target, err := r.finishingRule(ctx, step.Rule)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("there is no rule %q", step.Rule)
	}
	if err != nil {
		return nil, fmt.Errorf("read rule %q: %w", step.Rule, err)
	}
	c.Job, c.WarnAfter = target.Job, target.Policy.WarnAfter
	// A rule that never runs two at once has its chained run wait for the
	// run going, as a retry does.
	c.Serial = target.Overlap == api.OverlapQueue || target.Overlap == api.OverlapSkip
	values := maps.Clone(target.Parameters)
	if values == nil {
		values = map[string]string{}
	}
	job, known := r.cfg.Jobs.Get(target.Job)
	mask := func(v map[string]string) map[string]string {
		if known {
			return jobs.Mask(job, v)
		}
		return maskAll(v)
	}
	for name, v := range step.Parameters {
		if known && isSecret(job, name) {
			c.Parameters = mask(values)
			return nil, fmt.Errorf("parameter %q of rule %q is secret, and a chain never carries secrets", name, step.Rule)
		}
		x, err := chainref.Expand(v, lookup)
		if err != nil {
			c.Parameters = mask(values)
			return nil, fmt.Errorf("parameter %q: %w", name, err)
		}
		values[name] = x
	}
	c.Parameters = mask(values)
	if !target.Enabled {
		c.Status, c.Error = api.StatusSkipped, "skipped: the rule is disabled"
	}
	return values, nil
}

// chainLookup fills in the references of a chain step from the run ar,
// its output being output.
func (r *Runner) chainLookup(ar *activeRun, output json.RawMessage) func(chainref.Ref) (string, error) {
	parentJob, _ := r.cfg.Jobs.Get(ar.run.Job)
	var fields map[string]json.RawMessage
	var outErr error
	switch {
	case len(output) == 0:
		outErr = errors.New("the parent run recorded no output")
	default:
		if err := json.Unmarshal(output, &fields); err != nil || fields == nil {
			outErr = errors.New("the parent run's output is not a JSON object")
		}
	}
	// Only where the run had secrets to mask can a mask in its output be
	// one (a job may output a redacted text of its own).
	masked := ar.rep.mask.r != nil
	return func(ref chainref.Ref) (string, error) {
		switch ref.Kind {
		case chainref.Param:
			if parentJob != nil && isSecret(parentJob, ref.Name) {
				return "", fmt.Errorf("%q: the parameter is secret, and a chain never carries secrets", ref.String())
			}
			v, ok := ar.values[ref.Name]
			if !ok {
				return "", fmt.Errorf("%q: the parent run has no parameter %q", ref.String(), ref.Name)
			}
			return v, nil
		default:
			if outErr != nil {
				return "", fmt.Errorf("%q: %w", ref.String(), outErr)
			}
			raw, ok := fields[ref.Name]
			if !ok {
				return "", fmt.Errorf("%q: the parent run's output has no field %q", ref.String(), ref.Name)
			}
			var s string
			if json.Unmarshal(raw, &s) != nil {
				var compact bytes.Buffer
				if err := json.Compact(&compact, raw); err != nil {
					return "", fmt.Errorf("%q: %w", ref.String(), err)
				}
				s = compact.String()
			}
			if masked && strings.Contains(s, api.MaskedValue) {
				// The output was masked where it held a secret: passing the
				// mask on would give the chained run a wrong value.
				return "", fmt.Errorf("%q: the parent run's output field %q holds a masked secret, and a chain never carries secrets", ref.String(), ref.Name)
			}
			return s, nil
		}
	}
}

func isSecret(job jobs.Job, name string) bool {
	for _, p := range job.Params() {
		if p.Name == name {
			return p.Secret
		}
	}
	return false
}

// chainedRecorded tells the dispatcher and the watchers of the runs a
// recorded finish created for its chains.
func (r *Runner) chainedRecorded(ch chained) {
	for i, c := range ch.runs {
		switch c.Status {
		case api.StatusQueued:
			r.remember(c.ID, ch.values[i])
			r.noteWaiting(c)
			r.publish(api.EventRunQueued, c)
		case api.StatusSkipped:
			r.publish(api.EventRunSkipped, c)
		default:
			r.publish(api.EventRunFinished, c)
		}
	}
	r.Wake()
}

// noteLog is a line in a run's log, at warn level.
func noteLog(rep *reporter) func(string) {
	return func(msg string) { rep.Log(slog.LevelWarn, msg) }
}
