package rules

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
	"github.com/jobbridge/jobbridge/tui/internal/session"
	"github.com/jobbridge/jobbridge/tui/internal/theme"
)

// zoneColumnFrom is the least width with a ZONE column; a narrower list
// shows a rule's zone after its schedule.
const zoneColumnFrom = 96

// cellOf is what a column needs to draw one rule's cell.
type cellOf struct {
	r   *api.Rule
	now time.Time
	l   grid.Layout
}

// column is one column of the list: its place and width, its cell, its
// colour and what it sorts by. A column is one entry of columns: adding
// one is adding an entry (and its index constant).
type column struct {
	grid.Column
	// cell is the rule's text in the column.
	cell func(c cellOf) string
	// style colours a fitted cell; nil: as the text is.
	style func(t *theme.Theme, r *api.Rule, cell string) string
	// key is what the column sorts by: a text, then a number. Nil: it
	// sorts by the cell's text.
	key func(r *api.Rule, now time.Time) (string, int64)
	// desc is the column's own order when s first picks it: largest
	// first (times soonest, counts highest).
	desc bool
}

// The list's columns, in order; ZONE only while a rule has a zone other
// than UTC.
const (
	colMarker = iota
	colName
	colJob
	colSchedule
	colZone
	colWords
	colNext
	colLast
	colOn
	colSync
	// The health columns, after the others: the last success, the success
	// rate and the median run time of the last api.HealthWindow runs that
	// ended, and a sparkline of their outcomes (one cell a run, newest on
	// the right). They come in as the width allows, the rate and the
	// sparkline first, each only where the other columns keep room (with a
	// ZONE column, later); an 80-column list has none, and the pane under
	// it shows the selected rule's health in words.
	colLastOK
	colRate
	colMedian
	colRecent
)

