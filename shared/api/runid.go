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

// ParseRunIDPrefix reads the first characters of a run's id, as an
// operator types them (the console shows 8): lowercased, trimmed of
// spaces. It refuses what no run id starts with, naming what is wrong: an
// empty prefix, one longer than an id, a character that is not 0-9, a-f
// or -. The agent (GET /runs?idPrefix=) and the console (:run) both check
// with it, so they refuse the same input with the same words.
func ParseRunIDPrefix(s string) (string, error) {
	p := strings.ToLower(strings.TrimSpace(s))
	switch {
	case p == "":
		return "", fmt.Errorf("%w: it is empty; give the first characters of a run id", ErrRunIDPrefix)
	case len(p) > RunIDLength:
		return "", fmt.Errorf("%w: it is %d characters long, a run id %d", ErrRunIDPrefix, len(p), RunIDLength)
	}
	for _, r := range p {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r == '-') {
			return "", fmt.Errorf("%w: %q cannot be in a run id (made of 0-9, a-f and -)", ErrRunIDPrefix, r)
		}
	}
	return p, nil
}
