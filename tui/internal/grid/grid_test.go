package grid

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

func TestFitSharesTheWidthAndHidesNarrowColumns(t *testing.T) {
	cols := []Column{{Title: "A", Width: 4}, {Title: "B", Width: 4, Flex: 1}, {Title: "C", Width: 5, MinTotal: 100}}
	l := Fit(cols, 20)
	if l.Widths[2] != 0 {
		t.Errorf("column C (MinTotal 100) shows at width 20")
	}
	if got := l.Widths[0] + l.Widths[1] + 1; got != 20 {
		t.Errorf("columns take %d cells of 20 (widths %v)", got, l.Widths)
	}
	if w := ansi.StringWidth(l.Row([]string{"abcdefgh", "x"}, nil)); w != 20 {
		t.Errorf("a row is %d cells wide, want 20", w)
	}
}

func TestFit1CutsWithAnEllipsisAndPads(t *testing.T) {
	for _, c := range []struct {
		in    string
		w     int
		right bool
		want  string
	}{
		{"nightly-report", 8, false, "nightly…"},
		{"ok", 5, false, "ok   "},
		{"42s", 6, true, "   42s"},
		{"a\nb", 3, false, "a b"},
	} {
		if got := Fit1(c.in, c.w, c.right); got != c.want {
			t.Errorf("Fit1(%q, %d) = %q, want %q", c.in, c.w, got, c.want)
		}
	}
}

func TestPairsShowANewlineInAValueAsBackslashN(t *testing.T) {
	got := Pairs(map[string]string{"url": "https://x", "header": "A: 1\nB: 2"}, "  ", "(none)")
	if want := `header=A: 1\nB: 2  url=https://x`; got != want {
		t.Errorf("Pairs = %q, want %q", got, want)
	}
}

func TestWrapBreaksProseAtSpacesWithinTheWidth(t *testing.T) {
	got := Wrap("Clocks go forward 1 hour on Sun 14 Mar\nat 02:00: the 02:30 fire is skipped.", 20)
	want := []string{"Clocks go forward 1", "hour on Sun 14 Mar", "at 02:00: the 02:30", "fire is skipped."}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Wrap = %q, want %q", got, want)
	}
	if got := Wrap("anything", 0); got != nil {
		t.Errorf("Wrap to no width = %q, want nothing", got)
	}
}
