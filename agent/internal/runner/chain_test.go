package runner_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// recorder is a job that records the parameters of each of its runs.
type recorder struct {
	mu   sync.Mutex
	seen []jobs.Params
}

func (rc *recorder) job(id string) funcJob {
	return funcJob{id: id, params: []jobs.Param{{Name: "file"}, {Name: "day"}, {Name: "n"}, {Name: "key", Secret: true}},
		run: func(ctx context.Context, p jobs.Params) error {
			rc.mu.Lock()
			rc.seen = append(rc.seen, p)
			rc.mu.Unlock()
			return nil
		}}
}

func (rc *recorder) runs() []jobs.Params {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]jobs.Params(nil), rc.seen...)
}

// producer is a job that records {"file": "a.csv", "n": {"x": 1}} as its
// output and fails when its parameter fail is true.
var producer = funcJob{id: "producer", params: []jobs.Param{{Name: "day"}, {Name: "fail", Type: jobs.TypeBool}, {Name: "token", Secret: true}},
	run: func(ctx context.Context, p jobs.Params) error {
		if err := jobs.SetOutput(ctx, map[string]any{"file": "a.csv", "n": map[string]int{"x": 1}}); err != nil {
			return err
		}
		if p["fail"] == "true" {
			return errors.New("asked to fail")
		}
		return nil
	}}

// childrenOf returns the runs a run's chains started, oldest first.
func childrenOf(t *testing.T, s store.Store, id string) []store.Run {
	t.Helper()
	runs, _, err := s.RunList(context.Background(), store.RunFilter{Parent: id})
	if err != nil {
		t.Fatal(err)
	}
	for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
		runs[i], runs[j] = runs[j], runs[i]
	}
	return runs
}

func chainSetup(t *testing.T, s store.Store, d *dispatching) store.Rule {
	t.Helper()
	for _, name := range []string{"ok", "bad", "always"} {
		createRule(t, s, store.Rule{Name: name, Job: "child", Parameters: map[string]string{"key": "k-" + name, "day": "rule's"}})
	}
	return createRule(t, s, store.Rule{Name: "parent", Job: "producer", Parameters: map[string]string{"day": "monday", "token": "hunter2"},
		Chains: api.Chains{
			OnSuccess: []api.ChainStep{{Rule: "ok", Parameters: map[string]string{"file": "${output.file}", "day": "${param.day}!", "n": "${output.n}"}}},
			OnFailure: []api.ChainStep{{Rule: "bad", Parameters: map[string]string{"file": "failed: $${output.file}"}}},
			OnFinish:  []api.ChainStep{{Rule: "always"}},
		}})
}

// A run that succeeds starts its onSuccess and onFinish rules, one that
// fails its onFailure and onFinish rules: once, queued with trigger chain
// and their parent, the references filled in from the parent's output and
// parameters, each with its own rule's secret (kept masked in the run).
func TestChainsFollowHowTheRunEnded(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		rc := &recorder{}
		d := newDispatching(t, s, runner.Config{}, producer, rc.job("child"))
		parent := chainSetup(t, s, d)

		ran := startWith(t, d.runner, parent, nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		kids := childrenOf(t, s, ran.ID)
		if len(kids) != 2 || kids[0].Rule != "ok" || kids[1].Rule != "always" {
			t.Fatalf("after a success, chained runs %s; want ok then always", describeRuns(kids))
		}
		for i, k := range kids {
			if k.Status != api.StatusSucceeded || k.Trigger != api.TriggerChain || k.ParentRun != ran.ID || k.ChainDepth != 1 ||
				k.TriggeredBy != "chain:parent" || k.Job != "child" || k.Parameters["key"] != api.MaskedValue || k.EventID == "" {
				t.Errorf("chained run %d: %+v", i, k)
			}
		}
		if got := kids[0].Parameters; got["file"] != "a.csv" || got["day"] != "monday!" || got["n"] != `{"x":1}` {
			t.Errorf("the onSuccess run's parameters: %v; want file a.csv, day monday!, n {\"x\":1}", got)
		}
		// The two chained runs start together: either may run first.
		seen := rc.runs()
		byKey := map[string]jobs.Params{}
		for _, p := range seen {
			byKey[p["key"]] = p
		}
		if len(seen) != 2 || byKey["k-ok"] == nil || byKey["k-always"]["day"] != "rule's" {
			t.Fatalf("the child job got %v; want the rules' own secrets and values", seen)
		}

		failed := startWith(t, d.runner, parent, map[string]string{"fail": "true"})
		time.Sleep(time.Minute)
		synctest.Wait()
		kids = childrenOf(t, s, failed.ID)
		if len(kids) != 2 || kids[0].Rule != "bad" || kids[1].Rule != "always" {
			t.Fatalf("after a failure, chained runs %s; want bad then always", describeRuns(kids))
		}
		if got := kids[0].Parameters["file"]; got != "failed: ${output.file}" {
			t.Errorf("the onFailure run's file: %q, want the literal failed: ${output.file}", got)
		}
		d.stop()
	})
}

