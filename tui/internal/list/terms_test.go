package list

import (
	"testing"
	"time"
)

func TestParseTerms(t *testing.T) {
	got, err := ParseTerms("rule:nightly  disk full status:failed 12:00 :x", "rule", "status")
	if err != nil {
		t.Fatal(err)
	}
	if got.Values["rule"] != "nightly" || got.Values["status"] != "failed" || got.Text != "disk full 12:00 :x" {
		t.Errorf("ParseTerms = %+v", got)
	}
	for in, want := range map[string]string{
		"owner:me": "owner: is not a filter term here (it takes rule:, status: and free text)",
		"rule:":    "rule: needs a value (rule:VALUE)",
	} {
		if _, err := ParseTerms(in, "rule", "status"); err == nil || err.Error() != want {
			t.Errorf("ParseTerms(%q): %v, want %q", in, err, want)
		}
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)
	cet := time.FixedZone("CET", 3600)
	for in, want := range map[string]time.Time{
		"90s":                  now.Add(-90 * time.Second),
		"1h30m":                now.Add(-90 * time.Minute),
		"2d":                   now.Add(-48 * time.Hour),
		"1w2d3h":               now.Add(-(9*24 + 3) * time.Hour),
		"2026-12-01":           time.Date(2026, 12, 1, 0, 0, 0, 0, cet),
		"2026-12-01T10:00":     time.Date(2026, 12, 1, 10, 0, 0, 0, cet),
		"2026-12-01T10:00:00Z": time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
	} {
		got, err := ParseSince(in, now, cet)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"banana", "-1h", "0s", "2x", "d", "1.5d", "2026-13-01", "1h2d"} {
		if _, err := ParseSince(bad, now, cet); err == nil {
			t.Errorf("ParseSince(%q) is accepted", bad)
		} else if want := `since: "` + bad + `" is not a duration (30m, 1h, 2d) or date (2026-12-01)`; err.Error() != want {
			t.Errorf("ParseSince(%q): %q, want %q", bad, err, want)
		}
	}
}
