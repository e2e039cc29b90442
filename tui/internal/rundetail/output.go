package rundetail

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/jobbridge/jobbridge/tui/internal/safe"
)

// outputView is the run's output as the output pane shows it: indented
// JSON, keys in the order the agent keeps them, each line wrapped to the
// view's width. It is made again only when the output or width change.
type outputView struct {
	src   []byte
	width int
	lines []string
}

// outputLines returns the run's output as lines of at most width cells.
func (m *Model) outputLines() []string {
	if m.run == nil || len(m.run.Output) == 0 {
		return nil
	}
	src, w := m.run.Output, max(1, m.w)
	if m.out.width == w && bytes.Equal(m.out.src, src) {
		return m.out.lines
	}
	m.out = outputView{src: src, width: w, lines: formatOutput(src, w)}
	return m.out.lines
}

// formatOutput indents the JSON document src and wraps its lines to width.
// The client has cleaned src (safe.JSON): what could act on the terminal
// is written as JSON escapes, which indenting keeps. It is cleaned again
// here all the same, as it cannot cost much and the pane must never draw
// the job's bytes raw.
func formatOutput(src []byte, width int) []string {
	src = safe.JSON(src)
	var b bytes.Buffer
	if err := json.Indent(&b, src, "", "  "); err != nil {
		b.Reset()
		b.Write(src)
	}
	var lines []string
	for l := range strings.Lines(b.String()) {
		l = safe.Text(strings.TrimRight(l, "\n"))
		lines = append(lines, strings.Split(ansi.Wrap(l, width, ""), "\n")...)
	}
	return lines
}
