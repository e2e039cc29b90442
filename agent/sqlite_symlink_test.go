package agent_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/sqlite"
	"github.com/jobbridge/jobbridge/shared/api"
)

// A second agent that reaches the first one's SQLite file by another path
// must refuse to start: if it ran, it would mark the first one's running
// runs interrupted and replace its admin token.
func TestSecondAgentThroughASymlinkRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// secondDataDir makes the second agent's data dir, reaching dir's
		// database through a symlink.
		secondDataDir func(t *testing.T, dir string) string
	}{
		{"symlinked data dir", func(t *testing.T, dir string) string {
			link := filepath.Join(t.TempDir(), "data")
			if err := os.Symlink(dir, link); err != nil {
				t.Fatal(err)
			}
			return link
		}},
		{"data dir holding a symlink to the database", func(t *testing.T, dir string) string {
			other := t.TempDir()
			if err := os.Symlink(filepath.Join(dir, "jobbridge.db"), filepath.Join(other, "jobbridge.db")); err != nil {
				t.Fatal(err)
			}
			return other
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			cfg := testConfig(t)
			first, err := agent.New(ctx, cfg, nil, registerWait)
			if err != nil {
				t.Fatal(err)
			}
			defer first.Store().Close()
			running, _, err := first.Store().RunCreate(ctx, store.RunCreateParams{Run: store.Run{
				Rule: "r", Job: "wait", Status: api.StatusRunning, Trigger: api.TriggerManual, Node: cfg.Node,
			}})
			if err != nil {
				t.Fatal(err)
			}
			adminToken := readToken(t, filepath.Join(cfg.DataDir, "admin-token"))

			second := cfg
			second.DataDir = tc.secondDataDir(t, cfg.DataDir)
			a, err := agent.New(ctx, second, nil, registerWait)
			var inUse *sqlite.InUseError
			if !errors.As(err, &inUse) {
				if a != nil {
					a.Store().Close()
				}
				t.Fatalf("second agent on the same database through %s: %v, want an in-use refusal", second.DataDir, err)
			}
			if run, err := first.Store().RunGet(ctx, running.ID); err != nil || run.Status != api.StatusRunning {
				t.Errorf("the first agent's run after the second was refused: %s %q (%v), want still running", run.Status, run.Error, err)
			}
			if _, err := first.Store().TokenGetByHash(ctx, agent.HashToken(adminToken)); err != nil {
				t.Errorf("the first agent's admin token after the second was refused: %v, want it still valid", err)
			}
		})
	}
}
