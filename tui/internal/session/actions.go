package session

import (
	"context"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
)

// The actions on a run that more than one view offers (the runs list and a
// run's detail): they live here so that no view imports another.

// actionTimeout bounds one request of an action.
const actionTimeout = 15 * time.Second

// ConfirmCancel asks the operator to confirm cancelling run, then cancels
// it. A finished run cannot be cancelled: it says so instead.
func (c *Context) ConfirmCancel(run api.Run) tea.Cmd {
	if !run.Status.Active() {
		return Note(fmt.Sprintf("run %s has finished (%s): nothing to cancel", ShortID(run.ID), run.Status))
	}
	agent := c.Client
	yes := func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		defer cancel()
		if _, err := agent.CancelRun(ctx, run.ID, "cancelled from the console"); err != nil {
			return Fail("cancel run "+ShortID(run.ID), err)
		}
		return NoteMsg{Text: "cancelling run " + ShortID(run.ID) + " of " + run.Rule}
	}
	return func() tea.Msg {
		return ConfirmMsg{Prompt: fmt.Sprintf("Cancel run %s of %s?", ShortID(run.ID), run.Rule), Yes: yes}
	}
}

// RestartedMsg says a run was restarted as Run.
type RestartedMsg struct {
	Run  api.Run
	Open bool // open the new run's detail
}

// Restart starts a new run like run id, with parameter overrides; the
// answer is a RestartedMsg, or a NoteMsg when it fails.
func (c *Context) Restart(id string, overrides map[string]string, open bool) tea.Cmd {
	agent := c.Client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		defer cancel()
		run, err := agent.RestartRun(ctx, id, overrides)
		if err != nil {
			return Fail("restart run "+ShortID(id), err)
		}
		return RestartedMsg{Run: run, Open: open}
	}
}
