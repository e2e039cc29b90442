// Package safe is where text from the agent enters the console. Every string
// an agent answers (rule names, parameters, descriptions, errors, cancel
// reasons, log lines, progress, status, events) may hold terminal escapes:
// drawn raw, "\x1b]52;c;…\a" writes the operator's clipboard, "\x1b]0;…\a"
// retitles the window, "\x1b[2J" clears the screen, and a tab or a carriage
// return garbles the layout. Over SSH the agent's data reaches every remote
// operator's terminal the same way.
//
// Client wraps the API client: each reply, each event of the stream and
// each error is cleaned once, by Value and Error, before a view sees it.
// The views hold only a Client, never the raw one, so nothing reaches the
// screen around it.
//
// Text shows a control character as Go's %q would write it, so it is seen
// rather than obeyed:
//
//	ESC        \x1b      (so "\x1b]52;c;…" shows as the text \x1b]52;c;…)
//	BEL, CR    \a, \r    (other C0 controls: \b \f \v \x00 … \x1f)
//	DEL        \x7f
//	C1 (CSI)   \u009b    (every U+0080–U+009F)
//	bidi       \u202e    (U+202A–U+202E, U+2066–U+2069, and the marks
//	                      U+200E, U+200F, U+061C)
//	separators \u2028, \u2029
//	bad UTF-8  \xff      (each byte that is not part of a character)
//
// A tab becomes spaces up to the next multiple of 8 columns, counted from
// the start of the line within the string. A newline stays: values such as
// an http job's header parameter hold several lines, and each view decides
// how to draw them on its lines (grid.Fit1 and grid.Pairs keep them from
// breaking the layout). "\r\n" is a line end and becomes "\n".
//
// The visible forms are for reading, not for sending back: a literal
// backslash is not escaped, so "\x1b" typed into a log line and an ESC look
// the same, and a value edited in the console is saved as shown.
package safe

import (
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/charmbracelet/x/ansi"
)

// tabWidth is the distance between tab stops.
const tabWidth = 8

// Text returns s with every control character, escape and bidi control
// made visible and tabs expanded; see the package comment for the forms.
// Text that needs none of it is returned as is.
func Text(s string) string {
	if !needsCleaning(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 16)
	// col is the width of the current line up to measured, an index into
	// b: widths are measured lazily, so a line of many tabs stays linear.
	measured, col := 0, 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteString(`\x`)
			b.WriteString(strconv.FormatUint(uint64(s[i]), 16))
		case r == '\r' && strings.HasPrefix(s[i+1:], "\n"):
			// A CRLF line end: the newline below ends the line.
		case r == '\n':
			b.WriteByte('\n')
			measured, col = b.Len(), 0
		case r == '\t':
			col += ansi.StringWidth(b.String()[measured:])
			n := tabWidth - col%tabWidth
			b.WriteString(strings.Repeat(" ", n))
			col += n
			measured = b.Len()
		case hidden(r):
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// hidden reports whether r must be shown escaped: it would act on the
// terminal (C0 and C1 controls, DEL), reorder what is around it (bidi
// controls), or end a line where the view does not expect one.
func hidden(r rune) bool {
	switch {
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	case r == 0x200e || r == 0x200f || r == 0x061c:
		return true
	case r == 0x2028 || r == 0x2029:
		return true
	}
	return false
}

// needsCleaning reports whether Text would change s: the common case of a
// plain string costs one scan and no allocation.
func needsCleaning(s string) bool {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if (c < 0x20 && c != '\n') || c == 0x7f {
				return true
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || hidden(r) {
			return true
		}
		i += size
	}
	return false
}
