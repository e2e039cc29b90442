// Package tokens is the console's view of the agent's API tokens, for
// admins: each token's name, role, when it was created and last used; n
// creates one (its secret is shown once, in a box that says so), ctrl+d
// revokes one after a confirmation that names it. Another role gets a note
// saying the view is an admin's, not an empty list.
package tokens

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/keys"
	"github.com/jobbridge/jobbridge/tui/internal/list"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// roles are the roles a new token may have, in the order the form offers
// them.
var roles = []string{api.RoleViewer, api.RoleOperator, api.RoleAdmin}

// KeyMap is the tokens view's keys.
type KeyMap struct {
	New, Revoke key.Binding
	// The form's and the secret box's.
	Role, Save, Cancel, Close, Copy key.Binding

	m *Model
}

// ShortHelp is the footer's keys: the form's while it is open, the box's
// while the secret shows, the list's otherwise.
func (k KeyMap) ShortHelp() []key.Binding {
	switch {
	case k.m.secret != nil:
		return []key.Binding{k.Copy, k.Close}
	case k.m.form != nil:
		return []key.Binding{k.Role, k.Save, k.Cancel}
	case !k.m.s.CanAdmin():
		return nil
	}
	return []key.Binding{k.New, k.Revoke}
}

// FullHelp is every key of the view.
func (k KeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{k.ShortHelp(), keys.NavHelp()}
}

// Model is the tokens view.
type Model struct {
	s    *session.Context
	keys KeyMap
	w, h int

	list   *list.Model[api.Token]
	gen    int
	loaded bool
	err    error

	form   *form         // the new token's name and role, while open
	secret *api.NewToken // the token just created, shown once
	busy   string        // what is under way ("" for nothing)
}

// form is the new token's name and role.
type form struct {
	name textinput.Model
	role int // index in roles
	err  string
}

// New returns the tokens view.
func New(s *session.Context) *Model {
	m := &Model{s: s}
	m.list = list.New(s.Theme, list.Options[api.Token]{Key: func(t api.Token) string { return t.Name }})
	m.keys = KeyMap{
		New:    key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "new token")),
		Revoke: key.NewBinding(key.WithKeys("ctrl+d"), key.WithHelp("ctrl+d", "revoke")),
		Role:   key.NewBinding(key.WithKeys("tab", "left", "right"), key.WithHelp("tab/←→", "role")),
		Save:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "create")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		Close:  key.NewBinding(key.WithKeys("enter", "esc"), key.WithHelp("enter", "I have copied it")),
		Copy:   key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy it")),
		m:      m,
	}
	return m
}

// Title names the view.
func (m *Model) Title() string { return "Tokens" }

// Help is the view's keys.
func (m *Model) Help() help.KeyMap { return m.keys }

// Capturing reports whether the form or the secret's box has the
// keyboard: q, : and esc must not close the box before its secret was
// copied, nor be lost from a name being typed.
func (m *Model) Capturing() bool { return m.form != nil || m.secret != nil }

// SetSize gives the view its width and height.
func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.list.SetHeight(max(1, h-2))
}

type loadedMsg struct {
	gen    int
	tokens []api.Token
	err    error
}

type createdMsg struct {
	tok api.NewToken
	err error
}

type revokedMsg struct {
	name string
	err  error
}

// Init loads the tokens.
func (m *Model) Init() tea.Cmd { return m.Reload() }

// Reload fetches the tokens again.
func (m *Model) Reload() tea.Cmd {
	m.gen++
	gen, c := m.gen, m.s.Client
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		toks, err := c.Tokens(ctx)
		return loadedMsg{gen: gen, tokens: toks, err: err}
	}
}

// Events changes nothing: no event tells of tokens.
func (m *Model) Events([]api.Event) tea.Cmd { return nil }

