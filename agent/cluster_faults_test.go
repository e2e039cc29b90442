package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// Faults of a cluster of agents on PostgreSQL: restarts, outages, lost
// notifications.

// followEvents follows an agent's event stream until the test ends; it
// returns once the agent has accepted the stream.
func followEvents(t *testing.T, c *client.Client) <-chan api.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	evs := make(chan api.Event, 1000)
	opened := make(chan struct{})
	failed := make(chan error, 1)
	go func() {
		failed <- c.StreamOpened(ctx, "", func() { close(opened) }, func(e api.Event) error {
			evs <- e
			return nil
		})
	}()
	select {
	case <-opened:
	case err := <-failed:
		t.Fatalf("open the event stream: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the event stream did not open")
	}
	return evs
}

// nextEvent waits for the stream's next event that matches, and returns
// the events passed over on the way.
func nextEvent(t *testing.T, evs <-chan api.Event, what string, match func(api.Event) bool) (api.Event, []api.Event) {
	t.Helper()
	var skipped []api.Event
	deadline := time.After(20 * time.Second)
	for {
		select {
		case e := <-evs:
			if match(e) {
				return e, skipped
			}
			skipped = append(skipped, e)
		case <-deadline:
			t.Fatalf("no %s in the stream; got %v", what, types(skipped))
		}
	}
}

func isType(typ string) func(api.Event) bool {
	return func(e api.Event) bool { return e.Type == typ }
}

