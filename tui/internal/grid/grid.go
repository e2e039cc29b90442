// Package grid lays out the console's lists: columns that share the width
// of the terminal, cells cut to fit, blocks padded to a height. Which rows
// are on screen is package list's; a view renders only those, so a list of
// 100,000 rows costs what a screenful costs.
package grid

import (
	"sort"
	"strings"

	"github.com/charmbracelet/x/ansi"
)

// Column is one column of a list.
type Column struct {
	Title string
	// Width is the column's fixed width, or its least width when Flex > 0.
	Width int
	// Flex shares the width left over among flexible columns, in
	// proportion.
	Flex int
	// MinTotal hides the column when the list is narrower than this.
	MinTotal int
	// Right aligns the column's cells to the right.
	Right bool
}

// Layout is columns fitted to a width.
type Layout struct {
	Columns []Column
	Widths  []int // per column; 0 for a hidden column
}

// Fit gives each column its width within total cells, one space between
// columns. Columns whose MinTotal exceeds total are hidden.
func Fit(cols []Column, total int) Layout {
	l := Layout{Columns: cols, Widths: make([]int, len(cols))}
	used, flex, shown := 0, 0, 0
	for i, c := range cols {
		if c.MinTotal > total {
			continue
		}
		l.Widths[i] = c.Width
		used += c.Width
		flex += c.Flex
		shown++
	}
	used += max(0, shown-1)
	if spare := total - used; spare > 0 && flex > 0 {
		left := spare
		last := -1
		for i, c := range cols {
			if l.Widths[i] == 0 || c.Flex == 0 {
				continue
			}
			add := spare * c.Flex / flex
			l.Widths[i] += add
			left -= add
			last = i
		}
		if last >= 0 {
			l.Widths[last] += left
		}
	}
	return l
}

// Row joins cells into a line, each cut or padded to its column's width.
// style, when not nil, is applied to cell i after it is fitted (so colour
// codes never count against the width).
func (l Layout) Row(cells []string, style func(i int, cell string) string) string {
	var b strings.Builder
	first := true
	for i, w := range l.Widths {
		if w == 0 {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		cell := ""
		if i < len(cells) {
			cell = cells[i]
		}
		cell = Fit1(cell, w, l.Columns[i].Right)
		if style != nil {
			cell = style(i, cell)
		}
		b.WriteString(cell)
	}
	return b.String()
}

// Header is the row of column titles.
func (l Layout) Header() string {
	titles := make([]string, len(l.Columns))
	for i, c := range l.Columns {
		titles[i] = c.Title
	}
	return l.Row(titles, nil)
}

// HeaderSorted is the row of column titles with the title of column col
// marked as the one the list is sorted by: ▼ descending, ▲ ascending. The
// mark always shows; a title too wide for it is cut first.
func (l Layout) HeaderSorted(col int, desc bool) string {
	titles := make([]string, len(l.Columns))
	for i, c := range l.Columns {
		titles[i] = c.Title
	}
	if col >= 0 && col < len(titles) && l.Widths[col] > 0 {
		mark := "▲"
		if desc {
			mark = "▼"
		}
		w := l.Widths[col]
		title := titles[col]
		if ansi.StringWidth(title)+1 > w {
			title = ansi.Truncate(title, max(0, w-1), "")
		}
		titles[col] = title + mark
	}
	return l.Row(titles, nil)
}

// Fit1 cuts s to w cells (with an ellipsis) or pads it with spaces, on one
// line: a newline in it becomes a space.
func Fit1(s string, w int, right bool) string {
	if w <= 0 {
		return ""
	}
	s = Line(s)
	n := ansi.StringWidth(s)
	if n > w {
		return ansi.Truncate(s, w, "…")
	}
	pad := strings.Repeat(" ", w-n)
	if right {
		return pad + s
	}
	return s + pad
}

// Wrap breaks prose into lines of at most w cells, at spaces where it
// can: a sentence the console must show whole (an error, what a clock
// change does). A newline in s becomes a space first.
func Wrap(s string, w int) []string {
	if w <= 0 {
		return nil
	}
	return strings.Split(ansi.Wrap(Line(s), w, ""), "\n")
}

// Pad fills s with blank lines up to height lines, or cuts it to height.
func Pad(s string, height int) string {
	if height <= 0 {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > height {
		lines = lines[:height]
	}
	for len(lines) < height {
		lines = append(lines, "")
	}
	return strings.Join(lines, "\n")
}

// Line puts prose of several lines (an error, a log message, a note) on
// one: each newline becomes a space. Text from the agent comes cleaned of
// escapes and controls (package safe) but keeps its newlines; a view that
// styles such text before fitting it calls Line first, as the style would
// pad each line of it to a block.
func Line(s string) string { return strings.ReplaceAll(s, "\n", " ") }

// PadLines fills lines with empty ones up to height, or cuts them to it.
func PadLines(lines []string, height int) []string {
	height = max(0, height)
	if len(lines) > height {
		return lines[:height]
	}
	for len(lines) < height {
		lines = append(lines, "")
	}
	return lines
}

// Pairs shows parameters as name=value in name order, joined by sep;
// empty when there are none. A value of several lines (an http job's
// headers) shows its newlines as \n, so the lines stay apart and the pairs
// on one line.
func Pairs(p map[string]string, sep, empty string) string {
	if len(p) == 0 {
		return empty
	}
	names := make([]string, 0, len(p))
	for k := range p {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + "=" + strings.ReplaceAll(p[k], "\n", `\n`)
	}
	return strings.Join(parts, sep)
}
