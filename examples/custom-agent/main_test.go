package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/cli"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
	"github.com/jobbridge/jobbridge/shared/localagent"
)

// TestCustomAgent runs this program's command line in process, on SQLite in
// a temporary data dir, and drives its own job through the admin API as a
// script would: the job is offered beside the built-in ones, a run of it
// succeeds and logs what it measured, a run over the limit fails, and a
// parameter the job's Validate refuses is a 400.
func TestCustomAgent(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "small", "a.txt"), "hello")
	writeFile(t, filepath.Join(root, "small", "sub", "b.txt"), "world!")
	big := filepath.Join(root, "big", "blob")
	writeFile(t, big, "")
	if err := os.Truncate(big, 2<<20); err != nil { // 2 MiB, sparse
		t.Fatal(err)
	}
	t.Setenv("USAGE_ROOT", root)
	c := startAgent(t)
	ctx := t.Context()

	js, err := c.Jobs(ctx)
	if err != nil {
		t.Fatalf("list jobs: %v", err)
	}
	var ids []string
	for _, j := range js {
		ids = append(ids, j.ID)
	}
	if !slices.Contains(ids, "files.usage") || !slices.Contains(ids, "demo") {
		t.Fatalf("jobs = %v, want files.usage beside the built-in demo", ids)
	}

	_, err = c.CreateRule(ctx, api.RuleInput{Name: "bad-dir", Job: "files.usage", Schedule: "rate(1 day)",
		Parameters: map[string]string{"dir": "../etc"}})
	if client.StatusOf(err) != 400 || !strings.Contains(err.Error(), "dir") {
		t.Fatalf("a rule measuring ../etc: err = %v, want a 400 naming dir", err)
	}

	if _, err := c.CreateRule(ctx, api.RuleInput{Name: "usage", Job: "files.usage", Schedule: "rate(1 day)",
		Parameters: map[string]string{"dir": "small", "limit_mb": "1"}}); err != nil {
		t.Fatalf("create rule: %v", err)
	}
	run := finish(t, c, "usage", nil)
	if run.Status != api.StatusSucceeded {
		t.Fatalf("run of small: status %s (error %q), want succeeded", run.Status, run.Error)
	}
	lines, err := c.RunLog(ctx, run.ID, 0, 100)
	if err != nil {
		t.Fatalf("run log: %v", err)
	}
	const want = "measured dir=small files=2 bytes=11"
	if !slices.ContainsFunc(lines, func(l api.LogLine) bool { return l.Message == want }) {
		t.Fatalf("run log = %+v, want the line %q", lines, want)
	}

	run = finish(t, c, "usage", map[string]string{"dir": "big"})
	if run.Status != api.StatusFailed || !strings.Contains(run.Error, "over the limit of 1 MiB") {
		t.Fatalf("run of big: status %s, error %q; want failed over the limit", run.Status, run.Error)
	}
}

// startAgent runs the agent's command line with this program's jobs until
// the test ends, and returns an admin client found as the console finds a
// local agent: through the data dir.
func startAgent(t *testing.T) *client.Client {
	t.Helper()
	dataDir := t.TempDir()
	t.Setenv("JOBBRIDGE_DATABASE_URL", "") // SQLite, whatever the environment says
	t.Setenv("JOBBRIDGE_ADMIN_TOKEN", "")
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &syncBuffer{}
	exited := make(chan int, 1)
	go func() {
		exited <- cli.Main(ctx, []string{"--listen", "127.0.0.1:0", "--data-dir", dataDir,
			"--scheduler", "off", "--shutdown-grace", "5s"}, io.Discard, stderr, register)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-exited:
			if code != 0 {
				t.Errorf("the agent exited with %d on shutdown:\n%s", code, stderr)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("the agent did not stop within 20s:\n%s", stderr)
		}
	})
	getenv := func(k string) string {
		if k == "JOBBRIDGE_DATA_DIR" {
			return dataDir
		}
		return ""
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		select {
		case code := <-exited:
			t.Fatalf("the agent exited with %d before it listened:\n%s", code, stderr)
		default:
		}
		found, err := localagent.Find(getenv)
		if err != nil {
			t.Fatal(err)
		}
		if found.URL != "" && found.Token != "" {
			return client.New(found.URL, found.Token)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent wrote no agent.url and admin-token in 20s:\n%s", stderr)
		}
	}
}

// finish triggers rule and waits for the run to end.
func finish(t *testing.T, c *client.Client, rule string, overrides map[string]string) api.Run {
	t.Helper()
	run, err := c.TriggerRule(t.Context(), rule, overrides)
	if err != nil {
		t.Fatalf("trigger %s: %v", rule, err)
	}
	for deadline := time.Now().Add(10 * time.Second); !run.Status.Terminal(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("run %s still %s after 10s", run.ID, run.Status)
		}
		if run, err = c.Run(t.Context(), run.ID); err != nil {
			t.Fatalf("get run: %v", err)
		}
	}
	return run
}

// TestUsageStopsWhenCancelled runs the job alone, as the runner would, with
// a context already cancelled: it returns the context's error.
func TestUsageStopsWhenCancelled(t *testing.T) {
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "a.txt"), "x")
	job := NewUsage(os.DirFS(root))
	params, err := jobs.Resolve(job, nil)
	if err != nil {
		t.Fatalf("resolve the defaults: %v", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := job.Run(ctx, params); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run with a cancelled context = %v, want context.Canceled", err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is the agent's stderr, written by the agent while the test
// may read it for a failure message.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
