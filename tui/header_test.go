package tui_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A notification channel that cannot send (its chat webhook's port is
// closed) shows in the header as soon as the agent's status says it
// fails, and the help says why.
func TestHeaderShowsAFailingNotificationChannel(t *testing.T) {
	hook := "http://" + closedAddr(t) + "/services/T000/B000/XXXX"
	opts := agenttest.Options{Scheduler: agent.SchedulerLocal, Configure: func(c *agent.Config) { c.Notify.WebhookURL = hook }}
	f := setupWith(t, opts, adminToken, 80, 24, "jobs", nil)
	f.waitFor(t, "live", "Jobs")
	admin := f.agent.Client(adminToken)
	ctx := context.Background()
	if _, err := admin.CreateRule(ctx, api.RuleInput{Name: "nightly", Job: "demo", Schedule: "rate(1 day)",
		Parameters: map[string]string{"duration": "10ms", "steps": "1", "fail": "true"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.TriggerRule(ctx, "nightly", nil); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 10*time.Second, func() (bool, string) {
		st, err := admin.Status(ctx)
		return err == nil && len(st.Notifications) == 1 && st.Notifications[0].LastError != "",
			"the agent's status shows the webhook failing"
	})
	f.press("ctrl+l")
	f.waitFor(t, "notify ✗ webhook")
	f.press("?")
	f.waitFor(t, "notify webhook: failing, retrying, last error at", "connection refused")
	f.press("?")
	screen := f.screen(t)
	requireGolden(t, screen)
	if strings.Contains(screen, "XXXX") {
		t.Errorf("the webhook's secret path shows:\n%s", screen)
	}
}

// Three agents share a PostgreSQL database: the console of one counts
// them, and says how many are up once one loses its database session (as
// a crashed agent's ends; an agent that stops cleanly forgets itself).
func TestHeaderShowsTheAgentsOfACluster(t *testing.T) {
	db := agenttest.PostgresDatabase(t)
	// Slow heartbeats with a long lease: no agent forgets the stopped one
	// while the test looks.
	member := func(node string) func(c *agent.Config) {
		return func(c *agent.Config) {
			c.DatabaseURL, c.Node = db, node
			c.ClusterHeartbeat, c.ClusterLease = time.Minute, 10*time.Minute
		}
	}
	f := setupWith(t, agenttest.Options{Scheduler: agent.SchedulerLocal, Configure: member("agent-a")}, adminToken, 80, 24, "jobs", nil)
	agenttest.Start(t, agenttest.Options{Configure: member("agent-b")})
	agenttest.Start(t, agenttest.Options{Configure: member("agent-c")})
	f.waitFor(t, "live")
	f.refreshUntil(t, "3 agents")
	cutOff(t, db, "agent-c")
	wait.For(t, 10*time.Second, func() (bool, string) {
		st, err := f.agent.Client(adminToken).Status(context.Background())
		return err == nil && len(st.Agents) == 3 && st.Agents[2].Node == "agent-c" && !st.Agents[2].Alive,
			"agent-c listed down"
	})
	f.refreshUntil(t, "2 of 3 agents up")
	f.press("?")
	f.waitFor(t, "agent agent-c down, last heartbeat at")
	f.press("?")
	requireGolden(t, f.screen(t))
}

// refreshUntil presses ctrl+l (which asks the agent's status again) every
// 200 ms until the screen shows want.
func (f *fixture) refreshUntil(t *testing.T, want string) {
	t.Helper()
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			f.press("ctrl+l")
			select {
			case <-done:
				return
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	f.waitFor(t, want)
}

// cutOff ends the database session that holds node's lock, as the
// agent's crash would: PostgreSQL frees the lock at once. The agent takes
// it again at its next heartbeat.
func cutOff(t *testing.T, dbURL, node string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid, 5000)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, "jobbridge node "+node).Scan(&n); err != nil || n != 1 {
		t.Fatalf("end the session of %s's node lock: %d ended, %v", node, n, err)
	}
}
