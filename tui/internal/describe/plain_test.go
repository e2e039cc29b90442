package describe

import (
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/muesli/termenv"

	"github.com/jobbridge/jobbridge/tui/internal/safe"
	"github.com/jobbridge/jobbridge/tui/internal/session"
	"github.com/jobbridge/jobbridge/tui/internal/theme"
)

const doc = `{"id":"r1","parameters":{"startsAt":"2025-01-01T00:00:00Z","note":"two\nlines","hostile":"\u001b]52;c;cHduZWQ=\u0007x"},
"createdAt":"2025-03-14T11:55:00Z","error":"` + "a-very-long-word-without-any-space-that-must-still-be-broken-somewhere-to-fit" + `",
"chained":[{"id":"c1","status":"failed"},{"id":"c2","status":"succeeded"}],"empty":{},"none":[],"n":null,
"aVeryLongFieldNameThatDoesNotFitTheLabelColumn":"value","nested":[["a","b"]]}`

func testSession() *session.Context {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return &session.Context{Theme: theme.New(r), Location: time.FixedZone("CET", 3600)}
}

func TestPlainLinesShowEveryFieldWithinTheWidth(t *testing.T) {
	s := testSession()
	clean := safe.JSON(json.RawMessage(doc))
	for w := 20; w <= 200; w += 7 { // the console is at least 20 wide
		lines := plainLines(s, clean, w)
		all := strings.Join(lines, "\n")
		for _, l := range lines {
			if ansi.StringWidth(l) > w {
				t.Errorf("at %d columns a line is %d wide: %q", w, ansi.StringWidth(l), l)
			}
			if strings.ContainsAny(l, "\x1b\a") {
				t.Errorf("at %d columns a line holds a raw control: %q", w, l)
			}
		}
		for _, k := range []string{"id", "parameters", "startsAt", "note", "createdAt", "error", "chained", "status", "empty", "none", "aVeryLongFieldNameThatDoesNotFitTheLabelColumn", "nested"} {
			if !strings.Contains(strings.Join(strings.Fields(all), ""), k) { // a long key may wrap
				t.Errorf("at %d columns the field %q is not shown:\n%s", w, k, all)
			}
		}
		if joined := strings.Join(strings.Fields(all), ""); !strings.Contains(joined, "a-very-long-word-without-any-space-that-must-still-be-broken-somewhere-to-fit") {
			t.Errorf("at %d columns the long word is not whole across its lines:\n%s", w, all)
		}
	}
	all := strings.Join(plainLines(s, clean, 100), "\n")
	for _, want := range []string{
		"createdAt   2025-03-14 12:55:00 CET (11:55:00 UTC)", // a time: local, then UTC
		"startsAt  2025-01-01T00:00:00Z",                     // a parameter: as written
		`hostile   \x1b]52;c;cHduZWQ=\ax`,                    // an escape: as text
		"note      two\n",                                    // lines of a value: each on its own
		"  - id      c1\n    status  failed\n  - id      c2", // an array of objects: items under dashes
		"empty", "(none)",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the fields do not show %q:\n%s", want, all)
		}
	}
}

func TestRawLinesAreTheIndentedJSONWithinTheWidth(t *testing.T) {
	clean := safe.JSON(json.RawMessage(doc))
	lines := rawLines(clean, 40)
	for _, l := range lines {
		if ansi.StringWidth(l) > 40 || strings.ContainsAny(l, "\x1b\a") {
			t.Errorf("raw line %q is wider than 40 or holds a raw control", l)
		}
	}
	if !strings.Contains(strings.Join(lines, ""), `"hostile": "\u001b]52;c;cHduZWQ=\u0007x"`) {
		t.Errorf("the raw JSON does not keep the escape as JSON's:\n%s", strings.Join(lines, "\n"))
	}
}