var columns = []column{
	colMarker: {Column: grid.Column{Title: "", Width: 2}, cell: func(cellOf) string { return "" }},
	colName:   {Column: grid.Column{Title: "NAME", Width: 12, Flex: 3}, cell: func(c cellOf) string { return c.r.Name }},
	colJob:    {Column: grid.Column{Title: "JOB", Width: 7, Flex: 1}, cell: func(c cellOf) string { return c.r.Job }},
	colSchedule: {Column: grid.Column{Title: "SCHEDULE", Width: 16, Flex: 2}, cell: func(c cellOf) string {
		if c.l.Widths[colZone] == 0 && zoned(c.r) {
			return c.r.Schedule + " " + c.r.Timezone
		}
		return c.r.Schedule
	}},
	colZone: {Column: grid.Column{Title: "ZONE", Width: 16, MinTotal: zoneColumnFrom},
		cell: func(c cellOf) string {
			if c.r.Timezone == "" {
				return "UTC"
			}
			return c.r.Timezone
		},
		style: func(t *theme.Theme, r *api.Rule, cell string) string {
			if !zoned(r) {
				return t.Muted.Render(cell)
			}
			return cell
		}},
	colWords: {Column: grid.Column{Title: "IN WORDS", Width: 20, Flex: 3, MinTotal: 130}, cell: func(c cellOf) string { return c.r.ScheduleText }},
	colNext: {Column: grid.Column{Title: "NEXT", Width: 9},
		cell: func(c cellOf) string {
			switch at, ok := nextFire(*c.r, c.now); {
			case c.r.Done:
				return "done"
			case !c.r.Enabled:
				return "off"
			case ok:
				return session.Until(c.now, at)
			}
			return "-"
		},
		style: func(t *theme.Theme, r *api.Rule, cell string) string {
			if r.Done || !r.Enabled {
				return t.Muted.Render(cell)
			}
			return cell
		},
		// Soonest first; rules that will not fire last.
		key: func(r *api.Rule, now time.Time) (string, int64) {
			if at, ok := nextFire(*r, now); ok && r.Enabled && !r.Done {
				return "", at.UnixNano()
			}
			return "", math.MaxInt64
		}},
	colLast: {Column: grid.Column{Title: "LAST RUN", Width: 10},
		cell: func(c cellOf) string {
			switch {
			case c.r.MissedFire != nil:
				// The dead-man's switch: a fire was expected and has
				// not come.
				return "MISSED"
			case c.r.LastRun != nil:
				return string(c.r.LastRun.Status)
			}
			return "never"
		},
		style: func(t *theme.Theme, r *api.Rule, cell string) string {
			switch {
			case r.MissedFire != nil:
				return t.Failure.Bold(true).Render(cell)
			case r.LastRun != nil:
				return t.Status(r.LastRun.Status).Render(cell)
			}
			return t.Muted.Render(cell)
		}},
	colOn: {Column: grid.Column{Title: "ON", Width: 3},
		cell: func(c cellOf) string {
			if c.r.Enabled {
				return "yes"
			}
			return "no"
		},
		style: func(t *theme.Theme, r *api.Rule, cell string) string {
			if !r.Enabled {
				return t.Muted.Render(cell)
			}
			return cell
		}},
	colSync: {Column: grid.Column{Title: "SYNC", Width: 7}, cell: func(c cellOf) string { return c.r.Sync.State },
		style: func(t *theme.Theme, r *api.Rule, cell string) string { return t.Sync(r.Sync.State).Render(cell) }},
	colLastOK: {Column: grid.Column{Title: "LAST OK", Width: 8, MinTotal: 150},
		cell: func(c cellOf) string {
			if c.r.Health.LastSuccess == nil {
				return "never"
			}
			return session.Ago(c.now, *c.r.Health.LastSuccess)
		},
		style: func(t *theme.Theme, r *api.Rule, cell string) string {
			if r.Health.LastSuccess == nil {
				return t.Muted.Render(cell)
			}
			return cell
		},
		// Latest first; never last.
		key: func(r *api.Rule, _ time.Time) (string, int64) {
			if r.Health.LastSuccess == nil {
				return "", math.MinInt64
			}
			return "", r.Health.LastSuccess.UnixNano()
		},
		desc: true},
	colRate: {Column: grid.Column{Title: "OK%", Width: 4, MinTotal: 110, Right: true},
		cell: func(c cellOf) string {
			if len(c.r.Health.Recent) == 0 {
				return "-"
			}
			return fmt.Sprintf("%d%%", int(math.Round(c.r.Health.SuccessRate*100)))
		},
		style: func(t *theme.Theme, r *api.Rule, cell string) string {
			switch {
			case len(r.Health.Recent) == 0:
				return t.Muted.Render(cell)
			case r.Health.SuccessRate < 0.5:
				return t.Failure.Render(cell)
			case r.Health.SuccessRate < 1:
				return t.Warning.Render(cell)
			}
			return cell
		},
		// Worst first: a rule without runs after every rate.
		key: func(r *api.Rule, _ time.Time) (string, int64) {
			if len(r.Health.Recent) == 0 {
				return "", math.MaxInt64
			}
			return "", int64(math.Round(r.Health.SuccessRate * 1000))
		}},
	colMedian: {Column: grid.Column{Title: "MEDIAN", Width: 6, MinTotal: 160, Right: true},
		cell: func(c cellOf) string {
			if c.r.Health.MedianDuration == "" {
				return "-"
			}
			return session.RunTime(c.r.Health.MedianDuration)
		},
		style: func(t *theme.Theme, r *api.Rule, cell string) string {
			if r.Health.MedianDuration == "" {
				return t.Muted.Render(cell)
			}
			return cell
		},
		// Slowest first.
		key: func(r *api.Rule, _ time.Time) (string, int64) {
			d, err := time.ParseDuration(r.Health.MedianDuration)
			if err != nil {
				return "", -1
			}
			return "", int64(d)
		},
		desc: true},
	// RECENT's cells are drawn in colour by row (recentCell); its sort is
	// by the failures among them, most first.
	colRecent: {Column: grid.Column{Title: "RECENT", Width: api.HealthWindow, MinTotal: 110, Right: true},
		cell: func(c cellOf) string { return sparkline(c.r.Health.Recent, api.HealthWindow, nil) },
		key: func(r *api.Rule, _ time.Time) (string, int64) {
			var bad int64
			for _, s := range r.Health.Recent {
				if s != api.StatusSucceeded {
					bad++
				}
			}
			return "", bad
		},
		desc: true},
}