// adminExec runs statements on the test server's own database, as its
// administrator.
func adminExec(t *testing.T, stmts ...string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for _, q := range stmts {
		if _, err := conn.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func dbNameOf(t *testing.T, dbURL string) string {
	return strings.TrimPrefix(mustParse(t, dbURL).Path, "/")
}

// TestAnAgentIsReadyOnlyOnceItHearsTheOthers starts an agent whose LISTEN
// connection cannot be made (the database takes no new connections; the
// pool's are open already): /readyz answers 503 and Ready stays open, so
// nothing takes the agent for ready while the others' events would pass it
// by. Once connections are allowed again, it becomes ready.
func TestAnAgentIsReadyOnlyOnceItHearsTheOthers(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	cfg := testConfig(t)
	cfg.DatabaseURL, cfg.Node, cfg.AdminToken = dbURL, "deaf", adminToken
	cfg.ClusterHeartbeat = 100 * time.Millisecond
	a, err := agent.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	db := pgx.Identifier{dbNameOf(t, dbURL)}.Sanitize()
	adminExec(t, `ALTER DATABASE `+db+` ALLOW_CONNECTIONS false`)
	allowed := false
	defer func() {
		if !allowed {
			adminExec(t, `ALTER DATABASE `+db+` ALLOW_CONNECTIONS true`)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	readyz := func() (int, string) {
		resp, err := http.Get(a.URL() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p api.Problem
		_ = json.NewDecoder(resp.Body).Decode(&p)
		return resp.StatusCode, p.Detail
	}
	for range 10 {
		if code, detail := readyz(); code != http.StatusServiceUnavailable || !strings.Contains(detail, "LISTEN") {
			t.Fatalf("/readyz of an agent that cannot LISTEN: %d %q; want 503 saying it does not listen", code, detail)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case <-a.Ready():
		t.Fatal("Ready is closed while the agent cannot LISTEN")
	default:
	}

	adminExec(t, `ALTER DATABASE `+db+` ALLOW_CONNECTIONS true`)
	allowed = true
	select {
	case <-a.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("the agent was not ready 20s after connections were allowed again")
	}
	if code, detail := readyz(); code != http.StatusOK {
		t.Errorf("/readyz once the agent listens: %d %q", code, detail)
	}
}

// TestALostListenConnectionResetsTheStreams kills the connection on which
// an agent hears the others: its event streams get a reset (events in
// between are lost), and once it has reconnected they show the other
// agents' runs again.
func TestALostListenConnectionResetsTheStreams(t *testing.T) {
	t.Parallel()
	dbURL, agents := startCluster(t, 2)
	ctx := context.Background()
	if _, err := agents[0].admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "20ms", "steps": "1"}}); err != nil {
		t.Fatal(err)
	}
	evs := followEvents(t, agents[1].admin)
	adminExec(t, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
		WHERE datname = '`+dbNameOf(t, dbURL)+`' AND application_name = 'jobbridge listen'`)
	nextEvent(t, evs, "reset after the LISTEN connection dropped", isType(api.EventReset))

	run, err := agents[0].admin.TriggerRule(ctx, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	nextEvent(t, evs, "run.finished of agent-0's run after reconnecting", func(e api.Event) bool {
		return e.Type == api.EventRunFinished && e.Run != nil && e.Run.ID == run.ID
	})
}

// TestASkippedRelayMessageResetsTheStreams sends relayed messages as an
// agent "ghost" would, numbered 1, 2 and then 4: the receiving agent's
// stream shows the events of 1 and 2, then a reset (message 3 was lost),
// then the events of 4.
func TestASkippedRelayMessageResetsTheStreams(t *testing.T) {
	t.Parallel()
	dbURL, agents := startCluster(t, 1)
	evs := followEvents(t, agents[0].admin)
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	send := func(seq int, text string) {
		msg := fmt.Sprintf(`{"o":"ghost","i":"g1","s":%d,"e":[{"t":"run.log","ts":"2025-01-01T00:00:00Z","n":"r","o":"ghost",`+
			`"r":{"ID":"ghost-run","Rule":"r","Job":"demo","Status":"running"},"l":{"Seq":%d,"Level":"info","Message":%q}}]}`, seq, seq, text)
		if _, err := conn.Exec(context.Background(), `SELECT pg_notify('jobbridge_events', $1)`, msg); err != nil {
			t.Fatal(err)
		}
	}
	send(1, "one")
	send(2, "two")
	send(4, "four")
	var got []string
	for len(got) < 4 {
		e, _ := nextEvent(t, evs, "the ghost's events", func(e api.Event) bool { return e.Type == api.EventReset || e.Log != nil })
		if e.Type == api.EventReset {
			got = append(got, "reset")
		} else {
			got = append(got, e.Log.Message)
		}
	}
	if strings.Join(got, " ") != "one two reset four" {
		t.Errorf("stream of messages 1, 2, 4: %v; want one two reset four", got)
	}
}

// TestARunThatSucceededDuringAnOutageStaysSucceeded stops a private
// PostgreSQL for longer than the lease while a run goes on: the run ends
// during the outage, and once the server is back the other agent, which
// could not reach it either, gives the worker a fresh lease rather than
// take it for dead, and the run is recorded as it ended.
func TestARunThatSucceededDuringAnOutageStaysSucceeded(t *testing.T) {
	t.Parallel()
	srv := pgtest.NewServer(t)
	const lease = 5 * time.Second
	on := func(node string) func(*agent.Config) {
		return func(c *agent.Config) {
			c.DatabaseURL, c.Node = srv.URL, node
			c.ClusterHeartbeat, c.ClusterLease = 100*time.Millisecond, lease
		}
	}
	watcher := startAgent(t, "own server", on("watcher"))
	worker := startAgent(t, "own server", on("worker"))
	ctx := context.Background()
	if _, err := worker.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "2s", "steps": "4"}}); err != nil {
		t.Fatal(err)
	}
	run, err := worker.admin.TriggerRule(ctx, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	worker.waitRun(t, run.ID, api.StatusRunning)
	srv.Stop(t)
	time.Sleep(2*lease - 2*time.Second) // the run ends; the outage outlasts the lease
	srv.Start(t)

	var fin api.Run
	wait.For(t, 30*time.Second, func() (bool, string) {
		fin, err = watcher.admin.Run(ctx, run.ID)
		return err == nil && fin.Status == api.StatusSucceeded, fmt.Sprintf("the run after the outage: %+v (%v); want succeeded\nwatcher's log:\n%s", fin, err, watcher.log)
	})
	if fin.Progress.Percent != 100 || fin.Node != "worker" {
		t.Errorf("the run after the outage: %+v", fin)
	}
	if strings.Contains(watcher.log.String(), "marked interrupted") {
		t.Errorf("the watcher took the worker for dead after an outage of its own:\n%s", watcher.log)
	}
}

// TestALiveAgentsOutcomeReplacesAPresumedInterruption marks a run
// interrupted behind its agent's back, as an agent that took it for dead
// would: the agent, alive, records how the run really ended, and its
// stream says so.
func TestALiveAgentsOutcomeReplacesAPresumedInterruption(t *testing.T) {
	t.Parallel()
	dbURL, agents := startCluster(t, 1)
	ta := agents[0]
	ctx := context.Background()
	if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "1s", "steps": "2"}}); err != nil {
		t.Fatal(err)
	}
	evs := followEvents(t, ta.admin)
	run, err := ta.admin.TriggerRule(ctx, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := postgres.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	swept, err := other.RunInterruptActive(ctx, "agent-0", "interrupted: agent agent-0 stopped (presumed)", time.Time{})
	if err != nil || len(swept) != 1 || swept[0].Status != api.StatusInterrupted {
		t.Fatalf("sweep: %+v %v", swept, err)
	}
	fin, _ := nextEvent(t, evs, "run.finished of the run", func(e api.Event) bool {
		return e.Type == api.EventRunFinished && e.Run != nil && e.Run.ID == run.ID
	})
	if fin.Run.Status != api.StatusSucceeded || fin.Run.Error != "" || fin.Run.Progress.Percent != 100 {
		t.Errorf("the stream's run.finished: %+v; want succeeded, all its progress in", fin.Run)
	}
	if got := ta.waitRun(t, run.ID, api.StatusSucceeded, api.StatusInterrupted); got.Status != api.StatusSucceeded {
		t.Errorf("the run in the store: %+v; want succeeded", got)
	}
}

// TestAnAgentKeepsItsNodeLockOrStops kills the session holding an agent's
// node lock: the agent takes the lock again and goes on. Then it kills it
// again and, before the agent can, takes the lock as another agent of the
// same name would: the agent stops, saying why.
func TestAnAgentKeepsItsNodeLockOrStops(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	cfg := testConfig(t)
	cfg.DatabaseURL, cfg.Node, cfg.AdminToken = dbURL, "twin", adminToken
	cfg.ClusterHeartbeat = 300 * time.Millisecond
	a, err := agent.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case <-time.After(20 * time.Second):
		t.Fatal("the agent was not ready")
	}
	killLock := `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity
		WHERE datname = '` + dbNameOf(t, dbURL) + `' AND application_name = 'jobbridge node twin'`

	other, err := postgres.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	alive := func() bool {
		agents, err := other.AgentList(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, ag := range agents {
			if ag.Node == "twin" {
				return ag.Alive
			}
		}
		return false
	}
	adminExec(t, killLock)
	wait.For(t, 10*time.Second, func() (bool, string) { return alive(), "the agent did not take its node lock again" })
	select {
	case err := <-done:
		t.Fatalf("the agent stopped after taking its lock again: %v", err)
	default:
	}

	wait.For(t, 10*time.Second, func() (bool, string) {
		adminExec(t, killLock)
		_, err := other.NodeLock(context.Background(), "twin")
		if err != nil && !strings.Contains(err.Error(), store.ErrConflict.Error()) {
			t.Fatalf("take twin's lock: %v", err)
		}
		return err == nil, fmt.Sprintf("take twin's lock: %v", err)
	})
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), `another agent named "twin" took this agent's node lock`) {
			t.Errorf("the agent stopped with %v; want the reason", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the agent went on after another agent of its name took its lock")
	}
}
