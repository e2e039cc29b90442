package tui_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/shared/api"
)

// hostile is text a job, a rule's author or a broken agent may put in any
// field: a clipboard write (OSC 52), a title change, a screen clear, a tab,
// a C1 CSI, a right-to-left override, DEL and a bare carriage return.
func hostile(tag string) string {
	return tag + "\x1b]52;c;cHduZWQ=\x07\x1b]0;pwned\x07\x1b[2J\tend\u009b\u202e\x7f\r"
}

// obeyed lists what a terminal would act on, were it drawn raw. The tests
// draw in plain ASCII, so the console's own styles put no ESC on the
// screen either: any at all came from the agent.
const obeyed = "\x1b\x07\t\r\x7f\u009b\u202e"

// evil is the run seedHostile adds.
var evil = runID(9, "badc0ded")

// seedHostile adds, beside seedRuns, a rule and a run with hostile text
// wherever the agent keeps text as given: a rule's parameters (it refuses
// control characters in a description), a run's trigger, who started and
// cancelled it and why, its parameters and progress.
func seedHostile(a *agenttest.Agent) {
	seedRuns(a)
	a.AddRules(api.RuleInput{Name: "evil", Job: "echo", Schedule: "rate(1 hour)",
		Parameters: map[string]string{"message": hostile("param")}})
	a.AddRuns(api.Run{ID: evil, Rule: "evil", Job: "echo", Status: api.StatusCancelling,
		Trigger: api.Trigger(hostile("trig")), CreatedAt: clock, StartedAt: ptr(clock), TriggeredBy: hostile("who"),
		CancelledBy: hostile("canceller"), CancelReason: hostile("reason"),
		Parameters: map[string]string{"message": hostile("param"), "header": "A: 1\nB: 2"},
		Progress:   api.Progress{Percent: 10, Message: hostile("progress")}})
}

// requireShownNotObeyed fails if screen holds anything a terminal would
// obey, or lacks any of the visible forms want.
func requireShownNotObeyed(t *testing.T, screen string, want ...string) {
	t.Helper()
	if i := strings.IndexAny(screen, obeyed); i >= 0 {
		t.Errorf("the screen holds %q raw at byte %d:\n%q", []rune(screen[i:])[0], i, screen)
	}
	contains(t, screen, want...)
}

func TestTextFromTheAgentIsShownNotObeyed(t *testing.T) {
	t.Run("run detail, from the API and the event stream", func(t *testing.T) {
		f := setup(t, adminToken, 200, 30, "run "+evil, seedHostile)
		f.waitFor(t, "Run "+evil, "No log lines yet")
		// After the view has loaded, these reach it through the stream
		// only: the run detail does not fetch the run again.
		f.agent.Progress(evil, 50, hostile("streamed-progress"))
		f.agent.LogLater(evil, "info", hostile("streamed-log"))
		f.waitFor(t, "streamed-log", "streamed-progress")
		f.agent.Finish(evil, api.StatusFailed, hostile("error"))
		f.waitFor(t, "FAILED")
		requireShownNotObeyed(t, f.screen(t),
			`message=param\x1b]52;c;cHduZWQ=\a\x1b]0;pwned\a\x1b[2J `,
			`header=A: 1\nB: 2`,
			`Error: error\x1b]52;c;cHduZWQ=\a\x1b]0;pwned\a\x1b[2J `,
			`streamed-progress\x1b]52;c;`,
			`streamed-log\x1b]52;c;cHduZWQ=\a\x1b]0;pwned\a\x1b[2J `,
			`\u009b\u202e\x7f\r`)
	})
	t.Run("rules, and a rule changed on the stream", func(t *testing.T) {
		f := setup(t, adminToken, 200, 30, "rules evil", seedHostile)
		f.waitFor(t, "evil", "param")
		_, err := f.agent.Client(agenttest.AdminToken).ReplaceRule(context.Background(), "evil", api.RuleInput{
			Job: "echo", Schedule: "rate(1 hour)",
			Parameters: map[string]string{"message": hostile("streamed-param")}})
		if err != nil {
			t.Fatal(err)
		}
		f.waitFor(t, "streamed-param")
		requireShownNotObeyed(t, f.screen(t),
			`message=streamed-param\x1b]52;c;cHduZWQ=\a\x1b]0;pwned\a\x1b[2J`)
	})
	t.Run("runs", func(t *testing.T) {
		f := setup(t, adminToken, 200, 30, "runs rule:evil", seedHostile)
		f.waitFor(t, "badc0ded", "cancelling")
		f.agent.Finish(evil, api.StatusFailed, hostile("finished"))
		f.waitFor(t, "failed")
		requireShownNotObeyed(t, f.screen(t), `trig\x1…`)
	})
}