func startWith(t *testing.T, r *runner.Runner, rule store.Rule, overrides map[string]string) store.Run {
	t.Helper()
	run, _, err := r.Start(context.Background(), runner.StartParams{Rule: rule, Trigger: api.TriggerManual, TriggeredBy: "tester", Overrides: overrides})
	if err != nil {
		t.Fatal(err)
	}
	return run
}

func describeRuns(runs []store.Run) string {
	var b strings.Builder
	for _, r := range runs {
		b.WriteString(r.Rule + "(" + string(r.Status) + ": " + r.Error + ") ")
	}
	return "[" + b.String() + "]"
}

// A reference the parent cannot fill makes its chained run failed at once,
// saying which, and a step to a disabled rule is recorded skipped; the
// other steps go on.
func TestAChainedRunThatCannotBeMadeIsRecordedFailed(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		rc := &recorder{}
		d := newDispatching(t, s, runner.Config{}, producer, rc.job("child"))
		createRule(t, s, store.Rule{Name: "c", Job: "child"})
		off := createRule(t, s, store.Rule{Name: "off", Job: "child"})
		off.Enabled = false
		if _, err := s.RuleUpdate(context.Background(), off); err != nil {
			t.Fatal(err)
		}
		parent := createRule(t, s, store.Rule{Name: "p", Job: "producer", Chains: api.Chains{OnSuccess: []api.ChainStep{
			{Rule: "c", Parameters: map[string]string{"file": "${output.size}"}},
			{Rule: "gone"},
			{Rule: "c", Parameters: map[string]string{"file": "${output.file}"}},
			{Rule: "off"},
		}}})
		ran := startWith(t, d.runner, parent, nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		kids := childrenOf(t, s, ran.ID)
		if len(kids) != 4 {
			t.Fatalf("chained runs %s, want 4", describeRuns(kids))
		}
		if k := kids[3]; k.Status != api.StatusSkipped || k.Error != "skipped: the rule is disabled" {
			t.Errorf("the run of a disabled rule: %s %q", k.Status, k.Error)
		}
		if k := kids[0]; k.Status != api.StatusFailed || k.FinishedAt.IsZero() || !strings.Contains(k.Error, `parameter "file": "${output.size}": the parent run's output has no field "size"`) {
			t.Errorf("the run with an unknown output field: %s %q", k.Status, k.Error)
		}
		if k := kids[1]; k.Status != api.StatusFailed || !strings.Contains(k.Error, `there is no rule "gone"`) {
			t.Errorf("the run of a rule that is gone: %s %q", k.Status, k.Error)
		}
		if k := kids[2]; k.Status != api.StatusSucceeded {
			t.Errorf("the run that could be made: %s %q", k.Status, k.Error)
		}
		if n := len(rc.runs()); n != 1 {
			t.Errorf("the child job ran %d times, want once", n)
		}
		d.stop()
	})
}

