package cli_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// clusterEnv is the environment of an agent binary named node on dbURL,
// with the default lease (30s) unless lease is set.
func clusterEnv(dbURL, node, lease string) []string {
	env := []string{"JOBBRIDGE_DATABASE_URL=" + dbURL, "JOBBRIDGE_NODE=" + node,
		"JOBBRIDGE_CLUSTER_HEARTBEAT=100ms", "JOBBRIDGE_ADMIN_TOKEN=" + adminToken}
	if lease != "" {
		env = append(env, "JOBBRIDGE_CLUSTER_LEASE="+lease)
	}
	return env
}

// waitReady waits for /readyz to answer 200.
func (p *agentProc) waitReady(t testing.TB) {
	t.Helper()
	wait.For(t, 20*time.Second, func() (bool, string) {
		resp, err := http.Get(p.url + "/readyz")
		if err != nil {
			return false, fmt.Sprintf("/readyz: %v:\n%s", err, p.stderr)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Sprintf("/readyz answered %d, want 200:\n%s", resp.StatusCode, p.stderr)
	})
}

// TestAnAgentRestartedAfterAKillTakesOverAtOnce kills an agent on
// PostgreSQL in the middle of a run and starts it again with the same node
// name, as a supervisor would: its dead self's heartbeat is fresh, but its
// node lock went with its session, so it starts at once (not after the
// 30s lease) and marks the run it left interrupted.
func TestAnAgentRestartedAfterAKillTakesOverAtOnce(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	dir := t.TempDir()
	p := startAgent(t, dir, clusterEnv(dbURL, "phoenix", "")...)
	c := client.New(p.url, adminToken)
	ctx := context.Background()
	if _, err := c.CreateRule(ctx, api.RuleInput{Name: "long", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "10m"}}); err != nil {
		t.Fatal(err)
	}
	id := p.deliver(t, "long", "evt-phoenix")
	time.Sleep(300 * time.Millisecond) // a heartbeat or two
	_ = p.cmd.Process.Kill()
	_ = p.cmd.Wait()

	began := time.Now()
	p = startAgent(t, dir, clusterEnv(dbURL, "phoenix", "")...)
	p.waitReady(t)
	took := time.Since(began)
	t.Logf("restarted agent ready %s after it was started again", took.Round(time.Millisecond))
	if took > 15*time.Second {
		t.Errorf("the restarted agent took %s to be ready; want no wait for its dead self's lease", took)
	}
	run, err := client.New(p.url, adminToken).Run(ctx, id)
	if err != nil || run.Status != api.StatusInterrupted {
		t.Errorf("the run the killed agent left: %+v %v; want interrupted", run, err)
	}

	// A second live agent of the same name is still refused, and says why.
	second := startAgentExpectingFailure(t, t.TempDir(), clusterEnv(dbURL, "phoenix", "")...)
	if !strings.Contains(second, `another agent named "phoenix" is alive`) {
		t.Errorf("a second live phoenix: %s", second)
	}
}

// TestAKilledAgentsRunsAreInterruptedByTheOthersAtOnce kills one of two
// agents with a lease of a minute: the other sees the killed agent's node
// lock free and marks its run interrupted within seconds, not a minute.
func TestAKilledAgentsRunsAreInterruptedByTheOthersAtOnce(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.NewDatabase(t)
	survivor := startAgent(t, t.TempDir(), clusterEnv(dbURL, "survivor", "1m")...)
	victim := startAgent(t, t.TempDir(), clusterEnv(dbURL, "victim", "1m")...)
	c := client.New(survivor.url, adminToken)
	ctx := context.Background()
	if _, err := c.CreateRule(ctx, api.RuleInput{Name: "long", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "10m"}}); err != nil {
		t.Fatal(err)
	}
	id := victim.deliver(t, "long", "evt-victim")
	time.Sleep(300 * time.Millisecond)
	_ = victim.cmd.Process.Kill()
	_ = victim.cmd.Wait()
	killed := time.Now()
	var run api.Run
	wait.For(t, 20*time.Second, func() (bool, string) {
		var err error
		if run, err = c.Run(ctx, id); err != nil {
			t.Fatal(err)
		}
		return run.Status == api.StatusInterrupted, fmt.Sprintf("the killed agent's run is %s, want interrupted well within its lease of 1m:\n%s", run.Status, survivor.stderr)
	})
	t.Logf("the victim's run was marked interrupted %s after the kill (lease 1m)", time.Since(killed).Round(10*time.Millisecond))
	if run.Node != "victim" || !strings.Contains(run.Error, "agent victim stopped (its session with PostgreSQL ended)") {
		t.Errorf("interrupted run = %+v", run)
	}
}

// startAgentExpectingFailure runs the binary and waits for it to exit,
// failing the test if it serves instead; it returns what it wrote to
// stderr.
func startAgentExpectingFailure(t *testing.T, dataDir string, env ...string) string {
	t.Helper()
	cmd := exec.Command(agentBinary(t))
	cmd.Env = append(os.Environ(), "JOBBRIDGE_DATA_DIR="+dataDir, "JOBBRIDGE_LISTEN=127.0.0.1:0", "JOBBRIDGE_DATABASE_URL=")
	cmd.Env = append(cmd.Env, env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		if err == nil {
			t.Errorf("the agent exited 0; want a failure")
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("the agent did not exit:\n%s", stderr.String())
	}
	return stderr.String()
}
