package agenttest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

var clock = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

func TestAFixedClockFixesNextFireTimes(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{Scheduler: agent.SchedulerLocal, Now: func() time.Time { return clock }})
	a.AddRules(api.RuleInput{Name: "nightly", Job: "demo", Schedule: "cron(0 2 * * ? *)"})
	r, err := a.Client(agenttest.AdminToken).Rule(context.Background(), "nightly")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.NextFireTimes) == 0 || !r.NextFireTimes[0].Equal(clock.Add(14*time.Hour)) {
		t.Errorf("next fire times %v, want 02:00 the day after %s first", r.NextFireTimes, clock)
	}
}

func TestSeededRunsKeepWhatTheyAreGiven(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{RoleTokens: true})
	at := clock.Add(-time.Hour)
	fin := at.Add(2 * time.Second)
	a.AddRuns(api.Run{ID: "run-0001", Rule: "r", Job: "demo", Status: api.StatusFailed, Trigger: api.TriggerSchedule,
		CreatedAt: at, StartedAt: &at, FinishedAt: &fin, Error: "boom"})
	got, err := a.Client(agenttest.ViewerToken).Run(context.Background(), "run-0001")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != api.StatusFailed || got.Error != "boom" || !got.CreatedAt.Equal(at) || got.FinishedAt == nil || !got.FinishedAt.Equal(fin) {
		t.Errorf("the seeded run reads back as %+v", got)
	}
}

// Queued and missed runs cannot be created by the stores' RunCreate as
// the runner creates them yet; seeded, they read back in their state, never
// started.
func TestSeededQueuedAndMissedRuns(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{RoleTokens: true})
	at := clock.Add(-time.Hour)
	// The agent's dispatcher runs on the real clock and its first claim may
	// come after the seeding: a retry due in the past would start, and fail
	// for want of its rule.
	retryAt := time.Now().Add(24 * time.Hour)
	a.AddRuns(
		api.Run{ID: "run-0001", Rule: "r", Job: "demo", Status: api.StatusQueued, Trigger: api.TriggerRetry,
			CreatedAt: at, Attempt: 2, RetryOf: "run-0000", NotBefore: &retryAt},
		api.Run{ID: "run-0002", Rule: "r", Job: "demo", Status: api.StatusMissed, Trigger: api.TriggerSchedule,
			CreatedAt: at, FinishedAt: &at, Error: "the fire of 11:00 did not come"},
	)
	c := a.Client(agenttest.ViewerToken)
	for id, want := range map[string]api.RunStatus{"run-0001": api.StatusQueued, "run-0002": api.StatusMissed} {
		got, err := c.Run(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != want || got.StartedAt != nil {
			t.Errorf("seeded %s reads back %s started at %v, want %s and never started", id, got.Status, got.StartedAt, want)
		}
	}
}

func TestTheRealAgentAnswers(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{RoleTokens: true})
	a.AddRules(api.RuleInput{Name: "x", Job: "demo", Schedule: "rate(1 hour)"})
	_, err := a.Client(agenttest.AdminToken).CreateRule(context.Background(), api.RuleInput{Name: "x", Job: "demo", Schedule: "rate(1 hour)"})
	if client.StatusOf(err) != 409 {
		t.Errorf("a second rule x: %v, want a 409", err)
	}
	if st := client.StatusOf(a.Client(agenttest.OperatorToken).DeleteRule(context.Background(), "x")); st != 403 {
		t.Errorf("an operator deleting a rule: status %d, want 403", st)
	}
}

func TestResumeKeepsTheAddressAndTheData(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{})
	addr := a.Addr()
	a.Stop()
	at := clock
	a.AddRuns(api.Run{ID: "while-away", Rule: "r", Job: "demo", Status: api.StatusSucceeded, CreatedAt: at, StartedAt: &at, FinishedAt: &at})
	a.Resume()
	if a.Addr() != addr {
		t.Errorf("resumed on %s, was %s", a.Addr(), addr)
	}
	if r := a.Run("while-away"); r.Status != api.StatusSucceeded {
		t.Errorf("the run added while stopped reads %s", r.Status)
	}
}

func TestEventBridgeModeShowsWhatAWSRefused(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{EventBridge: true})
	a.FailEventBridge("PutRule", "AccessDeniedException", "not authorized to perform events:PutRule")
	a.AddRules(api.RuleInput{Name: "billing", Job: "demo", Schedule: "cron(0 6 ? * MON *)"})
	c := a.Client(agenttest.AdminToken)
	var r api.Rule
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		if r, err = c.Rule(context.Background(), "billing"); err != nil {
			t.Fatal(err)
		}
		if r.Sync.State == "error" {
			break
		}
	}
	if want := "AccessDeniedException: not authorized to perform events:PutRule"; r.Sync.State != "error" || r.Sync.Error != want {
		t.Errorf("sync %+v, want the error %q", r.Sync, want)
	}
}

// reportJob is a program's own job, as a user of agenttest tests it.
type reportJob struct{}

func (reportJob) ID() string          { return "report" }
func (reportJob) Description() string { return "writes a report" }
func (reportJob) Params() []jobs.Param {
	return []jobs.Param{{Name: "pages", Type: jobs.TypeInt, Default: "1", Description: "how many pages"}}
}

func (reportJob) Run(ctx context.Context, p jobs.Params) error {
	pages, err := p.Int("pages")
	if err != nil {
		return err
	}
	if pages > 3 {
		return errors.New("too many pages")
	}
	jobs.Logger(ctx).Info("report written")
	return nil
}

func TestAProgramsOwnJobRunsInTheRealAgent(t *testing.T) {
	a := agenttest.Start(t, agenttest.Options{
		Jobs: func(r *jobs.Registry, _ agent.Env) error { return r.Register(reportJob{}) },
	})
	a.AddRules(api.RuleInput{Name: "nightly", Job: "report", Schedule: "cron(0 2 * * ? *)"})
	c := a.Client(agenttest.AdminToken)
	run, err := c.TriggerRule(context.Background(), "nightly", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.WaitFinished(run.ID); got.Status != api.StatusSucceeded {
		t.Errorf("the run is %s (%s), want succeeded", got.Status, got.Error)
	}
	run, err = c.TriggerRule(context.Background(), "nightly", map[string]string{"pages": "9"})
	if err != nil {
		t.Fatal(err)
	}
	if got := a.WaitFinished(run.ID); got.Status != api.StatusFailed || got.Error != "too many pages" {
		t.Errorf("the run is %s (%q), want failed with the job's error", got.Status, got.Error)
	}
}
