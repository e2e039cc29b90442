package tui

import (
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
	{"run ID", "open a run"},
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
			return noteErr(":run takes a run id")
		}
		id := args[0]
		return func() tea.Msg { return session.OpenRunMsg{ID: id} }
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
