package agent_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// startCluster runs n agents on one fresh PostgreSQL database.
func startCluster(t *testing.T, n int) (string, []*testAgent) {
	t.Helper()
	dbURL := pgtest.NewDatabase(t)
	var agents []*testAgent
	for i := range n {
		agents = append(agents, startAgent(t, "shared", func(c *agent.Config) {
			c.DatabaseURL = dbURL
			c.Node = fmt.Sprintf("agent-%d", i)
			c.ClusterHeartbeat = 100 * time.Millisecond
			c.ClusterLease = time.Second
		}))
	}
	return dbURL, agents
}

func deliver(t *testing.T, ta *testAgent, rule, eventID string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ta.URL()+"/webhook/run", strings.NewReader(`{"rule":"`+rule+`","eventId":"`+eventID+`"}`))
	req.Header.Set("X-Aws-Event-Bridge-Api-Key", "webhook-key-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestADeliveryToSeveralAgentsMakesOneRun(t *testing.T) {
	t.Parallel()
	_, agents := startCluster(t, 3)
	if _, err := agents[0].admin.CreateRule(context.Background(), api.RuleInput{Name: "r", Job: "echo", Schedule: "rate(1 day)"}); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			code, _ := deliver(t, agents[i%3], "r", "evt-shared")
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[http.StatusAccepted] != 1 || codes[http.StatusOK] != 11 {
		t.Errorf("12 deliveries over 3 agents answered %v; want one 202 and eleven 200", codes)
	}
	runs, err := agents[1].admin.Runs(context.Background(), api.RunQuery{Rule: "r"})
	if err != nil || len(runs.Items) != 1 {
		t.Errorf("runs: %+v %v; want exactly one", runs.Items, err)
	}
}

func TestACancelReachesTheAgentRunningTheRun(t *testing.T) {
	t.Parallel()
	_, agents := startCluster(t, 3)
	ctx := context.Background()
	if _, err := agents[0].admin.CreateRule(ctx, api.RuleInput{Name: "long", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "1h"}}); err != nil {
		t.Fatal(err)
	}
	var latencies []time.Duration
	for i := range 5 {
		run, err := agents[1].admin.TriggerRule(ctx, "long", nil)
		if err != nil || run.Node != "agent-1" {
			t.Fatalf("trigger on agent-1: %+v %v", run, err)
		}
		agents[1].waitRun(t, run.ID, api.StatusRunning)
		began := time.Now()
		if _, err := agents[(i%2)*2].admin.CancelRun(ctx, run.ID, "from elsewhere"); err != nil {
			t.Fatal(err)
		}
		fin := agents[1].waitRun(t, run.ID, api.StatusCancelled)
		latencies = append(latencies, time.Since(began))
		if fin.CancelledBy != "admin" || fin.CancelReason != "from elsewhere" {
			t.Errorf("cancelled run = %+v", fin)
		}
	}
	var worst time.Duration
	for _, l := range latencies {
		worst = max(worst, l)
	}
	t.Logf("cross-agent cancel, request to cancelled run recorded: %v (worst %v)", latencies, worst)
	if worst > time.Second {
		t.Errorf("a cross-agent cancel took %v, want well under a second", worst)
	}
}

func TestEveryAgentsStreamShowsEveryAgentsRuns(t *testing.T) {
	t.Parallel()
	_, agents := startCluster(t, 3)
	ctx := context.Background()
	if _, err := agents[0].admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "20ms", "steps": "2"}}); err != nil {
		t.Fatal(err)
	}
	base := agents[2].Events().Subscribers()
	runID := make(chan string, 1)
	go func() {
		if ok, _ := wait.Poll(t, 10*time.Second, func() (bool, string) { return agents[2].Events().Subscribers() > base, "" }); !ok {
			t.Error("agent-2's stream never subscribed")
		}
		run, err := agents[0].admin.TriggerRule(ctx, "r", nil)
		if err != nil {
			t.Error(err)
		}
		runID <- run.ID
	}()
	evs := collect(t, agents[2].admin, "", func(evs []api.Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].Type == api.EventRunFinished
	})
	fin := evs[len(evs)-1]
	if fin.Run == nil || fin.Run.Node != "agent-0" || fin.Run.Status != api.StatusSucceeded || fin.Run.ID != <-runID {
		t.Errorf("agent-2's stream ended with %+v", fin.Run)
	}
	if !hasType(evs, api.EventRunStarted) || !hasType(evs, api.EventRunLog) {
		t.Errorf("agent-2's stream: %v", types(evs))
	}
	// Metrics count only an agent's own runs.
	resp, err := http.Get(agents[2].URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(b), `jobbridge_runs_total{job="demo"`) {
		t.Error("agent-2 counts agent-0's run in its metrics")
	}
}

