package burst

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// summarizeLog counts the warnings and errors in the agent's log (slog's
// text format: level=WARN msg="...") and finds their most frequent
// message. An unreadable log counts nothing.
func summarizeLog(path string) LogFigures {
	var f LogFigures
	file, err := os.Open(path)
	if err != nil {
		return f
	}
	defer file.Close()
	counts := map[string]int{}
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.Contains(line, " level=WARN "):
			f.Warnings++
		case strings.Contains(line, " level=ERROR "):
			f.Errors++
		default:
			continue
		}
		counts[logMessage(line)]++
	}
	for msg, n := range counts {
		if n > f.TopCount || (n == f.TopCount && msg < f.Top) {
			f.Top, f.TopCount = msg, n
		}
	}
	return f
}

// logMessage is the msg of a slog text line, unquoted; the line itself if
// it has none.
func logMessage(line string) string {
	_, rest, ok := strings.Cut(line, " msg=")
	if !ok {
		return line
	}
	if strings.HasPrefix(rest, `"`) {
		if q, err := strconv.QuotedPrefix(rest); err == nil {
			if s, err := strconv.Unquote(q); err == nil {
				return s
			}
		}
	}
	msg, _, _ := strings.Cut(rest, " ")
	return msg
}
