package runs

import (
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// page is n runs of the agent's pages, newest first, from the (from+1)th
// newest of total, with the cursor of the next page unless it is the last.
func page(from, n, total int) api.Page[api.Run] {
	p := api.Page[api.Run]{Items: make([]api.Run, n)}
	for i := range n {
		k := from + i
		at := benchNow.Add(-time.Duration(k) * time.Second)
		fin := at.Add(time.Second)
		p.Items[i] = api.Run{ID: fmt.Sprintf("run-%09d", total-k), Rule: fmt.Sprintf("rule-%03d", k%50), Job: "demo",
			Status: api.StatusSucceeded, Trigger: api.TriggerSchedule, CreatedAt: at, StartedAt: &at, FinishedAt: &fin}
	}
	if from+n < total {
		p.NextCursor = fmt.Sprintf("c%d", from+n)
	}
	return p
}

// capped returns a list that holds at most limit runs, of a query that has
// total (all succeeded, the counts say), with its first page of n loaded.
func capped(t *testing.T, limit, n, total int) *Model {
	t.Helper()
	m := newModel()
	m.limit = limit
	m.Reload()
	m.Update(countsMsg{gen: m.gen, counts: api.RunCounts{api.StatusSucceeded: int64(total)}})
	m.Update(pageMsg{gen: m.gen, page: page(0, n, total)})
	return m
}

func press(m *Model, k tea.KeyMsg) []tea.Msg { return run(m.Update(k)) }

var (
	keyS     = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("s")}
	keyG     = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("G")}
	keyR     = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("r")}
	keyCtrlA = tea.KeyMsg{Type: tea.KeyCtrlA}
)

func title(m *Model) string {
	return strings.TrimSpace(ansi.Strip(strings.SplitN(m.View(), "\n", 2)[0]))
}

// A sort needs every run of the query, but the list loads no more than
// its limit: it stops there, says so in its title, and asks for no more
// pages. ctrl+a then selects only what is loaded, and says so.
func TestASortLoadsNoMoreThanTheLimit(t *testing.T) {
	m := capped(t, 2500, PageSize, 6000)
	m.Update(keyS) // the fetch of the next page is not run: the test answers it
	if !m.full || !m.loading {
		t.Fatalf("after s the list does not load every run (full %v, loading %v)", m.full, m.loading)
	}
	for from := PageSize; m.loading; from += FullPageSize {
		if from > 6000 {
			t.Fatal("the list loaded every page")
		}
		m.Update(pageMsg{gen: m.gen, cursor: fmt.Sprintf("c%d", from), page: page(from, FullPageSize, 6000)})
	}
	if len(m.all) != 2500 || len(m.byID) != 2500 {
		t.Fatalf("the list holds %d runs (%d by id), want its limit 2500", len(m.all), len(m.byID))
	}
	if got, want := title(m), "Runs 2500+ sorted the newest 2,500 of 6,000: narrow the filter"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
	if cmd := m.maybeMore(); cmd != nil || m.loading {
		t.Errorf("the list asks for more pages beyond its limit")
	}
	// The newest 2,500: the run 2,501st newest is not held.
	if _, ok := m.byID[fmt.Sprintf("run-%09d", 6000-2500)]; ok {
		t.Errorf("the list holds a run beyond the newest 2,500")
	}

	msgs := press(m, keyCtrlA)
	if len(m.sel) != 2500 || m.selectAll || m.loading {
		t.Errorf("ctrl+a: %d selected, still selecting %v, loading %v; want the 2500 loaded, done", len(m.sel), m.selectAll, m.loading)
	}
	want := "selected only the 2,500 runs loaded of 6,000: the list holds the newest 2,500; narrow the filter"
	if len(msgs) != 1 || msgs[0] != (session.NoteMsg{Text: want}) {
		t.Errorf("ctrl+a says %v, want %q", msgs, want)
	}
	// The selection is whole: r asks to restart it, not to wait.
	msgs = press(m, keyR)
	if len(msgs) != 1 {
		t.Fatalf("r answers %v, want one message", msgs)
	}
	if c, ok := msgs[0].(session.ConfirmMsg); !ok || c.Prompt != "Restart 2500 runs?" {
		t.Errorf("r answers %#v, want the question to restart 2500 runs", msgs[0])
	}
}

