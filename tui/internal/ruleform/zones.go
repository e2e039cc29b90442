package ruleform

import (
	"archive/zip"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// The time-zone field completes from the names in the system's zone
// database: $ZONEINFO (a directory, or a zip such as Go's zoneinfo.zip),
// else the first of the usual directories that exists, else a short list
// of common zones. Names are read once per process; the database does not
// change while a console runs.

// zoneDirs are where systems keep their zone database, as Go looks for it.
var zoneDirs = []string{"/usr/share/zoneinfo", "/usr/share/lib/zoneinfo", "/usr/lib/locale/TZ"}

// fallbackZones are offered when no zone database can be read. Any other
// IANA name can still be typed: the form checks it with the zones Go
// carries itself.
var fallbackZones = []string{
	"Africa/Cairo", "Africa/Johannesburg", "Africa/Lagos", "Africa/Nairobi",
	"America/Anchorage", "America/Bogota", "America/Chicago", "America/Denver",
	"America/Halifax", "America/Los_Angeles", "America/Mexico_City", "America/New_York",
	"America/Phoenix", "America/Santiago", "America/Sao_Paulo", "America/St_Johns",
	"America/Toronto", "America/Vancouver", "Asia/Dhaka", "Asia/Dubai",
	"Asia/Hong_Kong", "Asia/Jakarta", "Asia/Jerusalem", "Asia/Karachi",
	"Asia/Kathmandu", "Asia/Kolkata", "Asia/Manila", "Asia/Seoul",
	"Asia/Shanghai", "Asia/Singapore", "Asia/Tehran", "Asia/Tokyo",
	"Atlantic/Azores", "Atlantic/Reykjavik", "Australia/Adelaide", "Australia/Brisbane",
	"Australia/Lord_Howe", "Australia/Melbourne", "Australia/Perth", "Australia/Sydney",
	"Europe/Amsterdam", "Europe/Athens", "Europe/Berlin", "Europe/Dublin",
	"Europe/Helsinki", "Europe/Istanbul", "Europe/Lisbon", "Europe/London",
	"Europe/Madrid", "Europe/Moscow", "Europe/Paris", "Europe/Rome",
	"Europe/Stockholm", "Europe/Warsaw", "Europe/Zurich", "Pacific/Auckland",
	"Pacific/Chatham", "Pacific/Honolulu", "UTC",
}

// systemZones returns the zone names the field completes from, sorted.
var systemZones = sync.OnceValue(func() []string {
	if dir := os.Getenv("ZONEINFO"); dir != "" {
		if names := zoneNames(dir); len(names) > 0 {
			return names
		}
	}
	for _, dir := range zoneDirs {
		if names := zoneNames(dir); len(names) > 0 {
			return names
		}
	}
	return fallbackZones
})

// zoneNames lists the IANA zone names in a zone database, a directory or
// a zip, sorted and with UTC; none when it cannot be read. The variants
// (posix/, right/), the tables (zone.tab, leapseconds, tzdata.zi, ...),
// localtime and Factory are left out: only zone files named as IANA names
// are, each checked for the TZif header.
func zoneNames(root string) []string {
	info, err := os.Stat(root)
	if err != nil {
		return nil
	}
	var names []string
	if info.Mode().IsRegular() {
		names = zipZoneNames(root)
	} else if dir, err := filepath.EvalSymlinks(root); err == nil {
		names = dirZoneNames(dir)
	}
	if len(names) == 0 {
		return nil
	}
	names = append(names, "UTC")
	sort.Strings(names)
	return compactSorted(names)
}

func dirZoneNames(dir string) []string {
	var names []string
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || path == dir {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if !zoneName(rel) {
				return fs.SkipDir
			}
			return nil
		}
		if zoneName(rel) && isTZif(path) {
			names = append(names, rel)
		}
		return nil
	})
	return names
}

func zipZoneNames(path string) []string {
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil
	}
	defer func() { _ = z.Close() }()
	var names []string
	for _, f := range z.File {
		if f.FileInfo().IsDir() || !zoneName(f.Name) {
			continue
		}
		r, err := f.Open()
		if err != nil {
			continue
		}
		if tzif(r) {
			names = append(names, f.Name)
		}
		_ = r.Close()
	}
	return names
}

// zoneName reports whether a path in the database is named as an IANA zone
// (or an area of zones): parts that start with a capital letter and hold
// only letters, digits, "_", "-" and "+". Factory is a placeholder, not a
// place.
func zoneName(rel string) bool {
	if rel == "Factory" {
		return false
	}
	for part := range strings.SplitSeq(rel, "/") {
		if part == "" || part[0] < 'A' || part[0] > 'Z' {
			return false
		}
		for _, r := range part {
			ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '+'
			if !ok {
				return false
			}
		}
	}
	return true
}

// isTZif reports whether the file at path is a compiled zone.
func isTZif(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer func() { _ = f.Close() }()
	return tzif(f)
}

func tzif(r io.Reader) bool {
	var head [4]byte
	_, err := io.ReadFull(r, head[:])
	return err == nil && bytes.Equal(head[:], []byte("TZif"))
}

func compactSorted(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// zoneAreas are the areas of the IANA database's canonical names; a name
// in one of them is offered before a legacy one such as US/Eastern or EST.
var zoneAreas = map[string]bool{
	"Africa": true, "America": true, "Antarctica": true, "Arctic": true, "Asia": true,
	"Atlantic": true, "Australia": true, "Europe": true, "Indian": true, "Pacific": true, "Etc": true,
}

// completeZone returns the names matching what was typed, best first: a
// prefix of the whole name (ignoring case, a space read as "_"), canonical
// names before legacy ones, then a prefix of a later part ("new_y" finds
// America/New_York, "paris" Europe/Paris). Empty for empty text.
func completeZone(names []string, typed string) []string {
	q := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(typed), " ", "_"))
	if q == "" {
		return nil
	}
	var whole, legacy, part []string
	for _, n := range names {
		l := strings.ToLower(n)
		area, _, nested := strings.Cut(n, "/")
		switch {
		case strings.HasPrefix(l, q) && (n == "UTC" || nested && zoneAreas[area]):
			whole = append(whole, n)
		case strings.HasPrefix(l, q):
			legacy = append(legacy, n)
		case !strings.Contains(q, "/") && strings.Contains(l, "/"+q):
			part = append(part, n)
		}
	}
	return append(append(whole, legacy...), part...)
}