// A rule that chains to itself (stored as it is, as if two saves raced
// past the check) stops after MaxChainDepth chained runs, and the last
// one's log says why.
func TestAChainStopsAtItsDepth(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		d := newDispatching(t, s, runner.Config{}, funcJob{id: "j", run: func(context.Context, jobs.Params) error { return nil }})
		rule := createRule(t, s, store.Rule{Name: "loop", Job: "j", Chains: api.Chains{OnFinish: []api.ChainStep{{Rule: "loop"}}}})
		startWith(t, d.runner, rule, nil)
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		runs, _, err := s.RunList(context.Background(), store.RunFilter{Rule: "loop"})
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != api.MaxChainDepth+1 {
			t.Fatalf("%d runs of the looping rule, want %d", len(runs), api.MaxChainDepth+1)
		}
		last := runs[0]
		if last.ChainDepth != api.MaxChainDepth || last.Status != api.StatusSucceeded {
			t.Fatalf("the last run: depth %d, %s", last.ChainDepth, last.Status)
		}
		lines, err := s.RunLogList(context.Background(), last.ID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(lines) != 1 || !strings.Contains(lines[0].Message, "the rule's chains start nothing: this run is 10 chained runs from the one that began the chain") {
			t.Fatalf("the last run's log: %+v", lines)
		}
		d.stop()
	})
}

// A failed run with a retry to come fires its onFailure chain only after
// its last attempt.
func TestOnFailureWaitsForTheLastAttempt(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		rc := &recorder{}
		d := newDispatching(t, s, runner.Config{}, producer, rc.job("child"))
		createRule(t, s, store.Rule{Name: "bad", Job: "child"})
		parent := createRule(t, s, store.Rule{Name: "p", Job: "producer", Parameters: map[string]string{"fail": "true"},
			Policy: store.RunPolicy{Retry: &store.RetryPolicy{Attempts: 2, Backoff: time.Minute}},
			Chains: api.Chains{OnFailure: []api.ChainStep{{Rule: "bad"}}}})
		first := startWith(t, d.runner, parent, nil)
		time.Sleep(time.Hour)
		synctest.Wait()
		runs := series(t, s, first.ID)
		if len(runs) != 3 {
			t.Fatalf("series %s, want 3 attempts", describeRuns(runs))
		}
		for i, r := range runs {
			want := 0
			if i == 2 {
				want = 1
			}
			if n := len(childrenOf(t, s, r.ID)); n != want {
				t.Errorf("attempt %d started %d chained runs, want %d", i+1, n, want)
			}
		}
		if n := len(rc.runs()); n != 1 {
			t.Errorf("the onFailure rule ran %d times, want once", n)
		}
		d.stop()
	})
}

// A chained run queued when its parent finished survives the agent: a
// paused agent (maintenance) leaves it queued, and the next agent on the
// same database runs it once; a second agent dispatching beside it does
// not run it again.
func TestAChainedRunSurvivesARestartAndRunsOnce(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		rc := &recorder{}
		first := newDispatching(t, s, runner.Config{Node: "before", Paused: func() bool { return true }}, producer, rc.job("child"))
		parent := chainSetup(t, s, first)
		ran := startWith(t, first.runner, parent, nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		kids := childrenOf(t, s, ran.ID)
		if len(kids) != 2 || kids[0].Status != api.StatusQueued || kids[1].Status != api.StatusQueued {
			t.Fatalf("chained runs in maintenance: %s, want both queued", describeRuns(kids))
		}
		first.stop()

		second := newDispatching(t, s, runner.Config{Node: "after-1"}, producer, rc.job("child"))
		third := newDispatching(t, s, runner.Config{Node: "after-2"}, producer, rc.job("child"))
		time.Sleep(time.Minute)
		synctest.Wait()
		kids = childrenOf(t, s, ran.ID)
		if len(kids) != 2 || kids[0].Status != api.StatusSucceeded || kids[1].Status != api.StatusSucceeded {
			t.Fatalf("chained runs after the restart: %s, want both succeeded", describeRuns(kids))
		}
		seen := rc.runs()
		if len(seen) != 2 || seen[0]["file"] != "a.csv" && seen[1]["file"] != "a.csv" {
			t.Fatalf("the child job ran with %v; want twice (ok and always), ok with the parent's file", seen)
		}
		for _, k := range kids {
			if k.Node != "after-1" && k.Node != "after-2" {
				t.Errorf("chained run %s ran on %q", k.Rule, k.Node)
			}
		}
		second.stop()
		third.stop()
	})
}

