package tui_test

import (
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/internal/fakeagent"
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

func seedHostile(a *fakeagent.Agent) {
	seedRuns(a)
	a.SetStatus(api.Status{Store: hostile("store"), Scheduler: "local"})
	a.PutRule(api.Rule{Name: "evil", Job: "demo", Schedule: "rate(1 hour)", Enabled: true,
		Description: hostile("desc"), ScheduleText: hostile("words"),
		Sync:       api.Sync{State: "error", Error: hostile("sync")},
		Parameters: map[string]string{"duration": hostile("param"), "header": "A: 1\nB: 2"}})
	a.AddRuns(api.Run{ID: "run-0009-evil9999", Rule: "evil", Job: "demo", Status: api.StatusRunning,
		Trigger: api.Trigger(hostile("trig")), CreatedAt: clock, StartedAt: ptr(clock), TriggeredBy: hostile("who"),
		Parameters: map[string]string{"duration": hostile("param"), "header": "A: 1\nB: 2"},
		Error:      hostile("error"), CancelReason: hostile("reason"),
		Progress: api.Progress{Percent: 10, Message: hostile("progress")}})
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
		f := setup(t, fakeagent.AdminToken, 200, 30, "run run-0009-evil9999", seedHostile)
		f.waitFor(t, "Run run-0009-evil9999", "No log lines yet")
		// After the view has loaded, these reach it through the stream
		// only: the run detail does not fetch the run again.
		f.agent.Progress("run-0009-evil9999", 50, hostile("streamed-progress"))
		f.agent.LogLater("run-0009-evil9999", "info", hostile("streamed-log"))
		f.waitFor(t, "streamed-log", "streamed-progress")
		requireShownNotObeyed(t, f.screen(t),
			`store\x1b]52;c;cHduZWQ=\a\x1b]0;pwned\a\x1b[2J`,
			`duration=param\x1b]52;c;cHduZWQ=\a\x1b]0;pwned\a\x1b[2J `,
			`header=A: 1\nB: 2`,
			`Error: error\x1b]52;c;cHduZWQ=\a\x1b]0;pwned\a\x1b[2J `,
			`streamed-progress\x1b]52;c;`,
			`streamed-log\x1b]52;c;cHduZWQ=\a\x1b]0;pwned\a\x1b[2J `,
			`\u009b\u202e\x7f\r`)
	})
	t.Run("rules, and a rule changed on the stream", func(t *testing.T) {
		f := setup(t, fakeagent.AdminToken, 200, 30, "rules evil", seedHostile)
		f.waitFor(t, "words", "sync")
		changed, _ := f.agent.Rule("evil")
		changed.ScheduleText = hostile("streamed-words")
		f.agent.PutRule(changed)
		f.agent.Publish(api.Event{Type: api.EventRuleChanged, RuleName: "evil", Rule: &changed})
		f.waitFor(t, "streamed-words")
		requireShownNotObeyed(t, f.screen(t),
			`streamed-words\x1b]52;c;`,
			`sync\x1b]52;c;cHduZWQ=\a\x1b]0;pwned\a\x1b[2J`,
			`duration=param\x1b]52;c;`)
	})
	t.Run("runs", func(t *testing.T) {
		f := setup(t, fakeagent.AdminToken, 200, 30, "runs rule:evil", seedHostile)
		f.waitFor(t, "evil9999", "running")
		f.agent.Finish("run-0009-evil9999", api.StatusFailed, hostile("finished"))
		f.waitFor(t, "failed")
		requireShownNotObeyed(t, f.screen(t), `trig\x1…`)
	})
}
