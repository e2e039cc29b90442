package agent_test

import (
	"context"
	"testing"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/shared/localagent"
)

// The console finds a local agent through shared/localagent: the agent must
// write its address and generated token where that package looks.
func TestLocalAgentFindsTheAgentsFiles(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := testConfig(t)
	a, err := agent.New(ctx, cfg, nil, registerWait)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Store().Close()
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{localagent.DataDirEnv: cfg.DataDir}
	found, err := localagent.Find(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if found.URL != a.URL() {
		t.Errorf("localagent.Find: URL %q, want the agent's %q", found.URL, a.URL())
	}
	if _, err := a.Store().TokenGetByHash(ctx, agent.HashToken(found.Token)); found.Token == "" || err != nil {
		t.Errorf("localagent.Find: token %q is not the agent's admin token: %v", found.Token, err)
	}
}
