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

// benchRule is rule i of a benchmark list, with a full health window:
// one run in 7 failed, one in 13 was cancelled.
func benchRule(i int) api.Rule {
	recent := make([]api.RunStatus, api.HealthWindow)
	ok := 0
	for j := range recent {
		switch {
		case (i+j)%7 == 0:
			recent[j] = api.StatusFailed
		case (i+j)%13 == 0:
			recent[j] = api.StatusCancelled
		default:
			recent[j] = api.StatusSucceeded
			ok++
		}
	}
	success, failure := benchNow.Add(-time.Duration(i)*time.Minute), benchNow.Add(-time.Duration(i)*time.Hour)
	return api.Rule{
		Name: fmt.Sprintf("rule-%04d", i), Job: "demo", Schedule: "cron(0/5 * * * ? *)", Timezone: "UTC",
		ScheduleText: "Every 5 minutes", Enabled: true, NextFireTimes: []time.Time{benchNow.Add(5 * time.Minute)},
		Sync:    api.Sync{State: "local"},
		LastRun: &api.RunSummary{ID: fmt.Sprintf("run-%09d", i), Status: api.StatusSucceeded, CreatedAt: success},
		Health: api.RuleHealth{LastSuccess: &success, LastFailure: &failure, Recent: recent,
			SuccessRate: float64(ok) / float64(len(recent)), MedianDuration: "1m2.5s"},
	}
}

// loaded returns a rules list of 160×45 cells (every health column shows)
// holding n rules, drawn in true colour, sorted by last run, every tenth
// one selected.
func loaded(b testing.TB, n int) *Model {
	b.Helper()
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.TrueColor)
	s := &session.Context{Client: safe.NewClient(client.New("http://agent.test", "t")), Theme: theme.New(r),
		Now: func() time.Time { return benchNow }, Location: time.UTC, Role: api.RoleAdmin}
	m := New(s)
	m.SetSize(160, 45)
	m.Reload()
	rules := make([]api.Rule, n)
	for i := range rules {
		rules[i] = benchRule(i)
	}
	m.Update(listMsg{gen: m.gen, rules: rules})
	if m.list.Len() != n {
		b.Fatalf("loaded %d rules, want %d", m.list.Len(), n)
	}
	m.SetSort(Sort{Col: colLast})
	for i, r := range m.all {
		if i%10 == 0 {
			m.sel[r.Name] = true
		}
	}
	return m
}

// BenchmarkRulesView is one frame of the rules list, health columns and
// sparklines included, with n rules loaded.
func BenchmarkRulesView(b *testing.B) {
	for _, n := range []int{500, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			m := loaded(b, n)
			b.ReportAllocs()
			for b.Loop() {
				_ = m.View()
			}
		})
	}
}

// BenchmarkRulesHealthFrame is what a run's end costs the list: the
// run.finished event (the rule's last run updated, the rule marked for a
// fetch), the fetched rule put in its row, and the frame drawn.
func BenchmarkRulesHealthFrame(b *testing.B) {
	for _, n := range []int{500, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			m := loaded(b, n)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				rule := benchRule(i % n)
				run := api.Run{ID: fmt.Sprintf("new-%09d", i), Rule: rule.Name, Job: "demo", Status: api.StatusFailed,
					CreatedAt: benchNow, FinishedAt: &benchNow}
				m.Events([]api.Event{{Type: api.EventRunFinished, Run: &run}})
				m.Update(healthMsg{rules: []api.Rule{rule}})
				_ = m.View()
			}
		})
	}
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
