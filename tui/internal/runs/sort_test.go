package runs

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/jobbridge/jobbridge/shared/api"
)

// run runs cmd and the commands it batches, and returns their messages.
func run(cmd tea.Cmd) []tea.Msg {
	if cmd == nil {
		return nil
	}
	switch msg := cmd().(type) {
	case tea.BatchMsg:
		var out []tea.Msg
		for _, c := range msg {
			out = append(out, run(c)...)
		}
		return out
	case nil:
		return nil
	default:
		return []tea.Msg{msg}
	}
}

// More runs than a frame may sort are sorted in the background: the list
// keeps its order until the sort answers, and a run that came meanwhile
// is sorted in with the rest.
func TestALargeSortRunsInTheBackground(t *testing.T) {
	m := loaded(t, 3*sortInFrame)
	before := slices.Clone(m.all)
	cmd := m.SetSort(Sort{Col: colRule})
	if !m.sorting || !slices.Equal(m.all, before) {
		t.Fatalf("the sort of %d runs ran in the frame (sorting %v)", len(m.all), m.sorting)
	}
	if v := m.View(); !strings.Contains(ansi.Strip(v), "sorting 15000…") {
		t.Errorf("the title does not say the list is sorting:\n%s", v)
	}
	at := benchNow.Add(time.Second)
	late := api.Run{ID: "run-late", Rule: "rule-000", Job: "demo", Status: api.StatusRunning, CreatedAt: at, StartedAt: &at}
	m.Events([]api.Event{{Type: api.EventRunStarted, Run: &late}})
	// A run the sort reads changes meanwhile: the sort runs alongside
	// (the race detector watches), and the change is what the list shows.
	changed := *m.byID["run-000000010"]
	fin := benchNow
	changed.Status, changed.FinishedAt = api.StatusFailed, &fin
	done := make(chan []tea.Msg)
	go func() { done <- run(cmd) }()
	m.Events([]api.Event{{Type: api.EventRunFinished, Run: &changed}})
	// More events while it sorts: progress of running runs.
	var msgs []tea.Msg
	for i := 0; msgs == nil; i++ {
		select {
		case msgs = <-done:
		default:
			r := *m.byID[fmt.Sprintf("run-%09d", 20+10*(i%1000))]
			r.Progress.Percent = i % 100
			m.Events([]api.Event{{Type: api.EventRunProgress, Run: &r}})
		}
	}
	for _, msg := range msgs {
		m.Update(msg)
	}
	if i := slices.IndexFunc(m.all, func(r *api.Run) bool { return r.ID == changed.ID }); i < 0 ||
		m.all[i].Status != api.StatusFailed || m.byID[changed.ID] != m.all[i] {
		t.Errorf("the run that finished during the sort is not shown failed")
	}
	if m.sorting || len(m.all) != 3*sortInFrame+1 {
		t.Fatalf("after the sort: sorting %v, %d runs, want %d", m.sorting, len(m.all), 3*sortInFrame+1)
	}
	for i := 1; i < len(m.all); i++ {
		if m.sort.compare(m.sort.key(m.all[i-1], benchNow), m.sort.key(m.all[i], benchNow)) > 0 {
			t.Fatalf("runs %d and %d out of order: %s then %s", i-1, i, m.all[i-1].Rule, m.all[i].Rule)
		}
	}
	if m.all[0].ID != "run-late" {
		t.Errorf("the newest run of the first rule is %s, want the one that came during the sort", m.all[0].ID)
	}
}

// A sort asked while another runs in the background wins: the older
// answer is dropped.
func TestAnOlderSortIsDropped(t *testing.T) {
	m := loaded(t, 2*sortInFrame)
	first := m.SetSort(Sort{Col: colRule})
	second := m.SetSort(Sort{Col: colRule, Desc: true})
	for _, msg := range append(run(second), run(first)...) {
		m.Update(msg)
	}
	if m.all[0].Rule != "rule-499" {
		t.Errorf("the first run is of %s, want rule-499 (by rule, descending)", m.all[0].Rule)
	}
}