// healthColumns are the health columns' indexes.
var healthColumns = []int{colLastOK, colRate, colMedian, colRecent}

// zoned reports whether a rule has a zone other than UTC.
func zoned(r *api.Rule) bool { return r.Timezone != "" && r.Timezone != "UTC" }

// layout fits the columns to the width, with ZONE when a rule has one.
func (m *Model) layout() grid.Layout {
	cols := make([]grid.Column, len(columns))
	for i, c := range columns {
		cols[i] = c.Column
	}
	if !slices.ContainsFunc(m.all, zoned) {
		cols[colZone].MinTotal = math.MaxInt
	} else {
		// The health columns leave the ZONE column its room.
		for _, i := range healthColumns {
			cols[i].MinTotal += cols[colZone].Width + 1
		}
	}
	return grid.Fit(cols, m.w)
}

// Sort is the order of the list: by a column, either way.
type Sort struct {
	Col  int
	Desc bool
}

// DefaultSort is by name.
var DefaultSort = Sort{Col: colName}

// sortKey is what rule r sorts by in column col.
func sortKey(r *api.Rule, col int, now time.Time) (string, int64) {
	c := columns[col]
	if c.key != nil {
		return c.key(r, now)
	}
	return strings.ToLower(c.cell(cellOf{r: r, now: now, l: grid.Layout{Widths: make([]int, len(columns))}})), 0
}

// sortRules sorts rules under s, in place; rules that tie are by name.
func (s Sort) sortRules(rules []*api.Rule, now time.Time) {
	type keyed struct {
		r *api.Rule
		s string
		n int64
	}
	ks := make([]keyed, len(rules))
	for i, r := range rules {
		ks[i].r = r
		ks[i].s, ks[i].n = sortKey(r, s.Col, now)
	}
	slices.SortFunc(ks, func(a, b keyed) int {
		c := cmp.Or(cmp.Compare(a.s, b.s), cmp.Compare(a.n, b.n))
		if s.Desc {
			c = -c
		}
		return cmp.Or(c, cmp.Compare(a.r.Name, b.r.Name))
	})
	for i, k := range ks {
		rules[i] = k.r
	}
}

// next is the sort after s: the next column shown in layout l, in its
// own order.
func (s Sort) next(l grid.Layout) Sort {
	for i := 1; i <= len(columns); i++ {
		c := (s.Col + i) % len(columns)
		if c == colMarker || l.Widths[c] == 0 {
			continue
		}
		return Sort{Col: c, Desc: columns[c].desc}
	}
	return s
}

// row draws one rule: the cursor's row in one style (a cell's own colour
// would end the highlight where it resets), the others cell by cell.
func (m *Model) row(l grid.Layout, r *api.Rule, cursor bool, now time.Time) string {
	t := m.s.Theme
	c := cellOf{r: r, now: now, l: l}
	cells := make([]string, len(columns))
	for i, col := range columns {
		if l.Widths[i] > 0 {
			cells[i] = col.cell(c)
		}
	}
	marker := " "
	if cursor {
		marker = ">"
	}
	if m.sel[r.Name] {
		marker += "✓"
	}
	cells[colMarker] = marker
	if cursor {
		return t.Selected.Render(l.Row(cells, nil))
	}
	return l.Row(cells, func(i int, cell string) string {
		if i == colMarker {
			if strings.TrimSpace(cell) == "" {
				return cell
			}
			return t.Accent.Render(cell)
		}
		if i == colRecent {
			return m.recentCell(r, l.Widths[i])
		}
		if st := columns[i].style; st != nil {
			return st(t, r, cell)
		}
		return cell
	})
}
