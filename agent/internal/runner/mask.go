package runner

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/jobbridge/jobbridge/shared/api"
)

// masker replaces secret values with api.MaskedValue in everything a run
// writes where others read it: its log lines, progress and error. It is the
// one place that does so, for every job, so that a job printing its
// environment or a secret parameter gives nothing away. The zero value (no
// secrets) masks nothing. It is safe for concurrent use.
type masker struct {
	r *strings.Replacer
}

// newMasker masks each of secrets, and each line of a secret of several
// lines (jobs such as the command job log line by line).
func newMasker(secrets ...[]string) masker {
	seen := make(map[string]bool)
	var values []string
	add := func(v string) {
		if v = strings.TrimSpace(v); v != "" && v != api.MaskedValue && !seen[v] {
			seen[v] = true
			values = append(values, v)
		}
	}
	for _, list := range secrets {
		for _, v := range list {
			add(v)
			if strings.Contains(v, "\n") {
				for line := range strings.Lines(v) {
					add(line)
				}
			}
		}
	}
	if len(values) == 0 {
		return masker{}
	}
	// The longest first, so that a secret containing another is masked
	// whole rather than in part.
	slices.SortFunc(values, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	pairs := make([]string, 0, 2*len(values))
	for _, v := range values {
		pairs = append(pairs, v, api.MaskedValue)
	}
	return masker{r: strings.NewReplacer(pairs...)}
}

// mask returns s with every secret replaced, made storable: what a run
// records (its log lines, progress and error) goes through it.
func (m masker) mask(s string) string {
	if m.r != nil {
		s = m.r.Replace(s)
	}
	return storable(s)
}

// storable replaces what a database cannot store in text: NUL bytes
// (PostgreSQL refuses them) and bytes that are not UTF-8, each with U+FFFD.
// A job's output may hold either; refused, it would fail the write of the
// run's finish, and of the runs finished in the same batch.
func storable(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// maskJSON returns the JSON document b with every secret masked in its
// strings, keys included, as mask does, a number holding one replaced by
// the masked string, and re-encoded (compact, numbers as written): masking the encoded text instead would miss a secret that
// JSON escapes.
func (m masker) maskJSON(b []byte) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("the output is not JSON: %w", err)
	}
	if dec.More() {
		return nil, errors.New("the output is not one JSON value")
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // an output is not HTML: <, > and & stay as written
	if err := enc.Encode(m.maskValue(v)); err != nil {
		return nil, fmt.Errorf("encode the masked output: %w", err)
	}
	return bytes.TrimSuffix(out.Bytes(), []byte("\n")), nil
}

func (m masker) maskValue(v any) any {
	switch v := v.(type) {
	case string:
		return m.mask(v)
	case json.Number:
		// A secret of digits (a PIN) written as a number.
		if m.mask(string(v)) != string(v) {
			return api.MaskedValue
		}
		return v
	case []any:
		for i := range v {
			v[i] = m.maskValue(v[i])
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[m.mask(k)] = m.maskValue(e)
		}
		return out
	}
	return v
}
