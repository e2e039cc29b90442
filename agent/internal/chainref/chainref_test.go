package chainref

import (
	"errors"
	"strings"
	"testing"
)

func TestParseFindsTheReferences(t *testing.T) {
	for _, c := range []struct {
		value string
		want  []Ref
	}{
		{"plain", nil},
		{"${output.file}", []Ref{{Output, "file"}}},
		{"s3://${param.bucket}/${output.key-1}.gz", []Ref{{Param, "bucket"}, {Output, "key-1"}}},
		{"$${output.file} stays", nil},
		{"cost: $5 {x}", nil},
	} {
		got, err := Parse(c.value)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.value, err)
			continue
		}
		if len(got) != len(c.want) {
			t.Errorf("Parse(%q) = %v, want %v", c.value, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("Parse(%q) = %v, want %v", c.value, got, c.want)
			}
		}
	}
}

func TestParseRefusesWhatIsNotAReference(t *testing.T) {
	for value, want := range map[string]string{
		"${foo}":           `"${foo}" is not a reference a chain knows`,
		"${env.HOME}":      `"${env.HOME}" is not a reference a chain knows`,
		"${output.}":       `"${output.}": "" is not a name`,
		"${param.a b}":     `"${param.a b}": "a b" is not a name`,
		"${output.a.b}":    `"${output.a.b}": "a.b" is not a name`,
		"x ${output.file":  `"${output.file" is not closed by }`,
		"${\x1b[31m.x}":    `"${\x1b[31m.x}" is not a reference`,
		"${output.\u00e9}": `is not a name`,
	} {
		_, err := Parse(value)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error with %q", value, err, want)
		}
	}
}

func TestExpandFillsInAndKeepsTheRest(t *testing.T) {
	vals := map[Ref]string{{Output, "file"}: "a.csv", {Param, "day"}: "monday"}
	lookup := func(r Ref) (string, error) {
		v, ok := vals[r]
		if !ok {
			return "", errors.New("no " + r.String())
		}
		return v, nil
	}
	got, err := Expand("${param.day}/${output.file} costs $$5, $${output.file}", lookup)
	if want := "monday/a.csv costs $$5, ${output.file}"; err != nil || got != want {
		t.Errorf("Expand = %q, %v; want %q", got, err, want)
	}
	if _, err := Expand("${output.size}", lookup); err == nil || err.Error() != "no ${output.size}" {
		t.Errorf("Expand of an unknown field: %v, want lookup's error", err)
	}
}
