package describe

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/jobbridge/jobbridge/tui/internal/safe"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// node is a JSON value with its object's keys in the agent's order
// (decoding into a map would sort them).
type node struct {
	kind  kind
	text  string   // a string's value; a number, true, false or null as written
	keys  []string // an object's keys
	items []*node  // an object's values (as keys) or an array's items
}

type kind int

const (
	kindString kind = iota
	kindOther       // a number, a bool, null
	kindObject
	kindArray
)

// parse reads a JSON document into nodes.
func parse(doc []byte) (*node, error) {
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	n, err := parseValue(d)
	if err != nil {
		return nil, fmt.Errorf("read the agent's JSON: %w", err)
	}
	return n, nil
}

func parseValue(d *json.Decoder) (*node, error) {
	tok, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Delim:
		n := &node{kind: kindObject}
		if tok == '[' {
			n.kind = kindArray
		}
		for d.More() {
			if n.kind == kindObject {
				k, err := d.Token()
				if err != nil {
					return nil, err
				}
				n.keys = append(n.keys, fmt.Sprint(k))
			}
			item, err := parseValue(d)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, item)
		}
		if _, err := d.Token(); err != nil { // the closing delimiter
			return nil, err
		}
		return n, nil
	case string:
		return &node{kind: kindString, text: tok}, nil
	case nil:
		return &node{kind: kindOther, text: "null"}, nil
	default:
		return &node{kind: kindOther, text: fmt.Sprint(tok)}, nil
	}
}

// verbatimKeys hold what an operator or a job wrote: their strings are
// shown as they are, never read as times.
var verbatimKeys = map[string]bool{"parameters": true, "output": true, "overrides": true}

// labelMax is the widest a label column grows; a longer key goes on a
// line of its own, its value under it.
const labelMax = 24

// minValueWidth is the least room beside a label for its value; with less,
// the value goes under the label.
const minValueWidth = 20

// printer lays out a document as labelled lines of at most w cells.
type printer struct {
	s   *session.Context
	w   int
	out []string
}

// plainLines is doc as fields, one a line (or more, wrapped), nested
// objects indented under their key.
func plainLines(s *session.Context, doc json.RawMessage, w int) []string {
	n, err := parse(doc)
	if err != nil {
		return []string{s.Theme.Failure.Render(safe.Text(err.Error()))}
	}
	p := &printer{s: s, w: max(w, 10)}
	if n.kind != kindObject {
		p.pair(0, "value", 5, p.scalars(n, false))
		return p.out
	}
	p.object(n, 0, false)
	return p.out
}

func (p *printer) object(n *node, indent int, verbatim bool) {
	labelW := 0
	for _, k := range n.keys {
		if w := ansi.StringWidth(safe.Text(k)); w <= labelMax {
			labelW = max(labelW, w)
		}
	}
	for i, k := range n.keys {
		p.field(safe.Text(k), n.items[i], indent, labelW, verbatim || verbatimKeys[k])
	}
}

func (p *printer) field(label string, v *node, indent, labelW int, verbatim bool) {
	switch {
	case v.kind == kindObject && len(v.keys) == 0, v.kind == kindArray && len(v.items) == 0:
		p.pair(indent, label, labelW, []string{p.s.Theme.Muted.Render("(none)")})
	case v.kind == kindObject:
		p.line(indent, p.label(label))
		p.object(v, indent+2, verbatim)
	case v.kind == kindArray && !scalarsOnly(v):
		p.line(indent, p.label(label))
		for _, item := range v.items {
			p.item(item, indent+2, verbatim)
		}
	default:
		p.pair(indent, label, labelW, p.scalars(v, verbatim))
	}
}

