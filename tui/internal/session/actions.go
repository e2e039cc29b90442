package session

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// The actions on a run that more than one view offers (the runs list and a
// run's detail): they live here so that no view imports another.

// actionTimeout bounds one request of an action.
const actionTimeout = 15 * time.Second

// ConfirmCancel asks the operator to confirm cancelling run, then cancels
// it. A finished run cannot be cancelled: it says so instead.
func (c *Context) ConfirmCancel(run api.Run) tea.Cmd {
	if !run.Status.Active() && !run.Status.Waiting() {
		return Note(fmt.Sprintf("run %s has finished (%s): nothing to cancel", ShortID(run.ID), run.Status))
	}
	what := "run"
	if run.Status.Waiting() {
		// A queued run has not started: cancelling it means it never will.
		what = "queued run"
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
		return ConfirmMsg{Prompt: fmt.Sprintf("Cancel %s %s of %s?", what, ShortID(run.ID), run.Rule), Yes: yes}
	}
}

// RestartedMsg says a run was restarted as Run.
type RestartedMsg struct {
	Run  api.Run
	Open bool // open the new run's detail
}

// Restart starts a new run like run id, with parameter overrides; the
// answer is a RestartedMsg, or a NoteMsg when it fails. Refused because
// maintenance mode is on, it asks whether to force the restart.
func (c *Context) Restart(id string, overrides map[string]string, open bool) tea.Cmd {
	return c.restart(id, overrides, open, false)
}

func (c *Context) restart(id string, overrides map[string]string, open, force bool) tea.Cmd {
	agent := c.Client
	var forced tea.Cmd
	if !force {
		forced = c.restart(id, overrides, open, true)
	}
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		defer cancel()
		run, err := agent.RestartRunWith(ctx, id, api.RunParams{Parameters: overrides, Force: force})
		switch {
		case err != nil && !force && RefusedForMaintenance(err):
			return OfferForce("restart run "+ShortID(id), err, forced)
		case err != nil:
			return Fail("restart run "+ShortID(id), err)
		}
		return RestartedMsg{Run: run, Open: open}
	}
}

// RefusedForMaintenance reports whether err is the agent refusing a manual
// run because maintenance mode is on (its problem type says so).
func RefusedForMaintenance(err error) bool {
	return client.ProblemTypeOf(err) == api.ProblemMaintenance
}

// OfferForce is the answer to an action refused for maintenance: the
// agent's words and the question whether to do it anyway, which force
// does (it sends api.RunParams.Force).
func OfferForce(doing string, err error, force tea.Cmd) tea.Msg {
	why := Explain(err)
	var ce *client.Error
	if errors.As(err, &ce) && ce.Problem.Detail != "" {
		why = ce.Problem.Detail
	}
	return ConfirmMsg{Prompt: strings.ToUpper(doing[:1]) + doing[1:] + " anyway (force)? " + why, Yes: force}
}

// goingStatuses are the states of a run that is going: started and not
// finished, or queued to start.
var goingStatuses = []api.RunStatus{api.StatusRunning, api.StatusCancelling, api.StatusQueued}

// UnlessGoing does do (an action that starts a run of rule: run now,
// restart) at once when the rule has no run going, and otherwise first
// asks, naming the run going: a second concurrent run is rarely meant.
// The agent is asked at the moment of the key, not the list's copy.
func (c *Context) UnlessGoing(rule, doing string, do tea.Cmd) tea.Cmd {
	if rule == "" {
		return do
	}
	agent := c.Client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		page, err := agent.Runs(ctx, api.RunQuery{Rule: rule, Statuses: goingStatuses, Limit: 2})
		cancel()
		if err != nil {
			return Fail("look for runs of "+rule+" going", err)
		}
		if len(page.Items) == 0 {
			return do()
		}
		r := page.Items[0]
		more := ""
		if len(page.Items) > 1 {
			more = " (and more)"
		}
		return ConfirmMsg{
			Prompt: fmt.Sprintf("%s: run %s is %s%s; %s anyway?", rule, ShortID(r.ID), StatusText(&r), more, doing),
			Yes:    do,
		}
	}
}
