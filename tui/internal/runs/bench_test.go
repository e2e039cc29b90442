package runs

import (
	"fmt"
	"io"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
	"github.com/jobbridge/jobbridge/tui/internal/safe"
	"github.com/jobbridge/jobbridge/tui/internal/session"
	"github.com/jobbridge/jobbridge/tui/internal/theme"
)

var benchNow = time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)

// loaded returns a runs list of 120×40 cells (a large terminal) holding n
// runs, a tenth of them running, drawn in true colour.
func loaded(b testing.TB, n int) *Model {
	b.Helper()
	m := newModel()
	m.Reload()
	items := make([]api.Run, n)
	for i := range items {
		at := benchNow.Add(-time.Duration(i) * time.Second)
		st := api.StatusSucceeded
		var fin *time.Time
		if i%10 == 0 {
			st = api.StatusRunning
		} else {
			f := at.Add(3 * time.Second)
			fin = &f
		}
		items[i] = api.Run{ID: fmt.Sprintf("run-%09d", n-i), Rule: fmt.Sprintf("rule-%03d", i%500), Job: "demo",
			Status: st, Trigger: api.TriggerSchedule, CreatedAt: at, StartedAt: &at, FinishedAt: fin,
			Progress: api.Progress{Percent: i % 100}}
	}
	m.Update(pageMsg{gen: m.gen, page: api.Page[api.Run]{Items: items}})
	if m.list.Len() != n {
		b.Fatalf("loaded %d rows, want %d", m.list.Len(), n)
	}
	return m
}

// newModel returns an empty runs list of 120×40 cells, drawn in true
// colour, whose client reaches no agent: a test hands it the pages.
func newModel() *Model {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.TrueColor)
	s := &session.Context{Client: safe.NewClient(client.New("http://agent.test", "t")), Theme: theme.New(r),
		Now: func() time.Time { return benchNow }, Location: time.UTC, Role: api.RoleAdmin}
	m := New(s)
	m.SetSize(120, 40)
	return m
}

// BenchmarkRunsView is one frame of the list with n runs loaded.
func BenchmarkRunsView(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			m := loaded(b, n)
			b.ReportAllocs()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

// BenchmarkRunsEventFrame is what one event costs: a progress event (the
// stream's commonest: the run is updated in place) or a new run (inserted
// where it sorts, the visible rows recomputed), then the frame drawn.
func BenchmarkRunsEventFrame(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("progress/%d", n), func(b *testing.B) {
			m := loaded(b, n)
			run := *m.all[10]
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				run.Progress.Percent = i % 100
				r := run
				m.Events([]api.Event{{Type: api.EventRunProgress, Run: &r}})
				_ = m.View()
			}
		})
		b.Run(fmt.Sprintf("new-run/%d", n), func(b *testing.B) {
			m := loaded(b, n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				at := benchNow.Add(time.Duration(i) * time.Millisecond)
				r := api.Run{ID: fmt.Sprintf("new-%09d", i), Rule: "rule-new", Job: "demo", Status: api.StatusRunning,
					CreatedAt: at, StartedAt: &at}
				m.Events([]api.Event{{Type: api.EventRunStarted, Run: &r}})
				_ = m.View()
			}
		})
	}
}

// sortedSelected is loaded(b, n) sorted by rule with every tenth run
// selected: the list as an operator sorting and picking runs has it.
func sortedSelected(b *testing.B, n int) *Model {
	m := loaded(b, n)
	for _, msg := range run(m.SetSort(Sort{Col: colRule})) {
		m.Update(msg)
	}
	for i, r := range m.all {
		if i%10 == 0 {
			m.sel[r.ID] = true
		}
	}
	return m
}

// BenchmarkRunsFrame is one frame of the list sorted by a column, with a
// selection: a key (moving the cursor, or selecting the row under it,
// which moves it too) and the frame drawn after it.
func BenchmarkRunsFrame(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		for _, k := range []struct {
			name string
			msg  tea.KeyMsg
		}{
			{"move", tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("j")}},
			{"select", tea.KeyMsg{Type: tea.KeySpace, Runes: []rune(" ")}},
			{"page", tea.KeyMsg{Type: tea.KeyPgDown}},
		} {
			b.Run(fmt.Sprintf("%s/%d", k.name, n), func(b *testing.B) {
				m := sortedSelected(b, n)
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					i++
					if i%(n/2) == 0 {
						m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("g")})
					}
					m.Update(k.msg)
					_ = m.View()
				}
			})
		}
	}
}

// BenchmarkRunsSortFrame is the frame of s or S: every loaded run sorted
// again under the next order, then drawn.
func BenchmarkRunsSortFrame(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			m := sortedSelected(b, n)
			b.ReportAllocs()
			for b.Loop() {
				m.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("S")})
				_ = m.View()
			}
		})
	}
}

// BenchmarkRunsSortedEventFrame is a progress event on a list sorted by
// progress: the run moves to where it sorts now, then the frame.
func BenchmarkRunsSortedEventFrame(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			m := sortedSelected(b, n)
			m.SetSort(Sort{Col: colProgress, Desc: true})
			run := *m.byID[fmt.Sprintf("run-%09d", n)]
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				run.Progress.Percent = i % 100
				r := run
				m.Events([]api.Event{{Type: api.EventRunProgress, Run: &r}})
				_ = m.View()
			}
		})
	}
}

// BenchmarkRunsBackgroundSort is the sort s starts off the frame: every
// loaded run's key copied (in the frame), then sorted (in the
// background).
func BenchmarkRunsBackgroundSort(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			m := sortedSelected(b, n)
			s := Sort{Col: colStatus}
			b.ReportAllocs()
			for b.Loop() {
				_ = s.order(s.keys(m.all, benchNow))
			}
		})
	}
}
