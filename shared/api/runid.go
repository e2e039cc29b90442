package api

import (
	"errors"
	"fmt"
	"strings"
)

// RunIDLength is the length of a run's id: a UUID (version 7) in its
// 36-character text form, lowercase.
const RunIDLength = 36

// ErrRunIDPrefix is wrapped by ParseRunIDPrefix's errors.
var ErrRunIDPrefix = errors.New("not the start of a run id")

// ErrRunIDSuffix is wrapped by ParseRunIDSuffix's errors.
var ErrRunIDSuffix = errors.New("not the end of a run id")

// ParseRunIDPrefix reads the first characters of a run's id, as an
// operator types them: lowercased, trimmed of spaces. It refuses what no
// run id starts with, naming what is wrong: an empty prefix, one longer
// than an id, a character that is not 0-9, a-f or -. The agent (GET
// /runs?idPrefix=) and the console (:run) both check with it, so they
// refuse the same input with the same words.
func ParseRunIDPrefix(s string) (string, error) { return parseRunIDPart(s, ErrRunIDPrefix, "first") }

// ParseRunIDSuffix reads the last characters of a run's id (the console
// shows the last 8) as ParseRunIDPrefix reads the first.
func ParseRunIDSuffix(s string) (string, error) { return parseRunIDPart(s, ErrRunIDSuffix, "last") }

func parseRunIDPart(s string, kind error, which string) (string, error) {
	p := strings.ToLower(strings.TrimSpace(s))
	switch {
	case p == "":
		return "", fmt.Errorf("%w: it is empty; give the %s characters of a run id", kind, which)
	case len(p) > RunIDLength:
		return "", fmt.Errorf("%w: it is %d characters long, a run id %d", kind, len(p), RunIDLength)
	}
	for _, r := range p {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r == '-') {
			return "", fmt.Errorf("%w: %q cannot be in a run id (0-9, a-f, -)", kind, r)
		}
	}
	return p, nil
}