// ctrl+a in the agent's order loads the pages it selects, and stops at the
// limit with a note saying it selected only those.
func TestSelectAllStopsAtTheLimit(t *testing.T) {
	m := capped(t, 1500, FullPageSize, 4000)
	m.Update(keyCtrlA)
	if !m.selectAll || !m.loading {
		t.Fatalf("ctrl+a does not load the rest (selecting %v, loading %v)", m.selectAll, m.loading)
	}
	msgs := run(m.Update(pageMsg{gen: m.gen, cursor: "c1000", page: page(FullPageSize, FullPageSize, 4000)}))
	if len(m.all) != 1500 || len(m.sel) != 1500 || m.selectAll || m.loading {
		t.Fatalf("after the page: %d held, %d selected, selecting %v, loading %v; want 1500, 1500, done",
			len(m.all), len(m.sel), m.selectAll, m.loading)
	}
	want := "selected only the 1,500 runs loaded of 4,000: the list holds the newest 1,500; narrow the filter"
	if len(msgs) != 1 || msgs[0] != (session.NoteMsg{Text: want}) {
		t.Errorf("the last page says %v, want %q", msgs, want)
	}
	if got, want := title(m), "Runs 1500+ shown · 1500 selected showing the newest 1,500 of 4,000: narrow the filter"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
}

// Scrolling down loads older pages up to the limit, then no more.
func TestScrollingLoadsNoMoreThanTheLimit(t *testing.T) {
	m := capped(t, 300, PageSize, 1000)
	m.Update(keyG)
	if !m.loading {
		t.Fatal("the end of the list loads no more")
	}
	m.Update(pageMsg{gen: m.gen, cursor: "c200", page: page(PageSize, PageSize, 1000)})
	if len(m.all) != 300 || m.loading {
		t.Fatalf("the list holds %d runs (loading %v), want its limit 300", len(m.all), m.loading)
	}
	m.Update(keyG)
	if m.loading {
		t.Errorf("the end of the list loads more beyond the limit")
	}
	if got, want := title(m), "Runs 300+ showing the newest 300 of 1,000: narrow the filter"; got != want {
		t.Errorf("title %q, want %q", got, want)
	}
}

// A new run from the stream, when the list is full, takes the place of the
// oldest it holds: the list keeps the newest runs, and no more of them.
func TestANewRunBeyondTheLimitDropsTheOldest(t *testing.T) {
	for name, sort := range map[string]Sort{"newest first": DefaultSort, "by rule": {Col: colRule}} {
		t.Run(name, func(t *testing.T) {
			m := capped(t, 300, 300, 300)
			m.SetSort(sort)
			if m.capped {
				t.Fatal("a list that holds every run of its query says it stopped at its limit")
			}
			oldest := fmt.Sprintf("run-%09d", 1)
			m.sel[oldest] = true
			at := benchNow.Add(time.Second)
			late := api.Run{ID: "run-late", Rule: "rule-000", Job: "demo", Status: api.StatusRunning, CreatedAt: at, StartedAt: &at}
			m.Events([]api.Event{{Type: api.EventRunStarted, Run: &late}})
			if len(m.all) != 300 || m.byID["run-late"] == nil || m.byID[oldest] != nil || m.sel[oldest] {
				t.Fatalf("after a new run: %d held, the new one held %v, the oldest held %v (selected %v); want 300, the new, not the oldest",
					len(m.all), m.byID["run-late"] != nil, m.byID[oldest] != nil, m.sel[oldest])
			}
			if m.all[0].ID != "run-late" || !m.capped || m.oldest.ID != fmt.Sprintf("run-%09d", 2) {
				t.Errorf("first %s, capped %v, oldest %s; want run-late, capped, the second oldest", m.all[0].ID, m.capped, m.oldest.ID)
			}
			// The run dropped changes: the list, which no longer holds runs that
			// old, leaves it out.
			dropped := page(299, 1, 300).Items[0]
			dropped.Status = api.StatusFailed
			m.Events([]api.Event{{Type: api.EventRunFinished, Run: &dropped}})
			if len(m.all) != 300 || m.byID[oldest] != nil {
				t.Errorf("the dropped run came back: %d held", len(m.all))
			}
		})
	}
}