// blipStore fails RuleGet while fail is above zero, as a database that
// blinks does.
type blipStore struct {
	store.Store
	fail atomic.Int32
}

func (b *blipStore) RuleGet(ctx context.Context, name string) (store.Rule, error) {
	if b.fail.Add(-1) >= 0 {
		return store.Rule{}, fmt.Errorf("blip: %w", store.ErrUnavailable)
	}
	return b.Store.RuleGet(ctx, name)
}

// A blip of the database as a run ends does not lose its chains: the
// rule is read again.
func TestAChainSurvivesABlipAsTheRunEnds(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		bs := &blipStore{Store: s}
		d := newDispatching(t, bs, runner.Config{RuleCacheTTL: -1}, funcJob{id: "j", run: func(context.Context, jobs.Params) error {
			bs.fail.Store(2) // the database blinks as the job ends
			return nil
		}})
		createRule(t, s, store.Rule{Name: "child", Job: "j"})
		rule := createRule(t, s, store.Rule{Name: "parent", Job: "j", Chains: api.Chains{OnSuccess: []api.ChainStep{{Rule: "child"}}}})
		ran := startWith(t, d.runner, rule, nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		if got, err := s.RunGet(context.Background(), ran.ID); err != nil || got.Status != api.StatusSucceeded {
			t.Fatalf("parent = %s, %v", got.Status, err)
		}
		if kids := childrenOf(t, s, ran.ID); len(kids) != 1 || kids[0].Status != api.StatusSucceeded {
			t.Errorf("the parent's onSuccess chain made %v, want one run that succeeded", kids)
		}
		d.stop()
	})
}

// A retry of a chained run stays in its chain: its parent and depth are
// kept, so a chain that loops through retried failures still stops at
// MaxChainDepth.
func TestARetryOfAChainedRunKeepsItsPlaceInTheChain(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		d := newDispatching(t, s, runner.Config{}, funcJob{id: "j", run: func(context.Context, jobs.Params) error { return errors.New("no") }})
		// A loop, as racing edits could store one.
		rule := createRule(t, s, store.Rule{Name: "loop", Job: "j",
			Policy: store.RunPolicy{Retry: &store.RetryPolicy{Attempts: 1, Backoff: time.Minute}},
			Chains: api.Chains{OnFinish: []api.ChainStep{{Rule: "loop"}}}})
		startWith(t, d.runner, rule, nil)
		time.Sleep(3 * time.Hour)
		synctest.Wait()
		runs, _, err := s.RunList(context.Background(), store.RunFilter{Rule: "loop", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		// Each depth 0..MaxChainDepth: a first attempt and its retry.
		if want := 2 * (api.MaxChainDepth + 1); len(runs) != want {
			t.Fatalf("%d runs, want %d: the depth bound does not hold across retries", len(runs), want)
		}
		for _, r := range runs {
			if r.Trigger == api.TriggerRetry {
				first, err := s.RunGet(context.Background(), r.RetryOf)
				if err != nil || r.ParentRun != first.ParentRun || r.ChainDepth != first.ChainDepth {
					t.Errorf("retry %s: parent %q depth %d; its first attempt's: %q %d (%v)", r.ID, r.ParentRun, r.ChainDepth, first.ParentRun, first.ChainDepth, err)
				}
			}
		}
		d.stop()
	})
}

