package tui_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
	"github.com/jobbridge/jobbridge/tui"
)

// clock is the fixed time the tests run at.
var clock = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return clock }

// cet is the console's local time zone in the tests: not UTC, so that
// local times show as such.
var cet = time.FixedZone("CET", 3600)

type fixture struct {
	agent    *agenttest.Agent
	tm       *teatest.TestModel
	model    *tui.Model
	requests *requestCounter
	// clipboard is what the console wrote for y and Y (Options.Clipboard).
	clipboard *syncBuffer
}

// syncBuffer is a buffer written from the program's commands and read by
// the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Tokens of each role, as the agent the tests run gives them.
const (
	adminToken    = agenttest.AdminToken
	operatorToken = agenttest.OperatorToken
	viewerToken   = agenttest.ViewerToken
)

// setup starts a real agent (in process, SQLite in a temporary directory,
// the local scheduler on the fixed clock, so nothing fires) seeded by
// seed, and a console of w×h cells against it with the given token, plain
// ASCII (no colour) so golden files are text.
func setup(t *testing.T, token string, w, h int, start string, seed func(a *agenttest.Agent)) *fixture {
	t.Helper()
	return setupWith(t, agenttest.Options{Scheduler: agent.SchedulerLocal}, token, w, h, start, seed)
}

// setupWith is setup with an agent started with opts (its role tokens are
// always set; its clock, the console's too, is fixedNow unless opts sets
// one).
func setupWith(t *testing.T, opts agenttest.Options, token string, w, h int, start string, seed func(a *agenttest.Agent)) *fixture {
	t.Helper()
	if opts.Now == nil {
		opts.Now = fixedNow
	}
	opts.RoleTokens = true
	a := agenttest.Start(t, opts)
	if seed != nil {
		seed(a)
	}
	requests := &requestCounter{base: a.HTTPClient().Transport, n: map[string]int{}}
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	clip := &syncBuffer{}
	m := tui.New(ctx, tui.Options{
		Client:   client.New("http://agent.test", token, client.WithHTTPClient(&http.Client{Transport: requests})),
		Renderer: r, Now: opts.Now, Location: cet,
		Start: start, Backoff: 20 * time.Millisecond, Clipboard: clip,
	})
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(w, h))
	t.Cleanup(func() { _ = tm.Quit() })
	return &fixture{agent: a, tm: tm, model: m, requests: requests, clipboard: clip}
}

// requestCounter counts the console's requests per "METHOD /path".
type requestCounter struct {
	base http.RoundTripper
	mu   sync.Mutex
	n    map[string]int
	// nForced counts the runs now and restarts sent with force.
	nForced int
}

func (c *requestCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.n[r.Method+" "+r.URL.Path]++
	c.mu.Unlock()
	if r.Method == http.MethodPost && r.Body != nil &&
		(strings.HasSuffix(r.URL.Path, "/trigger") || strings.HasSuffix(r.URL.Path, "/restart")) {
		body, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		var params api.RunParams
		if json.Unmarshal(body, &params) == nil && params.Force {
			c.mu.Lock()
			c.nForced++
			c.mu.Unlock()
		}
	}
	return c.base.RoundTrip(r)
}

// forced returns how many runs now and restarts the console sent with
// force.
func (c *requestCounter) forced() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nForced
}

// count returns how many times the console sent "METHOD /path".
func (c *requestCounter) count(route string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[route]
}

// countMatching returns how many requests the console sent with method
// to a path ending in suffix.
func (c *requestCounter) countMatching(method, suffix string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for route, k := range c.n {
		if strings.HasPrefix(route, method+" ") && strings.HasSuffix(route, suffix) {
			n += k
		}
	}
	return n
}

