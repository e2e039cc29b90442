package rules

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

// loaded returns a rules list of 160×45 cells in true colour holding n
// rules, each with a last run and next fire times, sorted by last run,
// every tenth one selected.
func loaded(b testing.TB, n int) *Model {
	b.Helper()
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.TrueColor)
	s := &session.Context{Client: safe.NewClient(client.New("http://agent.test", "t")), Theme: theme.New(r),
		Now: func() time.Time { return benchNow }, Location: time.UTC, Role: api.RoleAdmin}
	m := New(s)
	m.SetSize(160, 45)
	rules := make([]api.Rule, n)
	for i := range rules {
		st := api.StatusSucceeded
		if i%7 == 0 {
			st = api.StatusFailed
		}
		rules[i] = api.Rule{Name: fmt.Sprintf("rule-%05d", i), Job: "demo", Schedule: "rate(5 minutes)", ScheduleText: "Every 5 minutes",
			Enabled: i%3 != 0, NextFireTimes: []time.Time{benchNow.Add(time.Duration(i) * time.Second)},
			LastRun: &api.RunSummary{ID: fmt.Sprintf("run-%09d", i), Status: st, CreatedAt: benchNow.Add(-time.Minute)}}
	}
	m.Update(listMsg{gen: m.gen, rules: rules})
	m.SetSort(Sort{Col: colLast})
	for i, r := range m.all {
		if i%10 == 0 {
			m.sel[r.Name] = true
		}
	}
	return m
}

// BenchmarkRulesFrame is one frame of the rules list, sorted and with a
// selection: a key (moving, selecting, sorting again) and the frame.
func BenchmarkRulesFrame(b *testing.B) {
	for _, n := range []int{1_000, 10_000} {
		for _, k := range []struct {
			name string
			msg  tea.KeyMsg
		}{
			{"move", tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("j")}},
			{"select", tea.KeyMsg{Type: tea.KeySpace, Runes: []rune(" ")}},
			{"sort", tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("S")}},
		} {
			b.Run(fmt.Sprintf("%s/%d", k.name, n), func(b *testing.B) {
				m := loaded(b, n)
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