// item is one object (or array) of an array: its fields under a "- ".
func (p *printer) item(v *node, indent int, verbatim bool) {
	sub := &printer{s: p.s, w: p.w}
	switch v.kind {
	case kindObject:
		sub.object(v, indent+2, verbatim)
	case kindArray:
		for _, it := range v.items {
			sub.item(it, indent+2, verbatim)
		}
	default:
		sub.pair(indent+2, "", 0, sub.scalars(v, verbatim))
	}
	if len(sub.out) == 0 {
		sub.out = []string{strings.Repeat(" ", indent+2) + p.s.Theme.Muted.Render("(none)")}
	}
	// The first line starts with indent+2 spaces: the dash takes two.
	sub.out[0] = strings.Repeat(" ", indent) + "- " + sub.out[0][indent+2:]
	p.out = append(p.out, sub.out...)
}

func scalarsOnly(v *node) bool {
	for _, it := range v.items {
		if it.kind == kindObject || it.kind == kindArray {
			return false
		}
	}
	return true
}

// scalars are the texts of a scalar, or of each item of an array of them.
func (p *printer) scalars(v *node, verbatim bool) []string {
	if v.kind != kindArray {
		return []string{p.scalar(v, verbatim)}
	}
	out := make([]string, len(v.items))
	for i, it := range v.items {
		out[i] = p.scalar(it, verbatim)
	}
	return out
}

func (p *printer) scalar(v *node, verbatim bool) string {
	if v.kind != kindString {
		return v.text
	}
	if !verbatim {
		if t, ok := timestamp(v.text); ok {
			return p.when(t)
		}
	}
	if v.text == "" {
		return p.s.Theme.Muted.Render(`""`)
	}
	return safe.Text(v.text)
}

// timestamp reads s as a time if it is one as the agent writes them
// (RFC 3339 with a date and a time).
func timestamp(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || s[10] != 'T' {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	return t, err == nil
}

// when is a time in the console's zone, then in UTC.
func (p *printer) when(t time.Time) string {
	local := p.s.Local(t)
	const layout = "2006-01-02 15:04:05"
	utc := t.UTC()
	if name, off := local.Zone(); off == 0 && (name == "UTC" || name == "") {
		return utc.Format(layout) + " UTC"
	}
	u := utc.Format("15:04:05")
	if local.Format("2006-01-02") != utc.Format("2006-01-02") {
		u = utc.Format(layout)
	}
	return local.Format(layout+" MST") + " (" + u + " UTC)"
}

func (p *printer) label(l string) string { return p.s.Theme.Muted.Render(l) }

// line is s (a label) at indent, broken at the width if it is wider.
func (p *printer) line(indent int, s string) {
	indent = min(indent, p.w/2)
	for _, piece := range wrap(s, p.w-indent) {
		p.out = append(p.out, strings.Repeat(" ", indent)+piece)
	}
}

// pair is a label and its values: each value's lines wrapped in the
// column beside the label, or under it when the label is too long or the
// column too narrow.
func (p *printer) pair(indent int, label string, labelW int, values []string) {
	col := indent + labelW + 2
	if label == "" {
		col = indent
	}
	first := strings.Repeat(" ", indent) + p.label(label) + strings.Repeat(" ", max(0, col-indent-ansi.StringWidth(label)))
	if label != "" && (ansi.StringWidth(label) > labelW || p.w-col < minValueWidth) {
		p.line(indent, p.label(label))
		col = indent + 4
		first = ""
	}
	// However deep, a value keeps half the width.
	if col > p.w/2 && p.w-col < minValueWidth {
		col = p.w / 2
		if first != "" {
			p.line(indent, p.label(label))
			first = ""
		}
	}
	room := max(1, p.w-col)
	pad := strings.Repeat(" ", col)
	for _, v := range values {
		for _, l := range strings.Split(v, "\n") {
			for _, piece := range wrap(l, room) {
				if first != "" {
					p.out = append(p.out, first+piece)
					first = ""
					continue
				}
				p.out = append(p.out, pad+piece)
			}
		}
	}
}

// wrap breaks a line of text into pieces of at most w cells, at spaces
// where it can and inside a word longer than w.
func wrap(s string, w int) []string {
	if ansi.StringWidth(s) <= w {
		return []string{s}
	}
	out := strings.Split(ansi.Wrap(s, w, ""), "\n")
	for i, l := range out {
		out[i] = strings.TrimRight(l, " ")
	}
	return out
}
