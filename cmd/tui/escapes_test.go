package main

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// injected is what a hostile job or API caller puts in text that reaches
// the agent: a clipboard write (OSC 52), a title change, a screen clear and
// a tab, each followed by a word so that the test can tell them from the
// console's own drawing (which clears the screen too).
func injected(tag string) string {
	return tag + "\x1b]52;c;cHduZWQ=\x07" + "\x1b]0;pwned-title\x07" + "\x1b[2Jcleared" + "\tcol2"
}

// obeyedSequences must never reach the terminal raw.
var obeyedSequences = []string{"\x1b]52;c;cHduZWQ=", "\x1b]0;pwned-title", "\x1b[2Jcleared", "\tcol2"}

// shown is injected(tag) as the console draws it, up to the tab (whose
// width depends on the column the text starts at).
func shown(tag string) string {
	return tag + `\x1b]52;c;cHduZWQ=\a\x1b]0;pwned-title\a\x1b[2Jcleared `
}

// TestHostileTextFromARealAgentIsShownNotObeyed runs the real console in a
// real pseudo-terminal against a real agent. One run's parameter carries
// escapes, and its job prints them to its log; another run, while the
// console shows it, is cancelled with escapes in the reason, which become
// its error and reach the console on the event stream. Not one injected
// sequence may reach the terminal raw, and each must show.
func TestHostileTextFromARealAgentIsShownNotObeyed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	bins := t.TempDir()
	agentBin := buildBinary(t, bins, "./cmd/agent", "agent")
	tuiBin := buildBinary(t, bins, "./cmd/tui", "tui")
	dataDir := t.TempDir()
	url := startAgent(t, agentBin, dataDir)

	c := client.New(url, readToken(t, dataDir))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	off := false
	for _, in := range []api.RuleInput{
		{Name: "hostile-echo", Job: "echo", Parameters: map[string]string{"message": injected("param")}},
		{Name: "slow-demo", Job: "demo", Parameters: map[string]string{"duration": "60s", "steps": "60"}},
	} {
		in.Schedule, in.Enabled, in.Description = "rate(1 day)", &off, injected("desc")
		if _, err := c.CreateRule(ctx, in); err != nil {
			t.Fatalf("create rule %s: %v", in.Name, err)
		}
	}
	echo, err := c.TriggerRule(ctx, "hostile-echo", nil)
	if err != nil {
		t.Fatalf("trigger hostile-echo: %v", err)
	}
	waitForLog(ctx, t, c, echo.ID, injected("param"))
	demo, err := c.TriggerRule(ctx, "slow-demo", nil)
	if err != nil {
		t.Fatalf("trigger slow-demo: %v", err)
	}

	cmd := exec.Command(tuiBin, "--view", "run "+echo.ID)
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
	term.waitFor(15*time.Second, "live", "Run "+echo.ID, "SUCCEEDED", shown("message=param"), shown("INFO  param"))

	term.send(":run "+demo.ID, keyEnter)
	term.waitFor(10*time.Second, "Run "+demo.ID, "RUNNING", "step 1/60")
	if _, err := c.CancelRun(ctx, demo.ID, injected("reason")); err != nil {
		t.Fatalf("cancel slow-demo: %v", err)
	}
	term.waitFor(10*time.Second, "CANCELLED", shown("Error: cancelled by admin: reason"))
	term.send("q")
	if code := term.wait(10 * time.Second); code != 0 {
		t.Errorf("the console exited %d, want 0", code)
	}
}

// waitForLog waits until run id has finished with want in its log.
func waitForLog(ctx context.Context, t *testing.T, c *client.Client, id, want string) {
	t.Helper()
	for ctx.Err() == nil {
		run, err := c.Run(ctx, id)
		if err == nil && run.Status.Terminal() {
			lines, err := c.RunLog(ctx, id, 0, 0)
			if err != nil {
				t.Fatalf("read the log of %s: %v", id, err)
			}
			for _, l := range lines {
				if l.Message == want {
					return
				}
			}
			t.Fatalf("run %s ended %s without %q in its log: %+v", id, run.Status, want, lines)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("run %s did not finish: %v", id, ctx.Err())
}
