package ruleform

import (
	"archive/zip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/shared/schedule"
)

// zoneTree is a zone database as systems lay it out: zones, links, the
// posix/ and right/ variants, tables and odd files.
var zoneTree = map[string]string{
	"America/New_York":               "TZif2...",
	"America/Argentina/Buenos_Aires": "TZif2...",
	"Europe/Paris":                   "TZif2...",
	"Etc/GMT+5":                      "TZif2...",
	"US/Eastern":                     "TZif2...",
	"posix/Europe/Paris":             "TZif2...",
	"right/UTC":                      "TZif2...",
	"Factory":                        "TZif2...",
	"localtime":                      "TZif2...",
	"posixrules":                     "TZif2...",
	"zone.tab":                       "# tz zone descriptions\n",
	"zone1970.tab":                   "# tz zone descriptions\n",
	"leapseconds":                    "# leap seconds\n",
	"tzdata.zi":                      "# version 2025b\n",
	"SECURITY":                       "Please report security issues\n",
	"+VERSION":                       "2025b\n",
	"Europe/README":                  "not a zone\n",
}

var wantZones = []string{"America/Argentina/Buenos_Aires", "America/New_York", "Etc/GMT+5", "Europe/Paris", "US/Eastern", "UTC"}

func TestZoneNamesAreTheZonesOfTheDatabaseOnly(t *testing.T) {
	dir := t.TempDir()
	for name, body := range zoneTree {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := zoneNames(dir); !slices.Equal(got, wantZones) {
		t.Errorf("zoneNames of a directory = %q, want %q", got, wantZones)
	}

	// $ZONEINFO may name a zip, as Go's own zoneinfo.zip.
	zipPath := filepath.Join(t.TempDir(), "zoneinfo.zip")
	f, err := os.Create(zipPath)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, body := range zoneTree {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got := zoneNames(zipPath); !slices.Equal(got, wantZones) {
		t.Errorf("zoneNames of a zip = %q, want %q", got, wantZones)
	}

	if got := zoneNames(filepath.Join(dir, "missing")); got != nil {
		t.Errorf("zoneNames of a missing directory = %q, want none", got)
	}
}

func TestSystemZonesAreValidZoneNames(t *testing.T) {
	zones := systemZones()
	if !slices.Contains(zones, "America/New_York") || !slices.Contains(zones, "UTC") {
		t.Fatalf("the system's zones (%d) lack America/New_York or UTC", len(zones))
	}
	for _, name := range zones {
		if _, err := schedule.LoadLocation(name); err != nil {
			t.Errorf("offered zone %q does not load: %v", name, err)
		}
	}
}

func TestCompleteZoneOffersCanonicalNamesFirst(t *testing.T) {
	names := []string{"America/New_York", "America/Nome", "EST", "Egypt", "Etc/GMT+5", "Europe/Paris", "Europe/Berlin", "US/Eastern", "UTC"}
	cases := map[string][]string{
		"america/new_y": {"America/New_York"},
		"america/n":     {"America/New_York", "America/Nome"},
		"new york":      {"America/New_York"},
		"paris":         {"Europe/Paris"},
		"e":             {"Etc/GMT+5", "Europe/Paris", "Europe/Berlin", "EST", "Egypt", "US/Eastern"},
		"u":             {"UTC", "US/Eastern"},
		"":              nil,
		"mars":          nil,
	}
	for typed, want := range cases {
		if got := completeZone(names, typed); !slices.Equal(got, want) {
			t.Errorf("completeZone(%q) = %q, want %q", typed, got, want)
		}
	}
}

func TestParseDateReadsRFC3339OrAWallTimeInTheZone(t *testing.T) {
	ny, err := schedule.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		text, want string
	}{
		{"2027-03-14T09:30:00+01:00", "2027-03-14T08:30:00Z"},
		{"2027-03-14 09:30", "2027-03-14T13:30:00Z"}, // EDT
		{"2027-03-13T09:30", "2027-03-13T14:30:00Z"}, // EST
		{"2027-03-14 09:30:15", "2027-03-14T13:30:15Z"},
		{"2027-03-14", "2027-03-14T05:00:00Z"},
		// 01:30 happens twice on 7 November: the first, in EDT.
		{"2027-11-07 01:30", "2027-11-07T05:30:00Z"},
	} {
		got, err := parseDate(c.text, ny)
		if err != nil || got.UTC().Format(time.RFC3339) != c.want {
			t.Errorf("parseDate(%q) in New York = %s, %v; want %s", c.text, got.UTC().Format(time.RFC3339), err, c.want)
		}
	}
	for text, reason := range map[string]string{
		"2027-03-14 02:30": "2027-03-14 02:30 does not exist in America/New_York: the clocks skip it",
		"tomorrow":         `"tomorrow" is not a date: write RFC 3339`,
		"2027-02-30 10:00": `"2027-02-30 10:00" is not a date`,
	} {
		if _, err := parseDate(text, ny); err == nil || !strings.HasPrefix(err.Error(), reason) {
			t.Errorf("parseDate(%q) error %v, want one starting %q", text, err, reason)
		}
	}
	// In Paris too, where Go's own parsing takes the second instant.
	paris, err := schedule.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := parseDate("2027-10-31 02:30", paris); err != nil || !got.Equal(time.Date(2027, 10, 31, 0, 30, 0, 0, time.UTC)) {
		t.Errorf("parseDate(2027-10-31 02:30) in Paris = %s, %v; want the first of the two, 00:30Z (CEST)", got.UTC(), err)
	}
	if got, err := parseDate("", ny); err != nil || !got.IsZero() {
		t.Errorf("parseDate(\"\") = %s, %v; want no date", got, err)
	}
}

func TestCheckWindowKeepsSchedulersRange(t *testing.T) {
	for v, want := range map[string]string{
		"1m":    "",
		"15m":   "",
		"24h":   "",
		"1h30m": "",
		"30s":   `"30s" is outside 1m to 24h; leave it empty for none`,
		"25h":   `"25h" is outside 1m to 24h; leave it empty for none`,
		"1m30s": `"1m30s" is not a whole number of minutes, which EventBridge Scheduler counts it in`,
		"soon":  `"soon" is not a duration (e.g. 15m, 2h); leave it empty for none`,
	} {
		if got := checkWindow(v); got != want {
			t.Errorf("checkWindow(%q) = %q, want %q", v, got, want)
		}
	}
}
