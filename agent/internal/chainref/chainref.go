// Package chainref reads the references a chain step's parameter values
// hold (api.ChainStep): ${output.NAME} takes a top-level field of the
// parent run's output, ${param.NAME} one of its parameters, and $${ writes
// a literal ${. The agent checks them when a rule is saved (Parse) and
// fills them in when a chained run is created (Expand), by the same
// grammar.
package chainref

import (
	"fmt"
	"strings"
)

// Kinds of reference.
const (
	Output = "output" // a top-level field of the parent run's output
	Param  = "param"  // a parameter of the parent run
)

// Ref is one ${KIND.NAME} in a value.
type Ref struct {
	Kind string // Output or Param
	Name string
}

func (r Ref) String() string { return "${" + r.Kind + "." + r.Name + "}" }

// Parse returns the references in value, in order, or an error saying what
// is wrong with the first one that is not well formed.
func Parse(value string) ([]Ref, error) {
	var refs []Ref
	_, err := walk(value, func(r Ref) (string, error) {
		refs = append(refs, r)
		return "", nil
	})
	return refs, err
}

// Expand returns value with each reference replaced by what lookup gives
// for it; the first error, from lookup or the grammar, is returned.
func Expand(value string, lookup func(Ref) (string, error)) (string, error) {
	return walk(value, lookup)
}

// walk scans value, calling fn on each reference and building the value
// with the references replaced.
func walk(value string, fn func(Ref) (string, error)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(value, "${")
		if i < 0 {
			b.WriteString(value)
			return b.String(), nil
		}
		if i > 0 && value[i-1] == '$' {
			// $${ is a literal ${.
			b.WriteString(value[:i-1] + "${")
			value = value[i+2:]
			continue
		}
		b.WriteString(value[:i])
		end := strings.IndexByte(value[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("%q is not closed by }: write ${output.NAME} or ${param.NAME} (or $${ for a literal ${)", clip(value[i:]))
		}
		ref, err := parseRef(value[i+2 : i+end])
		if err != nil {
			return "", err
		}
		s, err := fn(ref)
		if err != nil {
			return "", err
		}
		b.WriteString(s)
		value = value[i+end+1:]
	}
}

func parseRef(inner string) (Ref, error) {
	kind, name, ok := strings.Cut(inner, ".")
	if !ok || (kind != Output && kind != Param) {
		return Ref{}, fmt.Errorf("%q is not a reference a chain knows: write ${output.NAME} or ${param.NAME} (or $${ for a literal ${)", "${"+clip(inner)+"}")
	}
	if !validName(name) {
		return Ref{}, fmt.Errorf("%q: %q is not a name (letters, digits, _ and -)", "${"+clip(inner)+"}", clip(name))
	}
	return Ref{Kind: kind, Name: name}, nil
}

// validName reports whether name is a field or parameter name a reference
// may take: letters, digits, _ and -, not empty.
func validName(name string) bool {
	if name == "" {
		return false
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// clip shortens what an error quotes.
func clip(s string) string {
	const most = 40
	if r := []rune(s); len(r) > most {
		return string(r[:most]) + "…"
	}
	return s
}
