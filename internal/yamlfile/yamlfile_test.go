package yamlfile_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/internal/yamlfile"
)

type inner struct {
	Retry int `json:"retry,omitempty"`
}

type item struct {
	Name   string            `json:"name"`
	On     *bool             `json:"on,omitempty"`
	Params map[string]string `json:"parameters,omitempty"`
	Start  *time.Time        `json:"startDate,omitempty"`
	Tags   []string          `json:"tags,omitempty"`
	inner
}

type file struct {
	Items []item `json:"items"`
}

func TestDecodeReadsJSONNamesAndKeepsLines(t *testing.T) {
	src := `items:
  - name: a
    on: false
    parameters:
      count: 5
      flag: true
    startDate: 2026-12-01T09:00:00Z
    retry: 3
    tags: [x, y]
  - name: b
`
	var f file
	pos, err := yamlfile.Decode("rules.yaml", []byte(src), &f)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Items) != 2 || f.Items[0].Name != "a" || f.Items[1].Name != "b" {
		t.Fatalf("items = %+v", f.Items)
	}
	a := f.Items[0]
	if a.On == nil || *a.On || a.Params["count"] != "5" || a.Params["flag"] != "true" || a.Retry != 3 || len(a.Tags) != 2 {
		t.Fatalf("item a = %+v", a)
	}
	if a.Start == nil || !a.Start.Equal(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("startDate = %v", a.Start)
	}
	for path, line := range map[string]int{"items[0]": 2, "items[0].parameters.flag": 6, "items[1].name": 10, "items[1].schedule": 10, "items[0].retry": 8} {
		if got := pos.Line(path); got != line {
			t.Errorf("line of %s = %d, want %d", path, got, line)
		}
	}
}

func TestDecodeNamesEachMistakeAtItsLine(t *testing.T) {
	src := `items:
  - name: a
    nmae: typo
    retry: banana
    on: maybe
    name: again
  - name: [list]
    tags: {a: b}
`
	var f file
	_, err := yamlfile.Decode("rules.yaml", []byte(src), &f)
	var ps yamlfile.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want Problems", err)
	}
	want := []string{
		`rules.yaml:3: items[0].nmae: unknown field (want one of name, on, parameters, startDate, tags, retry)`,
		`rules.yaml:4: items[0].retry: want a whole number, got "banana"`,
		`rules.yaml:5: items[0].on: want true or false, got "maybe"`,
		`rules.yaml:6: items[0].name: given twice (first at line 2)`,
		`rules.yaml:7: items[1].name: want a value, got a list`,
		`rules.yaml:8: items[1].tags: want a list, got a mapping`,
	}
	if len(ps) != len(want) {
		t.Fatalf("problems:\n%v\nwant %d", err, len(want))
	}
	for i, w := range want {
		if ps[i].Error() != w {
			t.Errorf("problem %d = %q\nwant        %q", i, ps[i].Error(), w)
		}
	}
}

func TestDecodeRefusesWhatIsNotOneDocument(t *testing.T) {
	for name, src := range map[string]string{
		"empty":  "",
		"syntax": "items:\n  - name: a\n   bad indent: [\n",
		"two":    "items: []\n---\nitems: []\n",
	} {
		var f file
		_, err := yamlfile.Decode("f.yaml", []byte(src), &f)
		var ps yamlfile.Problems
		if !errors.As(err, &ps) || len(ps) != 1 {
			t.Errorf("%s: err = %v, want one problem", name, err)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
}

// Anchors and aliases are refused: each alias would be read again where it
// is used, and a small file of nested ones would take minutes and GiBs.
func TestDecodeRefusesAnchorsAndAliases(t *testing.T) {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [*a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d, *a%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	b.WriteString("items:\n  - name: a\n    tags: *a11\n")
	var v file
	start := time.Now()
	_, err := yamlfile.Decode("bomb.yaml", []byte(b.String()), &v)
	var ps yamlfile.Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want Problems", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusing the file took %s", d)
	}
	found := false
	for _, p := range ps {
		if p.Line == 15 && p.Path == "items[0].tags" && strings.Contains(p.Msg, "anchors (&) and aliases (*) are not taken") {
			found = true
		}
	}
	if !found {
		t.Errorf("problems %v; want the alias at items[0].tags, line 15", err)
	}
}
