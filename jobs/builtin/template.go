package builtin

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/jobbridge/jobbridge/jobs"
)

// template is a text with ${param.NAME} placeholders, as a list of parts:
// literal text, or a parameter's name.
type template []templatePart

type templatePart struct {
	literal string
	param   string // the parameter whose value goes here; "" for a literal
}

var placeholder = regexp.MustCompile(`\$\{param\.([A-Za-z_][A-Za-z0-9_]*)\}`)

// errPlaceholder says what a placeholder looks like, for a "${" that is
// not one.
var errPlaceholder = errors.New(`has a "${" that is not a ${param.NAME} placeholder (the only kind there is)`)

// parseTemplate reads text's ${param.NAME} placeholders.
func parseTemplate(text string) (template, error) {
	var t template
	rest := text
	for rest != "" {
		loc := placeholder.FindStringSubmatchIndex(rest)
		if loc == nil {
			loc = []int{len(rest), len(rest)}
		}
		if lit := rest[:loc[0]]; lit != "" {
			if strings.Contains(lit, "${") {
				return nil, errPlaceholder
			}
			t = append(t, templatePart{literal: lit})
		}
		if loc[0] == len(rest) {
			break
		}
		t = append(t, templatePart{param: rest[loc[2]:loc[3]]})
		rest = rest[loc[1]:]
	}
	return t, nil
}

// params lists the parameters t names, each once, in order.
func (t template) params() []string {
	var out []string
	for _, p := range t {
		if p.param != "" && !slices.Contains(out, p.param) {
			out = append(out, p.param)
		}
	}
	return out
}

// literal is t's text without its placeholders.
func (t template) literal() string {
	var b strings.Builder
	for _, p := range t {
		b.WriteString(p.literal)
	}
	return b.String()
}

// expand writes t with each placeholder replaced by its parameter's value
// (empty when it has none) passed through escape.
func (t template) expand(params jobs.Params, escape func(string) string) string {
	var b strings.Builder
	for _, p := range t {
		if p.param == "" {
			b.WriteString(p.literal)
			continue
		}
		v := params.String(p.param)
		if escape != nil {
			v = escape(v)
		}
		b.WriteString(v)
	}
	return b.String()
}

// checkHeaderValue reports why v cannot be a header's value: it holds a
// control character other than a tab (a line break would start another
// header).
func checkHeaderValue(v string) error {
	for _, c := range []byte(v) {
		if c < ' ' && c != '\t' || c == 0x7f {
			return fmt.Errorf("holds a line break or another control character, which a header value cannot")
		}
	}
	return nil
}
