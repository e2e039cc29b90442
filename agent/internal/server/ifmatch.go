package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/jobbridge/jobbridge/shared/api"
)

// IfMatchHeader is the If-Match header of a write to one rule, each of
// the request's If-Match fields included (see Resolve). It is exported
// because huma reads only the exported fields embedded in an input.
type IfMatchHeader struct {
	IfMatch string `header:"If-Match" doc:"The rule's ETag as read (\"3\"), or a comma-separated list of ETags: refused with 412 unless one is the rule's current ETag (weak ETags never match); * for any version."`
}

// Resolve reads every If-Match field of the request, not only the first:
// several fields are one comma-separated list (RFC 9110, section 5.3).
func (h *IfMatchHeader) Resolve(ctx huma.Context) []error {
	var all []string
	ctx.EachHeader(func(name, value string) {
		if strings.EqualFold(name, "If-Match") {
			all = append(all, value)
		}
	})
	if len(all) > 1 {
		h.IfMatch = strings.Join(all, ", ")
	}
	return nil
}

// entityTag is one entity tag of an If-Match list: its opaque tag without
// the quotes, and whether it is weak (W/).
type entityTag struct {
	opaque string
	weak   bool
}

// ifMatchList is an If-Match header read: star for *, otherwise the
// entity tags listed (none for a list of empty elements).
type ifMatchList struct {
	star bool
	tags []entityTag
}

// parseIfMatch reads an If-Match field value as RFC 9110 (section 13.1.1)
// gives it: * alone, or a comma-separated list of entity tags
// ([W/]"opaque", with optional spaces and empty elements). Only a value
// that cannot be read so is an error: a 400 at header.If-Match that says
// why.
func parseIfMatch(h string) (ifMatchList, error) {
	bad := func(why string) error {
		return huma.Error400BadRequest("the If-Match header is invalid",
			&huma.ErrorDetail{Location: "header.If-Match", Message: why, Value: clipHeader(h)})
	}
	const ows = " \t"
	if strings.Trim(h, ows) == "*" {
		return ifMatchList{star: true}, nil
	}
	var l ifMatchList
	rest := h
	for {
		rest = strings.TrimLeft(rest, ows+",")
		if rest == "" {
			return l, nil
		}
		var t entityTag
		if strings.HasPrefix(rest, "W/") {
			t.weak, rest = true, rest[2:]
		}
		if rest[0] != '"' {
			if rest[0] == '*' {
				return ifMatchList{}, bad("* stands alone: it is not one of a list of ETags")
			}
			return ifMatchList{}, bad(`holds something that is not an ETag: an ETag is in double quotes, such as "3" (the rule's, as GET gives it), or the header is *`)
		}
		end := 1
		for end < len(rest) && rest[end] != '"' {
			if c := rest[end]; c < 0x21 || c == 0x7f {
				return ifMatchList{}, bad("holds an ETag with a space or a control character in it")
			}
			end++
		}
		if end == len(rest) {
			return ifMatchList{}, bad(`holds an ETag with no closing double quote`)
		}
		t.opaque, rest = rest[1:end], strings.TrimLeft(rest[end+1:], ows)
		l.tags = append(l.tags, t)
		if rest != "" && rest[0] != ',' {
			return ifMatchList{}, bad("holds ETags not separated by commas")
		}
	}
}

// expectedVersion is the version of the rule called name that a write
// with the If-Match header h expects (RFC 9110, section 13.1.1, strong
// comparison): 0 for any version when h is empty or * (the write still
// needs the rule to exist); the rule's version when a strong tag of h is
// its ETag ("N", N in plain decimal: "01" is another tag). A list none of
// whose tags matches is a 412 (api.ProblemStale) that names the rule's
// current version; a header that cannot be read a 400.
func (s *Server) expectedVersion(ctx context.Context, name, h string) (int64, error) {
	if strings.TrimSpace(h) == "" {
		return 0, nil
	}
	l, err := parseIfMatch(h)
	if err != nil || l.star {
		return 0, err
	}
	// One strong tag of a version: the write itself checks it, in the
	// same statement as it writes.
	if len(l.tags) == 1 && !l.tags[0].weak {
		if v, err := strconv.ParseInt(l.tags[0].opaque, 10, 64); err == nil && v >= 1 && etag(v) == `"`+l.tags[0].opaque+`"` {
			return v, nil
		}
	}
	r, err := s.cfg.Store.RuleGet(ctx, name)
	if err != nil {
		return 0, s.apiError(err, "rule")
	}
	current := strconv.FormatInt(r.Version, 10)
	weak := false
	for _, t := range l.tags {
		if t.opaque == current {
			if !t.weak {
				return r.Version, nil
			}
			weak = true
		}
	}
	why := ""
	if weak {
		why = " (a weak ETag, W/, never matches a write)"
	}
	return 0, &huma.ErrorModel{Type: api.ProblemStale, Title: http.StatusText(http.StatusPreconditionFailed),
		Status: http.StatusPreconditionFailed,
		Detail: fmt.Sprintf("rule %q is at version %d (ETag %s), which If-Match %s does not name%s; reload it and try again",
			name, r.Version, etag(r.Version), clipHeader(h), why)}
}

// maxEcho is how much of a request header an error answer repeats.
const maxEcho = 64

// clipHeader is a request header's value as an error repeats it: its
// first 64 bytes (cut between characters) and an ellipsis when longer.
func clipHeader(v string) string {
	if len(v) <= maxEcho {
		return v
	}
	n := maxEcho
	for n > 0 && !utf8.RuneStart(v[n]) {
		n--
	}
	return v[:n] + "…"
}
