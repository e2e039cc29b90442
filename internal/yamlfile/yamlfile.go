// Package yamlfile reads YAML files that people write (a rules file, a
// jobs file) into Go types that carry JSON tags, strictly, with errors that
// name the file, the line and the field: a field the type does not have, a
// key given twice, a list where a value belongs, a value not of its type.
// Anchors and aliases are refused (a few KiB of nested aliases expand to
// billions of values). It records the line of every field it reads, so
// that a problem found later (by the agent, say) can be shown at its line
// too.
//
// The fields are the JSON names, so one type serves the JSON API and the
// file. A string field takes any scalar as written ("5", "true"), which is
// what a YAML author means by parameters: 5.
package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Problem is one thing wrong with a file, at its line.
type Problem struct {
	File string
	Line int
	// Path is the field's path in JSON terms ("rules[2].schedule"); empty
	// for the document itself.
	Path string
	Msg  string
}

func (p Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	b.WriteString(": ")
	if p.Path != "" {
		b.WriteString(p.Path + ": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems lists every problem found in a file, in the file's order. Its
// Error has one per line.
type Problems []Problem

func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}

// Positions maps a field's path ("rules[2].parameters.token") to its line
// in the file.
type Positions map[string]int

// Line returns the line of path, or of the nearest enclosing field the
// file has (a rule's line for a field the file left out); 0 if none.
func (p Positions) Line(path string) int {
	for path != "" {
		if l, ok := p[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			break
		}
		path = path[:i]
	}
	return p[""]
}

// Decode reads the YAML document data, from the file named file, into v
// (a pointer). Every problem found is returned as Problems; the lines of
// the fields read are returned either way.
func Decode(file string, data []byte, v any) (Positions, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return nil, fmt.Errorf("yamlfile: decode into %T: want a non-nil pointer", v)
	}
	d := &decoder{file: file, pos: Positions{}}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return d.pos, Problems{{File: file, Msg: "the file is empty"}}
		}
		return d.pos, Problems{syntaxProblem(file, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return d.pos, Problems{{File: file, Line: extra.Line, Msg: "the file holds more than one YAML document (---); want one"}}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	d.pos[""] = root.Line
	d.value(root, rv.Elem(), "")
	if len(d.problems) > 0 {
		return d.pos, d.problems
	}
	return d.pos, nil
}

// syntaxProblem turns the YAML parser's error ("yaml: line 3: did not find
// expected key") into a Problem at its line.
func syntaxProblem(file string, err error) Problem {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ": "); ok {
			if l, err := strconv.Atoi(n); err == nil {
				line, msg = l, after
			}
		}
	}
	return Problem{File: file, Line: line, Msg: "not valid YAML: " + msg}
}

type decoder struct {
	file     string
	pos      Positions
	problems Problems
}

func (d *decoder) fail(n *yaml.Node, path, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.file, Line: n.Line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

var timeType = reflect.TypeFor[time.Time]()

// kindName says what a node is, for messages.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping"
	}
	return strconv.Quote(n.Value)
}

func (d *decoder) value(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		// Each alias would be read again wherever it is used: a few KiB
		// of them nest into billions of values (the "billion laughs").
		d.fail(n, path, "anchors (&) and aliases (*) are not taken here: write the value out")
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		v.SetZero()
		return
	}
	if v.Type() == timeType {
		d.time(n, v, path)
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), path)
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.fail(n, path, "want a value, got %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.fail(n, path, "want true or false, got %s", kindName(n))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, v.Type().Bits())
		if n.Kind != yaml.ScalarNode || err != nil {
			d.fail(n, path, "want a whole number, got %s", kindName(n))
			return
		}
		v.SetInt(i)
	case reflect.Float32, reflect.Float64:
		f, err := strconv.ParseFloat(n.Value, v.Type().Bits())
		if n.Kind != yaml.ScalarNode || err != nil {
			d.fail(n, path, "want a number, got %s", kindName(n))
			return
		}
		v.SetFloat(f)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "want a list, got %s", kindName(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.pos[p] = item.Line
			d.value(item, s.Index(i), p)
		}
		v.Set(s)
	case reflect.Map:
		d.mapping(n, v, path)
	case reflect.Struct:
		d.structure(n, v, path)
	default:
		d.fail(n, path, "cannot be read from YAML (Go type %s)", v.Type())
	}
}

func (d *decoder) time(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, path, "want a time (RFC 3339, 2026-12-01T09:00:00Z), got %s", kindName(n))
		return
	}
	t, err := time.Parse(time.RFC3339, n.Value)
	if err != nil {
		d.fail(n, path, "want a time (RFC 3339, 2026-12-01T09:00:00Z), got %q", n.Value)
		return
	}
	v.Set(reflect.ValueOf(t))
}

// keys walks a mapping node's pairs, refusing keys that are not plain
// values and keys given twice.
func (d *decoder) keys(n *yaml.Node, path string, fn func(key, val *yaml.Node)) {
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "a key must be a plain name, got %s", kindName(k))
			continue
		}
		if line, dup := seen[k.Value]; dup {
			d.fail(k, join(path, k.Value), "given twice (first at line %d)", line)
			continue
		}
		seen[k.Value] = k.Line
		fn(k, val)
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (d *decoder) mapping(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping (name: value lines), got %s", kindName(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.fail(n, path, "cannot be read from YAML (Go type %s)", v.Type())
		return
	}
	m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
	d.keys(n, path, func(k, val *yaml.Node) {
		p := join(path, k.Value)
		d.pos[p] = k.Line
		e := reflect.New(v.Type().Elem()).Elem()
		d.value(val, e, p)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), e)
	})
	v.Set(m)
}

// field is a struct field as JSON names it; index reaches it through
// embedded structs.
type field struct {
	name  string
	index []int
}

// fields lists t's fields by their JSON names, embedded structs' fields
// inline, as encoding/json does.
func fields(t reflect.Type, index []int) []field {
	var out []field
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" || (!f.IsExported() && !f.Anonymous) {
			continue
		}
		idx := append(slices.Clip(index), i)
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			out = append(out, fields(f.Type, idx)...)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, field{name: name, index: idx})
	}
	return out
}

func (d *decoder) structure(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "want a mapping (name: value lines), got %s", kindName(n))
		return
	}
	fs := fields(v.Type(), nil)
	byName := make(map[string]field, len(fs))
	for _, f := range fs {
		byName[f.name] = f
	}
	d.keys(n, path, func(k, val *yaml.Node) {
		p := join(path, k.Value)
		f, ok := byName[k.Value]
		if !ok {
			names := make([]string, len(fs))
			for i, f := range fs {
				names[i] = f.name
			}
			d.fail(k, p, "unknown field (want one of %s)", strings.Join(names, ", "))
			return
		}
		d.pos[p] = k.Line
		d.value(val, v.FieldByIndex(f.index), p)
	})
}
