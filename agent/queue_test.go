package agent_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
	"github.com/jobbridge/jobbridge/shared/api"
)

// A rule with a retry policy whose run fails, then succeeds on its retry,
// shows one history: GET /runs?series= lists both, and GET /runs/{id}
// gives each run its attempts, oldest first.
func TestRetryFailsThenSucceedsAsOneSeries(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		// The first run outlasts the rule's timeout (a timeout is a
		// failure); the rule then loses its timeout, and the retry, which
		// reads the rule when it starts, succeeds.
		in := api.RuleInput{Name: "flaky", Job: "demo", Schedule: "rate(1 day)", Timeout: "1s",
			Parameters: map[string]string{"duration": "1500ms", "steps": "1"},
			RunPolicy:  api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 3, Backoff: "2s"}}}
		if _, err := ta.admin.CreateRule(ctx, in); err != nil {
			t.Fatal(err)
		}
		first, err := ta.admin.TriggerRule(ctx, "flaky", nil)
		if err != nil {
			t.Fatal(err)
		}
		failed := ta.waitRun(t, first.ID, api.StatusFailed)
		if failed.Attempt != 1 || failed.CancelledBy != "timeout" {
			t.Errorf("first run: attempt %d cancelled by %q, want 1, timeout", failed.Attempt, failed.CancelledBy)
		}
		in.Timeout = ""
		if _, err := ta.admin.ReplaceRule(ctx, "flaky", in); err != nil {
			t.Fatal(err)
		}
		var series []api.Run
		wait.For(t, 15*time.Second, func() (bool, string) {
			page, err := ta.admin.Runs(ctx, api.RunQuery{Series: first.ID})
			if err != nil {
				t.Fatal(err)
			}
			series = page.Items
			return len(series) == 2 && series[0].Status == api.StatusSucceeded, fmt.Sprintf("series %v", runStates(series))
		})
		retry := series[0]
		if retry.Attempt != 2 || retry.RetryOf != first.ID || retry.Trigger != api.TriggerRetry || retry.NotBefore == nil {
			t.Errorf("retry: attempt %d retryOf %q trigger %s notBefore %v", retry.Attempt, retry.RetryOf, retry.Trigger, retry.NotBefore)
		}
		if gap := retry.StartedAt.Sub(*failed.FinishedAt); gap < 1900*time.Millisecond {
			t.Errorf("the retry started %v after the failure, want its 2s backoff", gap)
		}
		for _, id := range []string{first.ID, retry.ID} {
			got, err := ta.admin.Run(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Attempts) != 2 || got.Attempts[0].ID != first.ID || got.Attempts[0].Status != api.StatusFailed ||
				got.Attempts[1].ID != retry.ID || got.Attempts[1].Status != api.StatusSucceeded {
				t.Errorf("GET /runs/%s attempts: %+v, want the failed first run then the succeeded retry", id, got.Attempts)
			}
		}
		// Succeeded: no third attempt.
		time.Sleep(2500 * time.Millisecond)
		if page, _ := ta.admin.Runs(ctx, api.RunQuery{Series: first.ID}); len(page.Items) != 2 {
			t.Errorf("series after a success: %d runs, want 2", len(page.Items))
		}
		// A run alone has no attempts.
		lone, err := ta.admin.TriggerRule(ctx, "flaky", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := ta.waitRun(t, lone.ID, api.StatusSucceeded); got.Attempts != nil {
			t.Errorf("a run without retries lists attempts %+v", got.Attempts)
		}
	})
}

func runStates(runs []api.Run) []string {
	var out []string
	for _, r := range runs {
		out = append(out, fmt.Sprintf("%d:%s", r.Attempt, r.Status))
	}
	return out
}