// Update handles the view's messages and keys.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case loadedMsg:
		if msg.gen != m.gen {
			return nil
		}
		m.err = msg.err
		if msg.err != nil {
			return nil
		}
		m.loaded = true
		toks := msg.tokens
		sort.Slice(toks, func(i, j int) bool { return toks[i].Name < toks[j].Name })
		m.list.SetItems(toks)
	case createdMsg:
		m.busy = ""
		if msg.err != nil {
			if m.form != nil {
				m.form.err = session.Explain(msg.err)
			}
			return nil
		}
		m.form = nil
		tok := msg.tok
		m.secret = &tok
		return m.Reload()
	case revokedMsg:
		m.busy = ""
		if msg.err != nil {
			return func() tea.Msg { return session.Fail("revoke token "+msg.name, msg.err) }
		}
		return tea.Batch(m.Reload(), session.Note("token "+msg.name+" revoked: its clients are refused from now on"))
	case tea.KeyMsg:
		return m.key(msg)
	}
	return nil
}

func (m *Model) key(msg tea.KeyMsg) tea.Cmd {
	switch {
	case m.secret != nil:
		switch {
		case key.Matches(msg, m.keys.Close):
			m.secret = nil
		case key.Matches(msg, m.keys.Copy):
			// The note names the token, never its value: notes are
			// seen over shoulders and in recordings.
			return m.s.Copy("token "+m.secret.Name+"'s value", m.secret.Secret)
		}
		return nil
	case m.form != nil:
		return m.formKey(msg)
	}
	if _, did := m.list.Update(msg); did != list.NotMine {
		return nil
	}
	if !m.s.CanAdmin() {
		return nil
	}
	switch {
	case key.Matches(msg, m.keys.New):
		in := textinput.New()
		in.Prompt = ""
		in.Placeholder = "e.g. ci-deploy"
		in.CharLimit = 64
		in.Width = 32
		m.s.Theme.Input(&in)
		m.form = &form{name: in}
		return m.form.name.Focus()
	case key.Matches(msg, m.keys.Revoke):
		t, ok := m.list.Selected()
		if !ok {
			return nil
		}
		c, name := m.s.Client, t.Name
		yes := func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			return revokedMsg{name: name, err: c.RevokeToken(ctx, name)}
		}
		prompt := fmt.Sprintf("Revoke token %s (%s)? Its clients are refused from then on.", name, t.Role)
		if name == m.s.Token {
			prompt = fmt.Sprintf("Revoke token %s (%s)? This console runs with it: it loses access at once, and so do the token's other clients.", name, t.Role)
		}
		return func() tea.Msg { return session.ConfirmMsg{Prompt: prompt, Yes: yes} }
	}
	return nil
}

func (m *Model) formKey(msg tea.KeyMsg) tea.Cmd {
	f := m.form
	switch msg.String() {
	case "esc":
		m.form = nil
		return nil
	case "tab", "right":
		f.role = (f.role + 1) % len(roles)
		return nil
	case "shift+tab", "left":
		f.role = (f.role + len(roles) - 1) % len(roles)
		return nil
	case "enter":
		name := strings.TrimSpace(f.name.Value())
		if name == "" {
			f.err = "a token needs a name"
			return nil
		}
		if m.busy != "" {
			return nil
		}
		m.busy, f.err = "creating "+name, ""
		c, in := m.s.Client, api.TokenInput{Name: name, Role: roles[f.role]}
		return func() tea.Msg {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			tok, err := c.CreateToken(ctx, in)
			return createdMsg{tok: tok, err: err}
		}
	}
	var cmd tea.Cmd
	f.name, cmd = f.name.Update(msg)
	return cmd
}

var columns = []grid.Column{
	{Title: "", Width: 1},
	{Title: "NAME", Width: 16, Flex: 2},
	{Title: "ROLE", Width: 8},
	{Title: "CREATED", Width: 16},
	{Title: "LAST USED", Width: 16, Flex: 1},
}

