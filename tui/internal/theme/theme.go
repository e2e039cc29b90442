// Package theme holds the console's semantic colours and the styles built
// from them. Every colour adapts to light and dark terminals, and a renderer
// with no colours (NO_COLOR, or a dumb terminal) drops them all, so the
// screen must read without colour: the views never rely on colour alone.
//
// Styles come from one lipgloss.Renderer per terminal: locally the one of
// stdout, over SSH one per session, so each client gets colours its own
// terminal understands.
package theme

import (
	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/textinput"
	"github.com/charmbracelet/lipgloss"

	"github.com/jobbridge/jobbridge/shared/api"
)

// The semantic colours, each with a light- and a dark-background variant.
var (
	colorText     = lipgloss.AdaptiveColor{Light: "#1f2328", Dark: "#e6edf3"}
	colorMuted    = lipgloss.AdaptiveColor{Light: "#656d76", Dark: "#8b949e"}
	colorAccent   = lipgloss.AdaptiveColor{Light: "#0550ae", Dark: "#58a6ff"}
	colorSuccess  = lipgloss.AdaptiveColor{Light: "#1a7f37", Dark: "#3fb950"}
	colorFailure  = lipgloss.AdaptiveColor{Light: "#cf222e", Dark: "#f85149"}
	colorWarning  = lipgloss.AdaptiveColor{Light: "#9a6700", Dark: "#d29922"}
	colorRunning  = lipgloss.AdaptiveColor{Light: "#0969da", Dark: "#79c0ff"}
	colorBorder   = lipgloss.AdaptiveColor{Light: "#d0d7de", Dark: "#30363d"}
	colorSelected = lipgloss.AdaptiveColor{Light: "#ddf4ff", Dark: "#1c2d41"}
	colorBanner   = lipgloss.AdaptiveColor{Light: "#ffebe9", Dark: "#490202"}
)

// Theme is the styles of one terminal.
type Theme struct {
	r *lipgloss.Renderer

	Text     lipgloss.Style
	Muted    lipgloss.Style
	Bold     lipgloss.Style
	Accent   lipgloss.Style
	Success  lipgloss.Style
	Failure  lipgloss.Style
	Warning  lipgloss.Style
	Running  lipgloss.Style
	Selected lipgloss.Style // the row under the cursor
	Header   lipgloss.Style // the top line
	Title    lipgloss.Style // a view's title
	TabOn    lipgloss.Style
	TabOff   lipgloss.Style
	Column   lipgloss.Style // column headings
	Banner   lipgloss.Style // the connection banner
	Label    lipgloss.Style // form labels
	Error    lipgloss.Style // a field's error
	Border   lipgloss.Style
	Key      lipgloss.Style
}

// New returns the theme rendered by r (nil: lipgloss's default renderer, the
// one of stdout).
func New(r *lipgloss.Renderer) *Theme {
	if r == nil {
		r = lipgloss.DefaultRenderer()
	}
	s := func() lipgloss.Style { return r.NewStyle() }
	return &Theme{
		r:        r,
		Text:     s().Foreground(colorText),
		Muted:    s().Foreground(colorMuted),
		Bold:     s().Bold(true),
		Accent:   s().Foreground(colorAccent),
		Success:  s().Foreground(colorSuccess),
		Failure:  s().Foreground(colorFailure),
		Warning:  s().Foreground(colorWarning),
		Running:  s().Foreground(colorRunning),
		Selected: s().Background(colorSelected).Bold(true),
		Header:   s().Foreground(colorText).Bold(true),
		Title:    s().Foreground(colorAccent).Bold(true),
		TabOn:    s().Foreground(colorAccent).Bold(true).Underline(true),
		TabOff:   s().Foreground(colorMuted),
		Column:   s().Foreground(colorMuted).Bold(true),
		Banner:   s().Foreground(colorFailure).Background(colorBanner).Bold(true),
		Label:    s().Foreground(colorText),
		Error:    s().Foreground(colorFailure),
		Border:   s().Foreground(colorBorder),
		Key:      s().Foreground(colorAccent),
	}
}

// Renderer is the renderer the theme's styles belong to.
func (t *Theme) Renderer() *lipgloss.Renderer { return t.r }

// Status styles a run state: green for success, red for failure and for
// a missed fire (an alarm), blue while running, muted while queued, amber
// for the states in between.
func (t *Theme) Status(s api.RunStatus) lipgloss.Style {
	switch s {
	case api.StatusSucceeded:
		return t.Success
	case api.StatusFailed, api.StatusInterrupted:
		return t.Failure
	case api.StatusMissed:
		return t.Failure.Bold(true)
	case api.StatusRunning:
		return t.Running
	case api.StatusQueued:
		return t.Accent
	case api.StatusCancelling, api.StatusCancelled, api.StatusSkipped:
		return t.Warning
	}
	return t.Text
}

// Sync styles a rule's sync state.
func (t *Theme) Sync(state string) lipgloss.Style {
	switch state {
	case "synced", "local":
		return t.Success
	case "error":
		return t.Failure
	case "pending":
		return t.Warning
	}
	return t.Muted
}

// Help returns a help model whose styles use this theme's renderer.
func (t *Theme) Help() help.Model {
	h := help.New()
	h.ShortSeparator = "  " // narrower than " • ": 80 columns hold more keys
	h.Styles = help.Styles{
		Ellipsis:       t.Muted,
		ShortKey:       t.Key,
		ShortDesc:      t.Muted,
		ShortSeparator: t.Border,
		FullKey:        t.Key,
		FullDesc:       t.Muted,
		FullSeparator:  t.Border,
	}
	return h
}

// Input styles a text input with this theme's renderer (its defaults use
// the global renderer, which over SSH is the server's terminal, not the
// client's).
func (t *Theme) Input(in *textinput.Model) {
	in.PromptStyle = t.Muted
	in.TextStyle = t.Text
	in.PlaceholderStyle = t.Muted
	in.CompletionStyle = t.Muted
	in.Cursor.Style = t.r.NewStyle().Reverse(true)
	in.Cursor.TextStyle = t.Text
	// A steady cursor: no blink ticks redrawing the screen twice a second
	// (over SSH that is traffic for nothing).
	in.Cursor.SetMode(cursor.CursorStatic)
}
