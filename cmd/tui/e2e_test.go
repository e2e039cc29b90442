package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// startAgent runs the real agent binary on a free port with its data in
// dir, and returns its URL once it listens.
func startAgent(t *testing.T, bin, dir string) string {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "JOBBRIDGE_DATA_DIR="+dir, "JOBBRIDGE_LISTEN=127.0.0.1:0",
		"JOBBRIDGE_SCHEDULER=local", "JOBBRIDGE_SHUTDOWN_GRACE=2s")
	logFile, err := os.Create(filepath.Join(dir, "agent.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "agent.log"))
			t.Logf("agent log:\n%s", b)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(filepath.Join(dir, "agent.url"))
		if err == nil && strings.TrimSpace(string(b)) != "" {
			url := strings.TrimSpace(string(b))
			tok, _ := os.ReadFile(filepath.Join(dir, "admin-token"))
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := client.New(url, strings.TrimSpace(string(tok))).Status(ctx)
			cancel()
			if err == nil {
				return url
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the agent did not start listening within 20s")
	return ""
}

// TestConsoleAgainstARealAgent drives the real console binary in a real
// pseudo-terminal against a real agent it finds through the data dir alone:
// it creates a rule with parameters, runs it now, watches it run, cancels
// it, sees it cancelled, and restarts it.
func TestConsoleAgainstARealAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	bins := t.TempDir()
	agentBin := buildBinary(t, bins, "./cmd/agent", "agent")
	tuiBin := buildBinary(t, bins, "./cmd/tui", "tui")
	dataDir := t.TempDir()
	url := startAgent(t, agentBin, dataDir)

	cmd := exec.Command(tuiBin)
	cmd.Env = append(os.Environ(), "JOBBRIDGE_DATA_DIR="+dataDir, "TERM=xterm-256color",
		"JOBBRIDGE_AGENT_URL=", "JOBBRIDGE_TOKEN=")
	term := startTerminal(t, cmd, 100, 30)

	term.waitFor(15*time.Second, url, "admin", "live", "No runs yet")
	term.send(":rules", keyEnter)
	term.waitFor(5*time.Second, "No rules yet. Press n")
	term.send("n")
	term.waitFor(5*time.Second, "New rule", "*Name")
	term.send("e2e-demo", keyTab)    // name; the job picker starts on demo
	term.send(keyTab, "rate(1 day)") // schedule
	term.waitFor(5*time.Second, "Every day")
	// zone, start, end, window, description, enabled, timeout, overlap -> duration
	term.send(keyTab, keyTab, keyTab, keyTab, keyTab, keyTab, keyTab, keyTab, keyTab)
	term.send("30s", keyTab, "30") // duration, steps
	term.send(keyCtrlS)
	// The toast names the rule before the list has it: wait for the list's
	// own row and detail (the event that brings it may come 75 ms later).
	term.waitFor(5*time.Second, "rule e2e-demo created", "Never run · sync local")

	term.send("r") // run now: the console opens the new run
	term.waitFor(10*time.Second, "RUNNING", "duration=30s", "steps=30", "demo: starting")
	term.waitFor(10*time.Second, "step 1/30")

	term.send("c")
	term.waitFor(5*time.Second, "(y/N)")
	term.send("y")
	term.waitFor(10*time.Second, "CANCELLED")

	term.send("r") // restart
	term.waitFor(10*time.Second, "restarted as run", "Restart of", "RUNNING")

	c := client.New(url, readToken(t, dataDir))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	page, err := c.Runs(ctx, api.RunQuery{Rule: "e2e-demo"})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 {
		t.Fatalf("the agent has %d runs of e2e-demo, want 2 (the cancelled one and its restart)", len(page.Items))
	}
	restart, first := page.Items[0], page.Items[1]
	if first.Status != api.StatusCancelled || first.Parameters["duration"] != "30s" {
		t.Errorf("first run: %s with %v, want cancelled with duration=30s", first.Status, first.Parameters)
	}
	if restart.RestartOf != first.ID || restart.Trigger != api.TriggerRestart {
		t.Errorf("second run restarts %q by %s, want %s by restart", restart.RestartOf, restart.Trigger, first.ID)
	}

	term.send(keyEsc, "q")
	if code := term.wait(10 * time.Second); code != 0 {
		t.Errorf("the console exited %d, want 0", code)
	}
	term.mu.Lock()
	restored := strings.Contains(term.raw.String(), "\x1b[?1049l")
	term.mu.Unlock()
	if !restored {
		t.Error("the console did not leave the alternate screen on exit")
	}
}

func readToken(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}