// waitFor waits until the screen has shown every one of want.
func (f *fixture) waitFor(t *testing.T, want ...string) {
	t.Helper()
	teatest.WaitFor(t, f.tm.Output(), func(b []byte) bool {
		s := ansi.Strip(string(b))
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	}, teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

// waitSeen waits until the screen has shown want, and returns all it
// drew meanwhile.
func (f *fixture) waitSeen(t *testing.T, want string) string {
	t.Helper()
	var seen string
	teatest.WaitFor(t, f.tm.Output(), func(b []byte) bool {
		seen = ansi.Strip(string(b))
		return strings.Contains(seen, want)
	}, teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	return seen
}

// screen stops the program and returns its last view.
func (f *fixture) screen(t *testing.T) string {
	t.Helper()
	if err := f.tm.Quit(); err != nil {
		t.Fatal(err)
	}
	m := f.tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second))
	return m.View()
}

// requireGolden compares a screen with testdata/<test name>.golden
// (go test -update rewrites it).
func requireGolden(t *testing.T, screen string) {
	t.Helper()
	lines := strings.Split(screen, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	golden.RequireEqual(t, []byte(strings.Join(lines, "\n")+"\n"))
}

func key(k string) tea.KeyMsg {
	switch k {
	case "enter":
		return tea.KeyMsg{Type: tea.KeyEnter}
	case "esc":
		return tea.KeyMsg{Type: tea.KeyEscape}
	case "tab":
		return tea.KeyMsg{Type: tea.KeyTab}
	case "down":
		return tea.KeyMsg{Type: tea.KeyDown}
	case "up":
		return tea.KeyMsg{Type: tea.KeyUp}
	case "ctrl+c":
		return tea.KeyMsg{Type: tea.KeyCtrlC}
	case "ctrl+l":
		return tea.KeyMsg{Type: tea.KeyCtrlL}
	case "ctrl+d":
		return tea.KeyMsg{Type: tea.KeyCtrlD}
	case "pgdown":
		return tea.KeyMsg{Type: tea.KeyPgDown}
	case "ctrl+a":
		return tea.KeyMsg{Type: tea.KeyCtrlA}
	case "ctrl+u":
		return tea.KeyMsg{Type: tea.KeyCtrlU}
	case "space":
		return tea.KeyMsg{Type: tea.KeySpace, Runes: []rune{' '}}
	}
	return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
}

func (f *fixture) press(keys ...string) {
	for _, k := range keys {
		f.tm.Send(key(k))
	}
}

func (f *fixture) typeText(s string) { f.tm.Type(s) }

func ptr[T any](v T) *T { return &v }

// runID is a run id as the agent writes them (a UUID; ids sort by
// creation) whose end, the part the console shows, is tail.
func runID(n int, tail string) string { return fmt.Sprintf("00000000-0000-7000-8000-%04d%s", n, tail) }

// The seeded runs, oldest first.
var (
	run1 = runID(1, "aaaa1111") // nightly-report, succeeded
	run2 = runID(2, "bbbb2222") // ping-partner, failed
	run3 = runID(3, "cccc3333") // ping-partner, cancelled
	run4 = runID(4, "dddd4444") // nightly-report, running (no job behind it)
)

// seedRuns gives the agent two rules and runs in every state.
func seedRuns(a *agenttest.Agent) {
	a.AddRules(
		api.RuleInput{Name: "nightly-report", Job: "demo", Schedule: "cron(0 2 * * ? *)",
			Parameters: map[string]string{"duration": "30s"}},
		api.RuleInput{Name: "ping-partner", Job: "http", Schedule: "cron(0/5 * * * ? *)",
			Parameters: map[string]string{"url": "https://partner.example/ping", "bearer_token": "s3cr3t"}},
	)
	at := func(min int) time.Time { return clock.Add(-time.Duration(min) * time.Minute) }
	fin := func(start time.Time, d time.Duration) *time.Time { return ptr(start.Add(d)) }
	a.AddRuns(
		api.Run{ID: run1, Rule: "nightly-report", Job: "demo", Status: api.StatusSucceeded, Trigger: api.TriggerSchedule,
			CreatedAt: at(600), StartedAt: ptr(at(600)), FinishedAt: fin(at(600), 31*time.Second), Progress: api.Progress{Percent: 100},
			Parameters: map[string]string{"duration": "30s"}},
		api.Run{ID: run2, Rule: "ping-partner", Job: "http", Status: api.StatusFailed, Trigger: api.TriggerSchedule,
			CreatedAt: at(30), StartedAt: ptr(at(30)), FinishedAt: fin(at(30), 2*time.Second), Error: "partner answered 503",
			Parameters: map[string]string{"url": "https://partner.example/ping", "bearer_token": api.MaskedValue}},
		api.Run{ID: run3, Rule: "ping-partner", Job: "http", Status: api.StatusCancelled, Trigger: api.TriggerManual,
			CreatedAt: at(20), StartedAt: ptr(at(20)), FinishedAt: fin(at(20), 5*time.Second), CancelledBy: "admin",
			Parameters: map[string]string{"url": "https://partner.example/ping", "bearer_token": api.MaskedValue}},
		api.Run{ID: run4, Rule: "nightly-report", Job: "demo", Status: api.StatusRunning, Trigger: api.TriggerManual,
			CreatedAt: at(2), StartedAt: ptr(at(2)), Progress: api.Progress{Percent: 40, Message: "step 4 of 10"},
			Parameters: map[string]string{"duration": "5m", "fail": "false"}},
	)
}

// contains fails the test unless screen shows every one of want.
func contains(t *testing.T, screen string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(screen, w) {
			t.Errorf("the screen does not show %q:\n%s", w, screen)
		}
	}
}