// View renders the tokens, and over them the form or the new secret.
func (m *Model) View() string {
	t := m.s.Theme
	lines := []string{t.Title.Render("Tokens")}
	denied := client.StatusOf(m.err) == 403 || m.s.Role != "" && !m.s.CanAdmin()
	if !denied {
		lines[0] += " " + t.Muted.Render(fmt.Sprint(m.list.Len()))
	}
	switch {
	case denied:
		role := m.s.Role
		if role == "" {
			role = "this token's role"
		}
		lines = append(lines, "", t.Warning.Render(grid.Fit1("Tokens are for admins.", m.w, false)))
		for _, l := range grid.Wrap("Your token is a "+role+": it may not list, create or revoke API tokens. Ask an admin, or run the console with an admin token.", m.w) {
			lines = append(lines, t.Muted.Render(l))
		}
		return grid.Pad(strings.Join(lines, "\n"), m.h)
	case m.err != nil:
		lines = append(lines, t.Failure.Render(grid.Fit1("Cannot load the tokens: "+session.Explain(m.err), m.w, false)))
		return grid.Pad(strings.Join(lines, "\n"), m.h)
	case !m.loaded:
		lines = append(lines, t.Muted.Render("Loading the tokens…"))
		return grid.Pad(strings.Join(lines, "\n"), m.h)
	}
	l := grid.Fit(columns, m.w)
	lines = append(lines, t.Column.Render(l.Header()))
	if m.list.Len() == 0 {
		lines = append(lines, t.Muted.Render("No tokens yet besides the agent's own admin token: n creates one."))
	}
	for tok, selected := range m.list.Shown() {
		marker := " "
		if selected {
			marker = ">"
		}
		used := "never"
		if tok.LastUsedAt != nil {
			used = m.when(*tok.LastUsedAt)
		}
		row := l.Row([]string{marker, tok.Name, tok.Role, m.when(tok.CreatedAt), used}, nil)
		if selected {
			row = t.Selected.Render(row)
		}
		lines = append(lines, row)
	}
	var box []string
	switch {
	case m.secret != nil:
		box = m.secretBox()
	case m.form != nil:
		box = m.formBox()
	}
	if box != nil {
		// The box goes under the list, or over its end when there is no
		// room.
		lines = grid.PadLines(lines, max(0, min(len(lines)+1, m.h-len(box))))
		lines = append(lines, box...)
	}
	return grid.Pad(strings.Join(lines, "\n"), m.h)
}

// when is a time as the list shows it: local, to the minute.
func (m *Model) when(t time.Time) string { return m.s.Local(t).Format("2006-01-02 15:04") }

// formBox is the new token's form.
func (m *Model) formBox() []string {
	t := m.s.Theme
	f := m.form
	var choices []string
	for i, r := range roles {
		if i == f.role {
			choices = append(choices, t.TabOn.Render("["+r+"]"))
		} else {
			choices = append(choices, t.TabOff.Render(" "+r+" "))
		}
	}
	body := []string{
		t.Title.Render("New token"),
		t.Label.Render("Name ") + f.name.View(),
		t.Label.Render("Role ") + strings.Join(choices, " "),
	}
	switch {
	case f.err != "":
		body = append(body, t.Error.Render(f.err))
	case m.busy != "":
		body = append(body, t.Muted.Render(m.busy+"…"))
	default:
		body = append(body, t.Muted.Render("enter creates it; the token is shown once, then never again"))
	}
	return m.frame(body)
}

// secretBox shows the token just created, once.
func (m *Model) secretBox() []string {
	t := m.s.Theme
	s := m.secret
	body := []string{
		t.Title.Render("Token "+s.Name+" created") + " " + t.Muted.Render("("+s.Role+")"),
		"",
		t.Bold.Render(s.Secret),
		"",
		t.Warning.Bold(true).Render("Copy it now (y copies it): it will not be shown again."),
		t.Muted.Render("The agent keeps only its hash. A client sends it as Authorization: Bearer TOKEN."),
	}
	return m.frame(body)
}

// frame draws lines in a box as wide as the view; a line too long for it
// (a secret on a narrow screen) is wrapped, never cut.
func (m *Model) frame(body []string) []string {
	b := m.s.Theme.Border
	inner := max(10, m.w-4)
	out := []string{b.Render("┌" + strings.Repeat("─", inner+2) + "┐")}
	for _, l := range body {
		for _, part := range strings.Split(ansi.Wrap(l, inner, ""), "\n") {
			pad := max(0, inner-ansi.StringWidth(part))
			out = append(out, b.Render("│ ")+part+strings.Repeat(" ", pad)+b.Render(" │"))
		}
	}
	return append(out, b.Render("└"+strings.Repeat("─", inner+2)+"┘"))
}
