package tui

import (
	"strings"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/tui/internal/runs"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// commandHelp documents the ":" commands for the help screen.
var commandHelp = [][2]string{
	{"runs [STATUS] [rule:NAME] [job:ID]", "runs, e.g. :runs failed rule:nightly"},
	{"rules [TEXT]", "rules, filtered by TEXT"},
	{"jobs", "the jobs the agent offers"},
	{"run ID", "open a run by its id, its start or its end"},
	{"new", "create a rule"},
	{"quit", "leave the console"},
}

func commandSuggestions() []string {
	out := []string{"rules", "jobs", "new", "quit", "runs"}
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
	names := []string{"runs", "rules", "jobs", "run", "new", "quit", "q", "help"}
	name := ""
	for _, n := range names {
		if n == word {
			name = n
			break
		}
		if strings.HasPrefix(n, word) {
			if name != "" {
				return noteErr("“" + word + "” is ambiguous: say runs, rules, run…")
			}
			name = n
		}
	}
	switch name {
	case "runs":
		return m.jump(session.ViewRuns, args)
	case "rules":
		return m.jump(session.ViewRules, args)
	case "jobs":
		return m.jump(session.ViewJobs, args)
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
	return noteErr("unknown command “" + word + "”: try runs, rules, jobs, run ID, new, quit")
}

func noteErr(text string) tea.Cmd {
	return func() tea.Msg { return session.NoteMsg{Text: text, Err: true} }
}
