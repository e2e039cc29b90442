package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// payload is what a job's output or a rule's author may hold: a clipboard
// write (OSC 52), a title change, a screen clear and a tab, each followed by
// a word so that the test can tell them from the console's own drawing
// (which clears the screen too).
const payload = "\x1b]52;c;cHduZWQ=\x07" + "\x1b]0;pwned-title\x07" + "\x1b[2Jcleared" + "\tcol2"

// obeyedSequences must never reach the terminal raw.
var obeyedSequences = []string{"\x1b]52;c;cHduZWQ=", "\x1b]0;pwned-title", "\x1b[2Jcleared", "\tcol2"}

// shown is tag+payload as the console draws it, up to the tab (whose width
// depends on the column the text starts at).
func shown(tag string) string {
	return tag + `\x1b]52;c;cHduZWQ=\a\x1b]0;pwned-title\a\x1b[2Jcleared `
}

// TestHostileTextFromARealAgentIsShownNotObeyed runs the real console in a
// real pseudo-terminal against a real agent (the agent's own main, with a
// job whose output is hostile: testdata/hostileagent). The run's parameter
// carries escapes; while the console shows the run, its job writes them to
// its log, progress and error, which reach the console on the event
// stream. Not one injected sequence may reach the terminal raw, and each
// must show as text.
func TestHostileTextFromARealAgentIsShownNotObeyed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	bins := t.TempDir()
	agentBin := buildBinary(t, bins, "./cmd/tui/testdata/hostileagent", "agent")
	tuiBin := buildBinary(t, bins, "./cmd/tui", "tui")
	t.Setenv("HOSTILE_TEXT", payload) // what the job writes
	dataDir := t.TempDir()
	url := startAgent(t, agentBin, dataDir)

	c := client.New(url, readToken(t, dataDir))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	release := filepath.Join(t.TempDir(), "release")
	off := false
	if _, err := c.CreateRule(ctx, api.RuleInput{Name: "hostile", Job: "hostile", Schedule: "rate(1 day)", Enabled: &off,
		Parameters: map[string]string{"message": "param" + payload, "release": release}}); err != nil {
		t.Fatalf("create the rule: %v", err)
	}
	run, err := c.TriggerRule(ctx, "hostile", nil)
	if err != nil {
		t.Fatalf("trigger the rule: %v", err)
	}

	cmd := exec.Command(tuiBin, "--view", "run "+run.ID)
	cmd.Env = append(os.Environ(), "JOBBRIDGE_DATA_DIR="+dataDir, "TERM=xterm-256color",
		"JOBBRIDGE_AGENT_URL=", "JOBBRIDGE_TOKEN=")
	term := startTerminal(t, cmd, 200, 30)
	// Checked however the test ends: a console that obeys the escapes
	// also fails to show them, and that wait stops the test.
	defer func() {
		out := term.rawText()
		for _, seq := range obeyedSequences {
			if i := strings.Index(out, seq); i >= 0 {
				t.Errorf("the console wrote %q raw to the terminal:\n%q", seq, out[max(0, i-200):min(len(out), i+200)])
			}
		}
	}()
	term.waitFor(15*time.Second, "live", "Run "+run.ID, "RUNNING", shown("message=param"))

	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	term.waitFor(15*time.Second, "FAILED", shown("Error: error"), shown("progress"), shown("INFO  log"))
	term.send("q")
	if code := term.wait(10 * time.Second); code != 0 {
		t.Errorf("the console exited %d, want 0", code)
	}
}