// Overlap "queue" through the HTTP API: a trigger while the rule runs is
// answered queued and runs after; a queued run cancelled never runs.
func TestOverlapQueueThroughTheAPI(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "q", Job: "demo", Schedule: "rate(1 day)", Overlap: api.OverlapQueue,
			Parameters: map[string]string{"duration": "400ms", "steps": "1"}}); err != nil {
			t.Fatal(err)
		}
		var runs []api.Run
		for range 3 {
			r, err := ta.admin.TriggerRule(ctx, "q", nil)
			if err != nil {
				t.Fatal(err)
			}
			runs = append(runs, r)
		}
		if runs[0].Status != api.StatusRunning || runs[1].Status != api.StatusQueued || runs[2].Status != api.StatusQueued {
			t.Fatalf("three triggers answered %s, %s, %s; want running, queued, queued", runs[0].Status, runs[1].Status, runs[2].Status)
		}
		cancelled, err := ta.admin.CancelRun(ctx, runs[2].ID, "one is enough")
		if err != nil || cancelled.Status != api.StatusCancelled || cancelled.StartedAt != nil {
			t.Fatalf("cancel the queued run: %+v %v; want cancelled at once, never started", cancelled, err)
		}
		_, err = ta.admin.CancelRun(ctx, runs[2].ID, "again")
		wantStatus(t, err, 409, "cancel a cancelled queued run")
		first := ta.waitRun(t, runs[0].ID, api.StatusSucceeded)
		second := ta.waitRun(t, runs[1].ID, api.StatusSucceeded)
		if second.StartedAt.Before(*first.FinishedAt) {
			t.Errorf("the queued run started at %v, before the first finished at %v", second.StartedAt, first.FinishedAt)
		}
		time.Sleep(500 * time.Millisecond)
		if got, _ := ta.admin.Run(ctx, runs[2].ID); got.Status != api.StatusCancelled || got.StartedAt != nil {
			t.Errorf("the cancelled queued run: %s, started %v", got.Status, got.StartedAt)
		}
		_, err = ta.admin.Runs(ctx, api.RunQuery{Trigger: "often"})
		wantStatus(t, err, 400, "list runs of an unknown trigger")
	})
}

// Three agents on one PostgreSQL share a job limit of 2: however the runs
// are triggered across them, never more than 2 run at once, and all run.
func TestJobLimitIsSharedByTheAgentsOfACluster(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	var agents []*testAgent
	for i := range 3 {
		agents = append(agents, startAgent(t, "shared", func(c *agent.Config) {
			c.DatabaseURL = dbURL
			c.Node = fmt.Sprintf("agent-%d", i)
			c.ClusterHeartbeat = 100 * time.Millisecond
			c.ClusterLease = time.Second
			c.JobLimits = map[string]int{"demo": 2}
		}))
	}
	ctx := context.Background()
	if _, err := agents[0].admin.CreateRule(ctx, api.RuleInput{Name: "limited", Job: "demo", Schedule: "rate(1 day)",
		Parameters: map[string]string{"duration": "300ms", "steps": "1"}}); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		ids []string
		wg  sync.WaitGroup
	)
	for i := range 9 {
		wg.Go(func() {
			r, err := agents[i%3].admin.TriggerRule(ctx, "limited", nil)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids = append(ids, r.ID)
			mu.Unlock()
		})
	}
	stop := make(chan struct{})
	most := 0
	polled := make(chan struct{})
	go func() {
		defer close(polled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			page, err := agents[1].admin.Runs(ctx, api.RunQuery{Job: "demo", Statuses: []api.RunStatus{api.StatusRunning, api.StatusCancelling}})
			if err != nil {
				continue
			}
			most = max(most, len(page.Items))
		}
	}()
	wg.Wait()
	nodes := map[string]bool{}
	for _, id := range ids {
		r := agents[2].waitRun(t, id, api.StatusSucceeded)
		nodes[r.Node] = true
	}
	close(stop)
	<-polled
	if len(ids) != 9 {
		t.Fatalf("%d runs triggered, want 9", len(ids))
	}
	if most > 2 || most < 2 {
		t.Errorf("at most %d runs of the job ran at once, want 2 (the limit, used)", most)
	}
	t.Logf("9 runs of a job limited to 2 ran on %v", slices.Sorted(func(yield func(string) bool) {
		for n := range nodes {
			if !yield(n) {
				return
			}
		}
	}))
}

// A job limit naming a job the agent lacks stops it at start, naming the
// variable; a bad number is refused by Validate.
func TestJobLimitsOfUnknownJobsStopTheAgent(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.JobLimits = map[string]int{"demo": 1, "exprot": 2}
	_, err := agent.New(context.Background(), cfg, nil, func(r *jobs.Registry, env agent.Env) error {
		return builtin.Register(r, builtin.Options{DB: env.DB})
	})
	if err == nil || !strings.Contains(err.Error(), `JOBBRIDGE_JOB_LIMITS: job "exprot" is not registered in this agent`) {
		t.Fatalf("New with a limit of an unknown job: %v", err)
	}
	cfg = testConfig(t)
	cfg.JobLimits = map[string]int{"demo": 0}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), `JOBBRIDGE_JOB_LIMITS: job "demo": 0 is not a positive number of runs`) {
		t.Fatalf("Validate of a limit of 0: %v", err)
	}
}
