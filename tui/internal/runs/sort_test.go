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

// Runs that come during a background sort and then change, from the
// stream or a page, and runs the sort read that change how they sort: once
// the sort answers, the list shows each run's newest copy (the one byID
// holds, which selection and bulk actions use) where it sorts now.
func TestRunsThatChangeDuringABackgroundSortAreShownAsTheyAreNow(t *testing.T) {
	m := loaded(t, 3*sortInFrame)
	cmd := m.SetSort(Sort{Col: colStatus})
	if !m.sorting {
		t.Fatal("the sort ran in the frame")
	}
	// A run starts, then finishes, while the sort runs.
	at := benchNow.Add(time.Second)
	late := api.Run{ID: "run-late", Rule: "rule-000", Job: "demo", Status: api.StatusRunning, CreatedAt: at, StartedAt: &at}
	m.Events([]api.Event{{Type: api.EventRunStarted, Run: &late}})
	fin := at.Add(time.Second)
	late.Status, late.FinishedAt = api.StatusSucceeded, &fin
	m.Events([]api.Event{{Type: api.EventRunFinished, Run: &late}})
	// A page brings a run, which then fails.
	old := benchNow.Add(-time.Hour)
	paged := api.Run{ID: "run-000000000", Rule: "rule-001", Job: "demo", Status: api.StatusRunning, CreatedAt: old, StartedAt: &old}
	m.Update(pageMsg{gen: m.gen, page: api.Page[api.Run]{Items: []api.Run{paged}}})
	paged.Status, paged.FinishedAt = api.StatusFailed, &fin
	m.Events([]api.Event{{Type: api.EventRunFinished, Run: &paged}})
	// A run the sort reads, running when it started, fails: it sorts
	// among the failed runs now.
	moved := *m.byID["run-000000010"]
	if moved.Status != api.StatusRunning {
		t.Fatalf("run %s is %s, want running", moved.ID, moved.Status)
	}
	moved.Status, moved.FinishedAt = api.StatusFailed, &fin
	m.Events([]api.Event{{Type: api.EventRunFinished, Run: &moved}})

	for _, msg := range run(cmd) {
		m.Update(msg)
	}
	if m.sorting || len(m.all) != 3*sortInFrame+2 {
		t.Fatalf("after the sort: sorting %v, %d runs, want %d", m.sorting, len(m.all), 3*sortInFrame+2)
	}
	for i, r := range m.all {
		if m.byID[r.ID] != r {
			t.Fatalf("run %s (at %d) is shown as %s, a stale copy: it is %s", r.ID, i, r.Status, m.byID[r.ID].Status)
		}
		if i > 0 && m.sort.compare(m.sort.key(m.all[i-1], benchNow), m.sort.key(r, benchNow)) > 0 {
			t.Fatalf("runs %d and %d out of order: %s (%s) then %s (%s)", i-1, i, m.all[i-1].ID, m.all[i-1].Status, r.ID, r.Status)
		}
	}
	rows := m.list.Rows()
	if !slices.Equal(rows, m.all) {
		t.Errorf("the list's rows are not the runs it holds")
	}
	for _, want := range []api.Run{late, paged, moved} {
		clear(m.sel)
		m.sel[want.ID] = true
		if got := m.selectedRuns(); len(got) != 1 || got[0].Status != want.Status {
			t.Errorf("selecting %s gives %v, want it %s", want.ID, got, want.Status)
		}
	}
}