// A run the agent's shutdown stops starts no chain, not even onFinish: its
// work was cut short by a deploy, not ended (as it is not retried).
func TestARunStoppedByTheShutdownStartsNoChain(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		started := make(chan struct{})
		d := newDispatching(t, s, runner.Config{}, funcJob{id: "j", run: func(ctx context.Context, _ jobs.Params) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}}, funcJob{id: "k", run: func(context.Context, jobs.Params) error { return nil }})
		createRule(t, s, store.Rule{Name: "child", Job: "k"})
		rule := createRule(t, s, store.Rule{Name: "parent", Job: "j", Chains: api.Chains{OnFinish: []api.ChainStep{{Rule: "child"}}}})
		ran := startWith(t, d.runner, rule, nil)
		<-started
		d.stop()
		got, err := s.RunGet(context.Background(), ran.ID)
		if err != nil || got.Status != api.StatusCancelled {
			t.Fatalf("parent = %s, %v; want cancelled by the shutdown", got.Status, err)
		}
		if kids := childrenOf(t, s, ran.ID); len(kids) != 0 {
			t.Errorf("the shutdown's cancel started the onFinish chain: %v", kids)
		}
	})
}

// An output field that held a secret is masked; a chain that takes it
// records its run failed rather than hand on the mask (on this agent) or
// lose the value (on another).
func TestAChainDoesNotPassOnAMaskedOutput(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		rc := &recorder{}
		leaky := funcJob{id: "leaky", params: []jobs.Param{{Name: "token", Secret: true}},
			run: func(ctx context.Context, p jobs.Params) error {
				return jobs.SetOutput(ctx, map[string]string{"key": p["token"], "note": "ok"})
			}}
		d := newDispatching(t, s, runner.Config{}, leaky, rc.job("child"))
		createRule(t, s, store.Rule{Name: "c", Job: "child"})
		parent := createRule(t, s, store.Rule{Name: "p", Job: "leaky", Parameters: map[string]string{"token": "s3cr3t-value"},
			Chains: api.Chains{OnSuccess: []api.ChainStep{
				{Rule: "c", Parameters: map[string]string{"file": "${output.key}"}},
				{Rule: "c", Parameters: map[string]string{"file": "${output.note}"}},
			}}})
		ran := startWith(t, d.runner, parent, nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		kids := childrenOf(t, s, ran.ID)
		if len(kids) != 2 {
			t.Fatalf("chained runs %s, want 2", describeRuns(kids))
		}
		if k := kids[0]; k.Status != api.StatusFailed || !strings.Contains(k.Error, `output field "key" holds a masked secret`) {
			t.Errorf("the run taking a masked field: %s %q", k.Status, k.Error)
		}
		if k := kids[1]; k.Status != api.StatusSucceeded || k.Parameters["file"] != "ok" {
			t.Errorf("the run taking a plain field: %s %v", k.Status, k.Parameters)
		}
		for _, got := range rc.runs() {
			if got["file"] != "ok" {
				t.Errorf("the child job got file=%q", got["file"])
			}
		}
		d.stop()
	})
}

// A run with no secret to mask may output a redaction of its own: a chain
// takes it as it is.
func TestAChainTakesAnOutputRedactedByItsJob(t *testing.T) {
	eachVirtual(t, func(t *testing.T, s store.Store) {
		rc := &recorder{}
		redacting := funcJob{id: "redacting", run: func(ctx context.Context, _ jobs.Params) error {
			return jobs.SetOutput(ctx, map[string]string{"dsn": "postgres://u:" + api.MaskedValue + "@h/db"})
		}}
		d := newDispatching(t, s, runner.Config{}, redacting, rc.job("child"))
		createRule(t, s, store.Rule{Name: "c", Job: "child"})
		parent := createRule(t, s, store.Rule{Name: "p", Job: "redacting",
			Chains: api.Chains{OnSuccess: []api.ChainStep{{Rule: "c", Parameters: map[string]string{"file": "${output.dsn}"}}}}})
		ran := startWith(t, d.runner, parent, nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		kids := childrenOf(t, s, ran.ID)
		if len(kids) != 1 || kids[0].Status != api.StatusSucceeded {
			t.Fatalf("chained runs %s, want one that succeeded", describeRuns(kids))
		}
		if got := rc.runs(); len(got) != 1 || got[0]["file"] != "postgres://u:"+api.MaskedValue+"@h/db" {
			t.Errorf("the child job got %v", got)
		}
		d.stop()
	})
}
