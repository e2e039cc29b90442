package session

import (
	"github.com/aymanbagabas/go-osc52/v2"
	tea "github.com/charmbracelet/bubbletea"
)

// Copy returns a command that puts text on the operator's clipboard with
// the terminal's clipboard sequence (OSC 52: ESC ] 52 ; c ; base64 BEL),
// written to c.Clipboard, and notes "copied " + what. Over SSH the
// sequence travels in the session's output to the operator's own terminal,
// so the copy lands on the operator's machine, not the agent's. The
// terminal decides whether to obey it (most do; some ask, some need it
// allowed, tmux needs set-clipboard on).
func (c *Context) Copy(what, text string) tea.Cmd {
	w := c.Clipboard
	return func() tea.Msg {
		if w == nil {
			return NoteMsg{Text: "cannot copy " + what + ": this console has no terminal to copy through", Err: true}
		}
		if _, err := osc52.New(text).WriteTo(w); err != nil {
			return Fail("copy "+what, err)
		}
		return NoteMsg{Text: "copied " + what}
	}
}
