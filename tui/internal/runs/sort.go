package runs

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/grid"
)

// The list's columns.
const (
	colMarker = iota
	colID
	colRule
	colJob
	colTrigger
	colStatus
	colStarted
	colDuration
	colProgress
)

var columns = []grid.Column{
	colMarker:   {Title: "", Width: 2},
	colID:       {Title: "ID", Width: 8, MinTotal: 100},
	colRule:     {Title: "RULE", Width: 10, Flex: 3},
	colJob:      {Title: "JOB", Width: 7, Flex: 2},
	colTrigger:  {Title: "TRIGGER", Width: 8, MinTotal: 120},
	colStatus:   {Title: "STATUS", Width: 11},
	colStarted:  {Title: "STARTED", Width: 12},
	colDuration: {Title: "DURATION", Width: 8, Right: true},
	colProgress: {Title: "PROGRESS", Width: 16, Flex: 1},
}

// Sort is the order of the list: by a column, either way. The agent
// lists runs newest first; that is the default, and the only order in
// which the list loads pages as the operator scrolls. Any other needs
// every run of the query, which the list loads in the background.
type Sort struct {
	Col  int
	Desc bool
}

// DefaultSort is newest first, as the agent pages them.
var DefaultSort = Sort{Col: colStarted, Desc: true}

// keyed is a run with what it sorts by under one Sort, computed once per
// sort rather than once per comparison, and copied: a sort in the
// background compares keys and never reads a run, which the stream's
// events change meanwhile.
type keyed struct {
	r       *api.Run
	s       string
	n       int64
	created int64
	id      string
}

// sortKey is what run r sorts by in column col: a text or a number.
// STARTED sorts by creation (queued runs have not started), DURATION by
// the time so far of an active run.
func sortKey(r *api.Run, col int, now time.Time) (string, int64) {
	switch col {
	case colID:
		return r.ID, 0
	case colRule:
		return strings.ToLower(r.Rule), 0
	case colJob:
		return strings.ToLower(r.Job), 0
	case colTrigger:
		return string(r.Trigger), 0
	case colStatus:
		return string(r.Status), 0
	case colDuration:
		switch {
		case r.FinishedAt != nil && r.StartedAt != nil:
			return "", int64(r.FinishedAt.Sub(*r.StartedAt))
		case r.StartedAt != nil && r.Status.Active():
			return "", int64(now.Sub(*r.StartedAt))
		}
		return "", -1
	case colProgress:
		return "", int64(r.Progress.Percent)
	}
	return "", r.CreatedAt.UnixNano()
}

// compare orders a before b (<0) under s; runs that tie are newest first,
// so the order is total and stable.
func (s Sort) compare(a, b keyed) int {
	c := cmp.Compare(a.s, b.s)
	if c == 0 {
		c = cmp.Compare(a.n, b.n)
	}
	if s.Desc {
		c = -c
	}
	if c != 0 {
		return c
	}
	return -cmp.Or(cmp.Compare(a.created, b.created), cmp.Compare(a.id, b.id))
}

func (s Sort) key(r *api.Run, now time.Time) keyed {
	k := keyed{r: r, created: r.CreatedAt.UnixNano(), id: r.ID}
	k.s, k.n = sortKey(r, s.Col, now)
	return k
}

// keys is the keys of runs under s.
func (s Sort) keys(runs []*api.Run, now time.Time) []keyed {
	ks := make([]keyed, len(runs))
	for i, r := range runs {
		ks[i] = s.key(r, now)
	}
	return ks
}

// order sorts keys and returns their runs in that order. It reads no run:
// it may run in the background.
func (s Sort) order(ks []keyed) []*api.Run {
	slices.SortFunc(ks, s.compare)
	out := make([]*api.Run, len(ks))
	for i, k := range ks {
		out[i] = k.r
	}
	return out
}

// sortRuns sorts runs under s, in place.
func (s Sort) sortRuns(runs []*api.Run, now time.Time) {
	copy(runs, s.order(s.keys(runs, now)))
}

// merge returns sorted runs with more (in any order) merged in where they
// sort: a page of a background load costs its own sort and one pass.
func (s Sort) merge(sorted, more []*api.Run, now time.Time) []*api.Run {
	s.sortRuns(more, now)
	out := make([]*api.Run, 0, len(sorted)+len(more))
	i, j := 0, 0
	for i < len(sorted) && j < len(more) {
		if s.compare(s.key(more[j], now), s.key(sorted[i], now)) < 0 {
			out = append(out, more[j])
			j++
		} else {
			out = append(out, sorted[i])
			i++
		}
	}
	out = append(out, sorted[i:]...)
	return append(out, more[j:]...)
}

// search is where r goes among sorted runs under s.
func (s Sort) search(runs []*api.Run, r *api.Run, now time.Time) int {
	k := s.key(r, now)
	i, _ := slices.BinarySearchFunc(runs, k, func(have *api.Run, k keyed) int { return s.compare(s.key(have, now), k) })
	return i
}

// next is the sort after s: the next column shown at width w, in its
// own order (names A to Z, times newest first, durations and progress
// largest first).
func (s Sort) next(w int) Sort {
	l := grid.Fit(columns, w)
	for i := 1; i <= len(columns); i++ {
		c := (s.Col + i) % len(columns)
		if c == colMarker || l.Widths[c] == 0 {
			continue
		}
		return Sort{Col: c, Desc: c == colStarted || c == colDuration || c == colProgress}
	}
	return s
}

// newer reports whether a was created after b (by id when at once).
func newer(a, b *api.Run) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) {
		return a.CreatedAt.After(b.CreatedAt)
	}
	return a.ID > b.ID
}
