package safe

import (
	"strings"
	"testing"
)

func TestTextShowsEscapesAndControlsInsteadOfSendingThem(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"OSC 52 clipboard write", "x\x1b]52;c;cm0gLXJmIC8=\x07y", `x\x1b]52;c;cm0gLXJmIC8=\ay`},
		{"OSC 0 title change", "\x1b]0;pwned\x07", `\x1b]0;pwned\a`},
		{"OSC ended by ST", "\x1b]0;pwned\x1b\\", `\x1b]0;pwned\x1b\`},
		{"screen clear", "a\x1b[2Jb", `a\x1b[2Jb`},
		{"colour", "\x1b[31mred\x1b[0m", `\x1b[31mred\x1b[0m`},
		{"C1 CSI", "\u009b2J", `\u009b2J`},
		{"C1 OSC and ST", "\u009d0;t\u009c", `\u009d0;t\u009c`},
		{"NEL", "a\u0085b", `a\u0085b`},
		{"DEL", "a\x7fb", `a\x7fb`},
		{"bare carriage return", "50%\r60%", `50%\r60%`},
		{"NUL, backspace, form feed, vertical tab", "\x00\b\f\v", `\x00\b\f\v`},
		{"other C0", "\x01\x1f", `\x01\x1f`},
		{"right-to-left override", "invoice\u202Efdp.exe", `invoice\u202efdp.exe`},
		{"every bidi embedding and override", "\u202A\u202B\u202C\u202D", `\u202a\u202b\u202c\u202d`},
		{"bidi isolates", "\u2066\u2067\u2068\u2069", `\u2066\u2067\u2068\u2069`},
		{"bidi marks", "\u200E\u200F\u061C", `\u200e\u200f\u061c`},
		{"line and paragraph separators", "a\u2028b\u2029c", `a\u2028b\u2029c`},
		{"invalid UTF-8", "a\xffb\xc3", `a\xffb\xc3`},
		{"raw C1 byte", "a\x9b2Jb", `a\x9b2Jb`},
		{"CRLF is a line end", "A: 1\r\nB: 2", "A: 1\nB: 2"},
		{"newline stays", "A: 1\nB: 2", "A: 1\nB: 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Text(c.in)
			if got != c.want {
				t.Errorf("Text(%q) = %q, want %q", c.in, got, c.want)
			}
			if i := strings.IndexFunc(got, func(r rune) bool { return r != '\n' && hidden(r) }); i >= 0 {
				t.Errorf("Text(%q) = %q still holds %U", c.in, got, []rune(got[i:])[0])
			}
		})
	}
}

func TestTextExpandsTabsToTheNextStopOfEight(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"\tx", "        x"},
		{"ab\tx", "ab      x"},
		{"abcdefgh\tx", "abcdefgh        x"},
		{"a\t\tx", "a               x"},
		{"id\tname\n1\tfoo", "id      name\n1       foo"},
		// Stops count cells, not bytes: é is one cell, 日 two.
		{"é\tx", "é       x"},
		{"日本\tx", "日本    x"},
		// A visible escape takes the cells it shows in.
		{"\x1b\tx", `\x1b    x`},
	} {
		if got := Text(c.in); got != c.want {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestTextLeavesOrdinaryUnicodeAlone(t *testing.T) {
	for _, s := range []string{
		"",
		"nightly-report",
		"Crème brûlée à la carte, Ærøskøbing, İstanbul",
		"e\u0301 (combining acute)",
		"日本語のジョブ 작업 任务",
		"émoji ✅ 🚀 👍🏽 👨‍👩‍👧 ❤️ 🇫🇷",
		"zero-width joiner\u200d and non-joiner\u200c stay",
		"http://example.com/a?b=c&d=e#f \\x1b stays as typed",
		"A: 1\nB: 2",
	} {
		if got := Text(s); got != s {
			t.Errorf("Text(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestTextOfALineOfManyTabsIsFast(t *testing.T) {
	s := strings.Repeat("a\t", 200_000)
	got := Text(s)
	if want := 200_000 * tabWidth; len(got) != want {
		t.Errorf("Text of 200,000 \"a\\t\" is %d bytes, want %d", len(got), want)
	}
}
