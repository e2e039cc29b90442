package ruleform

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/tui/internal/session"
)

// A rule's chains are edited as one line per list: steps separated by
// ";", each a rule name and its parameters as key=value, a value in
// double quotes (Go's escapes) when it holds a space, a ";" or a quote:
//
//	report day=${param.day}; notify text="export done"

// Field keys of the chain lists: the agent's names, so its 400s
// (body.onSuccess[0].rule) land on them.
const (
	keyOnSuccess = "onSuccess"
	keyOnFailure = "onFailure"
	keyOnFinish  = "onFinish"
)

// chainKey reports whether key is one of the chain lists' fields.
func chainKey(key string) bool {
	return key == keyOnSuccess || key == keyOnFailure || key == keyOnFinish
}

// chainFields are the inputs of a rule's chains.
func chainFields(s *session.Context, c api.Chains) []*field {
	const hint = "rule key=value; rule2"
	const limit = 4096
	fs := []*field{
		newTextLimit(s, keyOnSuccess, "On success", formatSteps(c.OnSuccess), hint, limit),
		newTextLimit(s, keyOnFailure, "On failure", formatSteps(c.OnFailure), hint, limit),
		newTextLimit(s, keyOnFinish, "On finish", formatSteps(c.OnFinish), hint, limit),
	}
	for _, f := range fs {
		f.help = "Rules to run when a run ends, separated by ;. Values may use ${output.NAME} and ${param.NAME} of the run."
	}
	fs[1].help = "Rules to run after a failure (after the last retry), separated by ;. Values may use ${output.NAME}, ${param.NAME}."
	fs[2].help = "Rules to run after any end but skipped or interrupted, separated by ;. Values may use ${output.NAME}, ${param.NAME}."
	return fs
}

// formatSteps writes steps as the chain fields hold them.
func formatSteps(steps []api.ChainStep) string {
	parts := make([]string, len(steps))
	for i, st := range steps {
		words := []string{st.Rule}
		for _, k := range slices.Sorted(maps.Keys(st.Parameters)) {
			words = append(words, k+"="+quoteValue(st.Parameters[k]))
		}
		parts[i] = strings.Join(words, " ")
	}
	return strings.Join(parts, "; ")
}

// quoteValue quotes a value that would not read back as it is.
func quoteValue(v string) string {
	if v == "" || strings.ContainsFunc(v, func(r rune) bool {
		return unicode.IsSpace(r) || r == ';' || r == '"' || r == '\\' || !unicode.IsPrint(r)
	}) {
		return strconv.Quote(v)
	}
	return v
}

// parseSteps reads what formatSteps writes; empty is no step.
func parseSteps(s string) ([]api.ChainStep, error) {
	var steps []api.ChainStep
	words, err := splitSteps(s)
	if err != nil {
		return nil, err
	}
	for i, ws := range words {
		if len(ws) == 0 {
			if i == len(words)-1 && i > 0 {
				continue // a trailing ;
			}
			if len(words) == 1 {
				return nil, nil
			}
			return nil, fmt.Errorf("step %d is empty", i+1)
		}
		st := api.ChainStep{Rule: ws[0]}
		if err := api.ValidRuleName(st.Rule); err != nil {
			return nil, fmt.Errorf("step %d: rule %w", i+1, err)
		}
		for _, w := range ws[1:] {
			k, v, ok := strings.Cut(w, "=")
			if !ok || k == "" {
				return nil, fmt.Errorf("step %d: %q is not key=value", i+1, w)
			}
			if st.Parameters == nil {
				st.Parameters = map[string]string{}
			}
			if _, dup := st.Parameters[k]; dup {
				return nil, fmt.Errorf("step %d: %s is set twice", i+1, k)
			}
			st.Parameters[k] = v
		}
		steps = append(steps, st)
	}
	return steps, nil
}

// splitSteps splits s at ";" and each step at spaces, outside double
// quotes, which are read as Go strings.
func splitSteps(s string) ([][]string, error) {
	steps := [][]string{nil}
	var word strings.Builder
	inWord := false
	end := func() {
		if inWord {
			steps[len(steps)-1] = append(steps[len(steps)-1], word.String())
			word.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"':
			q, err := strconv.QuotedPrefix(s[i:])
			if err != nil {
				return nil, errors.New("a quote is not closed (values are quoted as in Go: \"a b\", \"say \\\"hi\\\"\")")
			}
			v, _ := strconv.Unquote(q)
			word.WriteString(v)
			inWord = true
			i += len(q)
			continue
		case c == ';':
			end()
			steps = append(steps, nil)
		case c == ' ' || c == '\t':
			end()
		default:
			word.WriteByte(c)
			inWord = true
		}
		i++
	}
	end()
	return steps, nil
}

// chainLocation turns the agent's location of a chain step's problem
// (onSuccess[1].parameters.day) into the field it concerns and the words
// that say which step ("step 2, day"); ok is false for other locations.
func chainLocation(loc string) (key, where string, ok bool) {
	for _, k := range []string{keyOnSuccess, keyOnFailure, keyOnFinish} {
		rest, found := strings.CutPrefix(loc, k+"[")
		if !found {
			continue
		}
		idx, after, found := strings.Cut(rest, "]")
		n, err := strconv.Atoi(idx)
		if !found || err != nil {
			return k, "", true
		}
		where = fmt.Sprintf("step %d", n+1)
		if p, isParam := strings.CutPrefix(after, ".parameters."); isParam {
			where += ", " + p
		}
		return k, where, true
	}
	return "", "", false
}