func TestASecondAgentWithTheSameNodeNameRefuses(t *testing.T) {
	t.Parallel()
	dbURL, agents := startCluster(t, 1)
	_ = agents
	time.Sleep(200 * time.Millisecond) // a heartbeat
	cfg := testConfig(t)
	cfg.DatabaseURL, cfg.Node = dbURL, "agent-0"
	_, err := agent.New(context.Background(), cfg, nil, nil)
	if err == nil || !strings.Contains(err.Error(), `another agent named "agent-0" is alive`) {
		t.Errorf("second agent-0: %v", err)
	}
}

// TestTheDatabaseGoingAwayLosesNothing makes the database refuse every
// connection in the middle of a run: requests in that moment get 503 with
// a retry hint, the job goes on, and its outcome is recorded once the
// database is back.
func TestTheDatabaseGoingAwayLosesNothing(t *testing.T) {
	t.Parallel()
	dbURL, agents := startCluster(t, 1)
	ta := agents[0]
	ctx := context.Background()
	if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "1500ms", "steps": "15"}}); err != nil {
		t.Fatal(err)
	}
	run, err := ta.admin.TriggerRule(ctx, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	dbName := strings.TrimPrefix(mustParse(t, dbURL).Path, "/")
	admin, err := pgx.Connect(ctx, pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	exec := func(q string) {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	ta.waitRun(t, run.ID, api.StatusRunning)
	exec(`ALTER DATABASE ` + pgx.Identifier{dbName}.Sanitize() + ` ALLOW_CONNECTIONS false`)
	exec(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + dbName + `' AND pid <> pg_backend_pid()`)

	code, body := deliver(t, ta, "r", "during-outage")
	if code != http.StatusServiceUnavailable {
		t.Errorf("webhook during the outage: %d %s, want 503", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, ta.URL()+"/api/v1/runs", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("API during the outage: %d (Retry-After %q), want 503 with a retry hint", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	time.Sleep(2 * time.Second) // the job finishes while the database is away
	exec(`ALTER DATABASE ` + pgx.Identifier{dbName}.Sanitize() + ` ALLOW_CONNECTIONS true`)
	fin := ta.waitRun(t, run.ID, api.StatusSucceeded)
	if fin.Progress.Percent != 100 {
		t.Errorf("run after the outage: %+v", fin)
	}
	lines, err := ta.admin.RunLog(ctx, run.ID, 0, 0)
	if err != nil || len(lines) < 15 {
		t.Errorf("log after the outage: %d lines (%v), want the 15 steps", len(lines), err)
	}
	if code, body := deliver(t, ta, "r", "after-outage"); code != http.StatusAccepted {
		t.Errorf("webhook after the outage: %d %s", code, body)
	}
}

func mustParse(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestOnlyTheLeaderFiresAndAnotherTakesOver runs three agents with the local
// scheduler on one database and a rule that fires every minute: each fire
// time makes exactly one run; when the agent that fired stops, another
// fires the next minute. It waits for real minute boundaries (up to two
// minutes).
func TestOnlyTheLeaderFiresAndAnotherTakesOver(t *testing.T) {
	t.Parallel()
	_, agents := startCluster(t, 3)
	ctx := context.Background()
	if _, err := agents[0].admin.CreateRule(ctx, api.RuleInput{Name: "tick", Job: "echo", Schedule: "cron(* * * * ? *)"}); err != nil {
		t.Fatal(err)
	}
	reader := agents[0] // an agent that stays up, to read through
	scheduled := func() []api.Run {
		page, err := reader.admin.Runs(ctx, api.RunQuery{Rule: "tick", Trigger: api.TriggerSchedule})
		if err != nil {
			t.Fatal(err)
		}
		return page.Items
	}
	waitRuns := func(n int) []api.Run {
		wait.For(t, 75*time.Second, func() (bool, string) {
			runs := scheduled()
			return len(runs) >= n, fmt.Sprintf("%d scheduled runs, want %d", len(runs), n)
		})
		time.Sleep(time.Second) // a second fire of the same time would show by now
		return scheduled()
	}
	first := waitRuns(1)
	if len(first) != 1 {
		t.Fatalf("first fire time made %d runs: %+v", len(first), first)
	}
	leader := first[0].Node
	for i, a := range agents {
		if fmt.Sprintf("agent-%d", i) == leader {
			a.stop()
		} else {
			reader = a
		}
	}
	runs := waitRuns(2)
	if len(runs) != 2 || runs[0].ScheduledAt.Equal(*runs[1].ScheduledAt) {
		t.Fatalf("after the leader stopped: %d runs %+v; want one per fire time", len(runs), runs)
	}
	if runs[0].Node == leader {
		t.Errorf("the stopped leader %s fired again", leader)
	}
	t.Logf("%s fired %s; after it stopped, %s fired %s", leader, runs[1].ScheduledAt.Format("15:04"), runs[0].Node, runs[0].ScheduledAt.Format("15:04"))
}

// TestAPostgreSQLRestartInTheMiddleOfRunsLosesNothing restarts a private
// PostgreSQL server while three runs go on: requests in that moment answer
// 503 with a retry hint, the jobs carry on, and their outcomes and logs are
// written once the server is back.
func TestAPostgreSQLRestartInTheMiddleOfRunsLosesNothing(t *testing.T) {
	t.Parallel()
	srv := pgtest.NewServer(t)
	ta := startAgent(t, "own server", func(c *agent.Config) { c.DatabaseURL, c.Node = srv.URL, "restart-test" })
	ctx := context.Background()
	if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "2s", "steps": "10"}}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 3 {
		run, err := ta.admin.TriggerRule(ctx, "r", nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, run.ID)
	}
	for _, id := range ids {
		ta.waitRun(t, id, api.StatusRunning)
	}
	srv.Stop(t)
	if code, body := deliver(t, ta, "r", "during-restart"); code != http.StatusServiceUnavailable {
		t.Errorf("webhook while PostgreSQL is down: %d %s, want 503", code, body)
	}
	req, _ := http.NewRequest(http.MethodGet, ta.URL()+"/api/v1/runs", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
			t.Errorf("API while PostgreSQL is down: %d (Retry-After %q)", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
	}
	time.Sleep(time.Second)
	srv.Start(t)
	for _, id := range ids {
		fin := ta.waitRun(t, id, api.StatusSucceeded)
		lines, err := ta.admin.RunLog(ctx, id, 0, 0)
		if err != nil || len(lines) < 11 || fin.Progress.Percent != 100 {
			t.Errorf("run %s after the restart: progress %d, %d log lines (%v); want 100 and the start plus 10 steps", id, fin.Progress.Percent, len(lines), err)
		}
	}
	if code, body := deliver(t, ta, "r", "after-restart"); code != http.StatusAccepted {
		t.Errorf("webhook after the restart: %d %s", code, body)
	}
}

// TestABurstOnOneAgentReachesTheOthersWhole delivers runs to one agent as
// fast as a few connections can, and reads another agent's event stream:
// it must show every run's start, every log line and its end, each log
// line with the run it belongs to, and no reset (no event lost on the way).
func TestABurstOnOneAgentReachesTheOthersWhole(t *testing.T) {
	t.Parallel()
	_, agents := startCluster(t, 2)
	ctx := context.Background()
	if _, err := agents[0].admin.CreateRule(ctx, api.RuleInput{Name: "burst", Job: "demo", Schedule: "rate(1 day)",
		Parameters: map[string]string{"duration": "0s", "steps": "1"}}); err != nil {
		t.Fatal(err)
	}
	var (
		mu  sync.Mutex
		got []api.Event
	)
	streamCtx, stop := context.WithCancel(ctx)
	defer stop()
	opened := make(chan struct{})
	go func() {
		_ = agents[1].admin.StreamOpened(streamCtx, "", func() { close(opened) }, func(e api.Event) error {
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
			return nil
		})
	}()
	select {
	case <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("agent-1's stream did not open")
	}

	const runs, conns = 1200, 8
	ids := make(chan string, runs)
	var wg sync.WaitGroup
	for w := range conns {
		wg.Go(func() {
			for i := w; i < runs; i += conns {
				code, body := deliver(t, agents[0], "burst", fmt.Sprint("burst-", i))
				if code != http.StatusAccepted {
					t.Errorf("delivery %d: %d %s", i, code, body)
					return
				}
				ids <- body
			}
		})
	}
	wg.Wait()
	close(ids)
	if t.Failed() {
		return
	}

	type seen struct {
		started, finished bool
		lines             []int64
	}
	var byRun map[string]*seen
	wait.For(t, 60*time.Second, func() (bool, string) {
		mu.Lock()
		defer mu.Unlock()
		byRun = map[string]*seen{}
		finished := 0
		for _, e := range got {
			if e.Type == api.EventReset {
				t.Fatalf("agent-1's stream was reset during the burst: an event was lost")
			}
			if e.Run == nil || e.Run.Rule != "burst" {
				continue
			}
			s := byRun[e.Run.ID]
			if s == nil {
				s = &seen{}
				byRun[e.Run.ID] = s
			}
			switch e.Type {
			case api.EventRunStarted:
				s.started = true
			case api.EventRunFinished:
				s.finished = true
				finished++
			case api.EventRunLog:
				if e.Run.Job != "demo" || e.Run.Node != "agent-0" {
					t.Fatalf("a relayed log line's run is %+v; want the run it belongs to", e.Run)
				}
				s.lines = append(s.lines, e.Log.Seq)
			}
		}
		return finished == runs, fmt.Sprintf("%d of %d runs seen finished on agent-1", finished, runs)
	})
	for id, s := range byRun {
		if !s.started || fmt.Sprint(s.lines) != "[1 2 3]" {
			t.Fatalf("run %s on agent-1's stream: started %v, log lines %v; want started, lines [1 2 3]", id, s.started, s.lines)
		}
	}
}
