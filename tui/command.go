package tui

import (
	"fmt"
	"slices"
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/tui/internal/runs"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// commandHelp documents the ":" commands for the help screen.
var commandHelp = [][2]string{
	{"runs [STATUS] [rule: job: since:]", "runs, e.g. :runs failed since:1h"},
	{"rules [FILTER]", "rules, e.g. :rules status:failing"},
	{"jobs", "the jobs the agent offers"},
	{"audit [actor:X action:Y target:Z]", "the audit trail, e.g. :audit target:nightly"},
	{"run ID", "open a run by its id, its start or its end"},
	{"new", "create a rule"},
	{"tokens", "API tokens (admin): list, create, revoke"},
	{"quit", "leave the console"},
}

func commandSuggestions() []string {
	out := []string{"rules", "jobs", "audit", "new", "quit", "runs", "tokens"}
	for _, t := range runs.Tabs[1:] {
		out = append(out, "runs "+t.Name)
	}
	return out
}

// runCommand obeys what was typed after ":". A word may be shortened while
// it is unambiguous (":ru" is not, ":rul" is rules).
func (m *Model) runCommand(text string) tea.Cmd {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return nil
	}
	word, args := strings.ToLower(fields[0]), fields[1:]
	name, ambiguous := commandName(word)
	if ambiguous {
		return noteErr("“" + word + "” is ambiguous: say runs, rules, run…")
	}
	switch name {
	case "runs":
		return m.jump(session.ViewRuns, args)
	case "rules":
		return m.jump(session.ViewRules, args)
	case "jobs":
		return m.jump(session.ViewJobs, args)
	case "audit":
		return m.jump(session.ViewAudit, args)
	case "tokens":
		return m.jump(session.ViewTokens, args)
	case "run":
		if len(args) != 1 {
			return noteErr(":run takes a run id, or its first or last characters")
		}
		return m.findRun(args[0])
	case "new":
		if !m.s.CanAdmin() {
			return noteErr("your token's role may not create rules")
		}
		return func() tea.Msg { return session.EditRuleMsg{} }
	case "quit", "q":
		return m.quit()
	case "help":
		m.showHelp = true
		return nil
	}
	return noteErr("unknown command “" + word + "”: try runs, rules, jobs, audit, run ID, new, tokens, quit")
}

// commandNames are the words ":" takes.
var commandNames = []string{"runs", "rules", "jobs", "run", "new", "quit", "q", "help", "tokens", "audit"}

// notViews are the commands that open no view: --view may not name them.
var notViews = []string{"quit", "q"}

// commandName is the command word stands for, whole or shortened; ""
// when it stands for none, ambiguous when for several.
func commandName(word string) (name string, ambiguous bool) {
	for _, n := range commandNames {
		if n == word {
			return n, false
		}
		if strings.HasPrefix(n, word) {
			if name != "" {
				return "", true
			}
			name = n
		}
	}
	return name, false
}

// CheckStart checks a first view (Options.Start, the console's --view) as
// the console would obey it, so that a bad one is refused before the
// screen opens instead of opening a screen with nothing on it. The error
// names the view and lists those there are.
func CheckStart(text string) error {
	fields := strings.Fields(text)
	if len(fields) == 0 {
		return nil // the runs
	}
	word, args := strings.ToLower(fields[0]), fields[1:]
	var views []string
	for _, n := range commandNames {
		if !slices.Contains(notViews, n) {
			views = append(views, n)
		}
	}
	valid := "the views are " + strings.Join(views, ", ") + ` (e.g. "runs failed", "rules nightly", "run ID")`
	name, ambiguous := commandName(word)
	switch {
	case ambiguous:
		return fmt.Errorf("view %q is ambiguous: %s", fields[0], valid)
	case name == "" || slices.Contains(notViews, name):
		return fmt.Errorf("no view %q: %s", fields[0], valid)
	case name == "run" && len(args) != 1:
		return fmt.Errorf("view %q takes one run id (\"run ID\")", text)
	case name == "runs":
		if _, err := runs.ParseArgs(args); err != nil {
			return fmt.Errorf("view %q: %w", text, err)
		}
	case name != "rules" && name != "run" && len(args) > 0:
		return fmt.Errorf("view %q takes no arguments", text)
	}
	return nil
}

func noteErr(text string) tea.Cmd {
	return func() tea.Msg { return session.NoteMsg{Text: text, Err: true} }
}
