package agent_test

import (
	"context"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// The status lists the agent that answered: alone on SQLite, and on
// PostgreSQL as the one agent sharing the database.
func TestStatusListsTheAgentItself(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		st, err := ta.admin.Status(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Agents) != 1 {
			t.Fatalf("status agents: %+v; want this agent alone", st.Agents)
		}
		a := st.Agents[0]
		if a.Node != "test-node" || !a.Alive || !a.Self || a.URL != ta.URL() || a.StartedAt.IsZero() {
			t.Errorf("status agent: %+v; want node test-node, alive, self, url %s, a start time", a, ta.URL())
		}
	})
}

// Two agents on one PostgreSQL each list both, alive, themselves marked
// Self; once one stops, the other no longer counts it alive.
func TestStatusListsTheAgentsOfACluster(t *testing.T) {
	t.Parallel()
	_, agents := startCluster(t, 2)
	ctx := context.Background()
	for i, ta := range agents {
		var st api.Status
		wait.For(t, 10*time.Second, func() (bool, string) {
			var err error
			st, err = ta.admin.Status(ctx)
			return err == nil && len(st.Agents) == 2, "agent " + ta.URL() + " lists both agents"
		})
		for j, a := range st.Agents {
			if want := "agent-" + string(rune('0'+j)); a.Node != want || !a.Alive || a.Self != (i == j) || a.URL != agents[j].URL() {
				t.Errorf("agent-%d's status lists %+v at %d; want %s alive, self %v, url %s", i, a, j, want, i == j, agents[j].URL())
			}
		}
	}
	agents[1].stop()
	wait.For(t, 10*time.Second, func() (bool, string) {
		st, err := agents[0].admin.Status(ctx)
		if err != nil {
			return false, err.Error()
		}
		for _, a := range st.Agents {
			if a.Node == "agent-1" && a.Alive {
				return false, "agent-1 still listed alive after it stopped"
			}
		}
		return len(st.Agents) >= 1 && st.Agents[0].Self && st.Agents[0].Alive, "agent-0 lists itself"
	})
}
