package agenttest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// AddRules creates rules through the API as the admin, so they are
// checked as any client's are; a rule the agent refuses fails the test.
func (a *Agent) AddRules(rules ...api.RuleInput) {
	a.t.Helper()
	c := a.Client(AdminToken)
	for _, in := range rules {
		if _, err := c.CreateRule(context.Background(), in); err != nil {
			a.t.Fatalf("agenttest: create rule %q: %v", in.Name, err)
		}
	}
}

// Rule returns a rule as the agent keeps it, secret parameters in plain
// text (the API masks them); ok is false when there is none.
func (a *Agent) Rule(name string) (rule api.Rule, ok bool) {
	a.t.Helper()
	a.withStore(func(ctx context.Context, s store.Store) error {
		r, err := s.RuleGet(ctx, name)
		if err != nil {
			if isNotFound(err) {
				return nil
			}
			return err
		}
		ok = true
		rule = api.Rule{Name: r.Name, Job: r.Job, Schedule: r.Schedule, Enabled: r.Enabled, Parameters: r.Parameters,
			Description: r.Description, Overlap: r.Overlap, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
		if r.Timeout > 0 {
			rule.Timeout = r.Timeout.String()
		}
		return nil
	})
	return rule, ok
}

// AddRuns writes runs to the store as they are given, and publishes
// nothing: ids, timestamps, states, parameters (give secrets masked, as
// the agent records them), progress and errors, the run whose chain
// started it (ParentRun, a chain one deep) and, for a finished run, its
// Output (JSON, masked as the runner would). A run without a Node gets
// the agent's. The agent may be stopped. A run given as running or
// cancelling has no job behind it (see Progress, Log and Finish).
func (a *Agent) AddRuns(runs ...api.Run) {
	a.t.Helper()
	a.withStore(func(ctx context.Context, s store.Store) error {
		for _, r := range runs {
			if _, err := addRun(ctx, s, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// addRun records r: created running (or skipped), then moved on to its
// state as the runner would.
func addRun(ctx context.Context, s store.Store, r api.Run) (store.Run, error) {
	sr := store.Run{
		ID: r.ID, Rule: r.Rule, Job: r.Job, Status: api.StatusRunning, Trigger: r.Trigger, Parameters: r.Parameters,
		EventID: r.EventID, RestartOf: r.RestartOf, TriggeredBy: r.TriggeredBy, Node: r.Node,
		ScheduledAt: deref(r.ScheduledAt), CreatedAt: r.CreatedAt, StartedAt: deref(r.StartedAt),
		ParentRun: r.ParentRun,
	}
	if sr.ParentRun != "" {
		sr.ChainDepth = 1
	}
	if sr.Node == "" {
		sr.Node = Node
	}
	if r.Status == api.StatusSkipped {
		sr.Status, sr.Error = api.StatusSkipped, r.Error
	}
	run, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: sr})
	if err != nil {
		return run, fmt.Errorf("seed run %s: %w", r.ID, err)
	}
	if r.Progress != (api.Progress{}) {
		if err := s.RunSetProgress(ctx, run.ID, r.Progress); err != nil {
			return run, fmt.Errorf("seed run %s: %w", r.ID, err)
		}
	}
	if err := seedReliable(ctx, s, r); err != nil {
		return run, fmt.Errorf("seed run %s: %w", r.ID, err)
	}
	switch {
	case r.Status == api.StatusQueued:
		// Not started: no start time, and what it waits for (NotBefore).
		if _, err := s.Exec(ctx, `UPDATE runs SET status = 'queued', started_at = NULL WHERE id = $1`, run.ID); err != nil {
			return run, fmt.Errorf("seed run %s queued: %w", r.ID, err)
		}
	case r.Status == api.StatusCancelling:
		if run, err = s.RunSetCancelling(ctx, run.ID, r.CancelledBy, r.CancelReason); err != nil {
			return run, fmt.Errorf("seed run %s: %w", r.ID, err)
		}
	case r.Status.Terminal() && r.Status != api.StatusSkipped:
		run, err = s.RunFinish(ctx, store.RunFinishParams{ID: run.ID, Status: r.Status, Error: r.Error,
			FinishedAt: deref(r.FinishedAt), CancelledBy: r.CancelledBy, CancelReason: r.CancelReason, Output: r.Output})
		if err != nil {
			return run, fmt.Errorf("seed run %s: %w", r.ID, err)
		}
	}
	return s.RunGet(ctx, run.ID)
}

// seedReliable writes a seeded run's place in its retry series (Attempt,
// RetryOf), when a queued one may start (NotBefore) and, for a run given
// Slow, a warnAfter it is past, into the columns the stores keep them in;
// a missed run never started. The columns are written directly, as the
// runner would leave them, whatever the stores' own creation accepts.
func seedReliable(ctx context.Context, s store.Store, r api.Run) error {
	var notBefore any
	if r.NotBefore != nil {
		notBefore = *r.NotBefore
		if s.Kind() == "sqlite" {
			notBefore = r.NotBefore.UnixMicro() // how the SQLite store keeps times
		}
	}
	var warnAfter time.Duration
	if r.Slow && r.StartedAt != nil {
		warnAfter = time.Second // long past for any seeded start
	}
	if _, err := s.Exec(ctx, `UPDATE runs SET attempt = $2, retry_of = $3, not_before = $4, warn_after_ns = $5 WHERE id = $1`,
		r.ID, max(r.Attempt, 1), r.RetryOf, notBefore, int64(warnAfter)); err != nil {
		return fmt.Errorf("attempt, retry of, not before: %w", err)
	}
	if r.Status == api.StatusMissed {
		if _, err := s.Exec(ctx, `UPDATE runs SET started_at = NULL WHERE id = $1`, r.ID); err != nil {
			return fmt.Errorf("missed: %w", err)
		}
	}
	return nil
}

// StartRun records a run as AddRuns does and publishes run.started, as the
// runner does when a job starts.
func (a *Agent) StartRun(r api.Run) {
	a.t.Helper()
	ag := a.agent()
	a.withStore(func(ctx context.Context, s store.Store) error {
		run, err := addRun(ctx, s, r)
		if err != nil {
			return err
		}
		ag.Events().Publish(events.Event{Type: api.EventRunStarted, RuleName: run.Rule, Run: &run})
		return nil
	})
}

// Run returns a run as the API shows it.
func (a *Agent) Run(id string) api.Run {
	a.t.Helper()
	r, err := a.Client(AdminToken).Run(context.Background(), id)
	if err != nil {
		a.t.Fatalf("agenttest: get run %s: %v", id, err)
	}
	return r
}

// Runs returns the newest runs (up to 1000) as the API shows them, newest
// first.
func (a *Agent) Runs() []api.Run {
	a.t.Helper()
	p, err := a.Client(AdminToken).Runs(context.Background(), api.RunQuery{Limit: 1000})
	if err != nil {
		a.t.Fatalf("agenttest: list runs: %v", err)
	}
	return p.Items
}

// Progress records a seeded run's progress and publishes run.progress.
func (a *Agent) Progress(id string, percent int, message string) {
	a.t.Helper()
	ag := a.agent()
	a.withStore(func(ctx context.Context, s store.Store) error {
		if err := s.RunSetProgress(ctx, id, api.Progress{Percent: percent, Message: message}); err != nil {
			return fmt.Errorf("progress of run %s: %w", id, err)
		}
		run, err := s.RunGet(ctx, id)
		if err != nil {
			return err
		}
		ag.Events().Publish(events.Event{Type: api.EventRunProgress, RuleName: run.Rule, Run: &run})
		return nil
	})
}

// Log appends a line, timed by the agent's clock, to a seeded run's log
// and publishes run.log.
func (a *Agent) Log(id, level, message string) {
	a.t.Helper()
	a.FlushLogs()
	a.LogLater(id, level, message)
	a.FlushLogs()
}

// LogLines stores lines of one level at the end of a seeded run's log, in
// one write, timed by the agent's clock and published to no one: a log
// written before the client looked, long ones included.
func (a *Agent) LogLines(id, level string, messages ...string) {
	a.t.Helper()
	a.FlushLogs()
	a.withStore(func(ctx context.Context, s store.Store) error {
		lines := make([]store.LogLine, len(messages))
		for i, m := range messages {
			lines[i] = store.LogLine{Time: a.now(), Level: level, Message: m}
		}
		if err := s.RunLogAppend(ctx, id, lines); err != nil {
			return fmt.Errorf("log of run %s: %w", id, err)
		}
		return nil
	})
}

// LogLater publishes run.log for a line it stores only at the next
// FlushLogs (or Log): the runner, which stores lines in batches, publishes
// each at once, so a client may hear of a line before it can read it.
func (a *Agent) LogLater(id, level, message string) {
	a.t.Helper()
	ag := a.agent()
	a.withStore(func(ctx context.Context, s store.Store) error {
		// The stored log's last line, page after page (a page holds at
		// most 10,000).
		var stored int64
		for {
			page, err := s.RunLogList(ctx, id, stored, 10_000)
			if err != nil {
				return fmt.Errorf("log of run %s: %w", id, err)
			}
			if len(page) == 0 {
				break
			}
			stored = page[len(page)-1].Seq
		}
		a.mu.Lock()
		seq := stored + int64(len(a.held[id])) + 1
		line := store.LogLine{Seq: seq, Time: a.now(), Level: level, Message: message}
		if a.held == nil {
			a.held = map[string][]store.LogLine{}
		}
		a.held[id] = append(a.held[id], line)
		a.mu.Unlock()
		run, err := s.RunGet(ctx, id)
		if err != nil {
			return err
		}
		ag.Events().Publish(events.Event{Type: api.EventRunLog, RuleName: run.Rule, Run: &run, Log: &line})
		return nil
	})
}

// FlushLogs stores the lines LogLater published.
func (a *Agent) FlushLogs() {
	a.t.Helper()
	a.mu.Lock()
	held := a.held
	a.held = nil
	a.mu.Unlock()
	a.withStore(func(ctx context.Context, s store.Store) error {
		for id, lines := range held {
			if err := s.RunLogAppend(ctx, id, lines); err != nil {
				return fmt.Errorf("log of run %s: %w", id, err)
			}
		}
		return nil
	})
}

// Finish ends a seeded run at the agent's clock's time and publishes
// run.finished.
func (a *Agent) Finish(id string, status api.RunStatus, errText string) {
	a.t.Helper()
	ag := a.agent()
	a.withStore(func(ctx context.Context, s store.Store) error {
		run, err := s.RunFinish(ctx, store.RunFinishParams{ID: id, Status: status, Error: errText, FinishedAt: a.now()})
		if err != nil {
			return err
		}
		ag.Events().Publish(events.Event{Type: api.EventRunFinished, RuleName: run.Rule, Run: &run})
		return nil
	})
}

// PublishRun publishes a run event of type typ (api.EventRunLog, ...) with
// run as its snapshot and log, if not nil, as its line, without storing
// anything: for orders of events a test cannot provoke otherwise, such as
// a line that reaches a client after the run's end.
func (a *Agent) PublishRun(typ string, run api.Run, log *api.LogLine) {
	a.t.Helper()
	sr := store.Run{
		ID: run.ID, Rule: run.Rule, Job: run.Job, Status: run.Status, Trigger: run.Trigger, Parameters: run.Parameters,
		EventID: run.EventID, RestartOf: run.RestartOf, TriggeredBy: run.TriggeredBy, CancelledBy: run.CancelledBy,
		CancelReason: run.CancelReason, Node: run.Node, ScheduledAt: deref(run.ScheduledAt), CreatedAt: run.CreatedAt,
		StartedAt: deref(run.StartedAt), FinishedAt: deref(run.FinishedAt), Error: run.Error, Progress: run.Progress,
		Attempt: run.Attempt, RetryOf: run.RetryOf, NotBefore: deref(run.NotBefore),
		ParentRun: run.ParentRun, Output: run.Output,
	}
	ev := events.Event{Type: typ, RuleName: run.Rule, Run: &sr}
	if log != nil {
		ev.Log = &store.LogLine{Seq: log.Seq, Time: log.Time, Level: log.Level, Message: log.Message}
	}
	a.agent().Events().Publish(ev)
}

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

// WaitFinished waits up to 30 seconds for a run to finish and returns it
// as the API shows it; it fails the test if the run is still active then.
func (a *Agent) WaitFinished(id string) api.Run {
	a.t.Helper()
	c := a.Client(AdminToken)
	var r api.Run
	wait.For(a.t, 30*time.Second, func() (bool, string) {
		var err error
		if r, err = c.Run(context.Background(), id); err != nil {
			a.t.Fatalf("agenttest: get run %s: %v", id, err)
		}
		return r.Status.Terminal(), fmt.Sprintf("agenttest: run %s is still %s", id, r.Status)
	})
	return r
}

// SeedMaintenance writes maintenance mode to the agent's store as given,
// unchecked (the API refuses, say, a reason with escape codes, which a
// client must still show safely): as another agent or an older version
// may have left it. Give it while the agent is stopped; a running agent
// reads its store's mode again only after a few seconds. To turn
// maintenance on as an admin does, use the API (client.SetMaintenance).
func (a *Agent) SeedMaintenance(m api.Maintenance) {
	a.t.Helper()
	sm := store.Maintenance{On: m.On, Reason: m.Reason, By: m.By, Since: deref(m.Since)}
	if m.Until != nil {
		sm.Until = *m.Until
	}
	a.withStore(func(ctx context.Context, s store.Store) error {
		if err := s.MaintenanceSet(ctx, sm); err != nil {
			return fmt.Errorf("seed maintenance mode: %w", err)
		}
		return nil
	})
}
