package safe

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// evil is what a hostile or careless agent may answer in any string: a
// clipboard write, a title change, a screen clear, a tab, a C1 CSI, a
// right-to-left override, DEL and a bare carriage return.
const evil = "\x1b]52;c;ZXZpbA==\x07\x1b]0;pwned\x07\x1b[2J\tx\u009b\u202e\x7f\r"

// evilShown is evil as the console shows it (the tab reaches column 48).
const evilShown = `\x1b]52;c;ZXZpbA==\a\x1b]0;pwned\a\x1b[2J       x\u009b\u202e\x7f\r`

// raw reports whether s still holds something the terminal would obey or
// that garbles the layout.
func raw(s string) bool {
	return !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool {
		return r == '\t' || (r != '\n' && hidden(r))
	}) >= 0
}

// fill sets every string reachable in v to evil, makes every pointer,
// slice, map and interface non-empty, so that a walker that misses any of
// them leaves evil behind.
func fill(v reflect.Value) {
	if v.Type() == rawJSONType { // a run's output: evil in a document
		doc, _ := json.Marshal(map[string]any{evil: []string{evil}})
		v.Set(reflect.ValueOf(json.RawMessage(doc)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(evil)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem())
		v.Set(p)
	case reflect.Interface:
		v.Set(reflect.ValueOf(map[string]any{evil: []any{evil, 1.5, true}}))
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	}
}

// strs calls f with the path and value of every string reachable in v.
// A JSON document (json.RawMessage) is given whole, its path ending in
// "{json}".
func strs(path string, v reflect.Value, f func(path, s string)) {
	if v.Type() == rawJSONType {
		if v.Len() > 0 {
			f(path+"{json}", string(v.Bytes()))
		}
		return
	}
	switch v.Kind() {
	case reflect.String:
		f(path, v.String())
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			strs(path, v.Elem(), f)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				strs(path+"."+v.Type().Field(i).Name, v.Field(i), f)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			strs(fmt.Sprintf("%s[%d]", path, i), v.Index(i), f)
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			strs(path+"{key}", it.Key(), f)
			strs(path+"{value}", it.Value(), f)
		}
	}
}

// filled returns a T with evil in every string.
func filled[T any]() T {
	var v T
	fill(reflect.ValueOf(&v).Elem())
	return v
}

// requireClean fails unless every string in v is evil as shown.
func requireClean(t *testing.T, what string, v any) {
	t.Helper()
	n := 0
	strs(what, reflect.ValueOf(v), func(path, s string) {
		n++
		if strings.HasSuffix(path, "{json}") {
			if raw(s) || !json.Valid([]byte(s)) {
				t.Errorf("%s = %q, want JSON holding nothing the terminal obeys", path, s)
			}
			return
		}
		if s != evilShown {
			t.Errorf("%s = %q, want %q", path, s, evilShown)
		}
	})
	if n == 0 {
		t.Errorf("%s holds no string: the test checks nothing", what)
	}
}

func TestValueCleansEveryStringOfEveryAPIType(t *testing.T) {
	check := func(name string, got, original any) {
		t.Helper()
		requireClean(t, name, got)
		// The reply itself is left as it came.
		left := false
		strs(name, reflect.ValueOf(original), func(_, s string) { left = left || s == evil })
		if !left {
			t.Errorf("Value changed the %s it was given", name)
		}
	}
	st := filled[api.Status]()
	check("Status", Value(st), st)
	jobs := filled[[]api.Job]()
	check("[]Job", Value(jobs), jobs)
	rule := filled[api.Rule]()
	check("Rule", Value(rule), rule)
	runs := filled[api.Page[api.Run]]()
	check("Page[Run]", Value(runs), runs)
	lines := filled[[]api.LogLine]()
	check("[]LogLine", Value(lines), lines)
	audit := filled[api.Page[api.AuditEntry]]()
	check("Page[AuditEntry]", Value(audit), audit)
	ev := filled[api.Event]()
	check("Event", Value(ev), ev)
	p := filled[api.Problem]()
	check("Problem", Value(p), p)
}

func TestValueKeepsWhatIsNotText(t *testing.T) {
	r := api.Run{ID: "run-1", Status: api.StatusFailed, Progress: api.Progress{Percent: 40},
		Parameters: map[string]string{"a": "1"}}
	got := Value(r)
	if !reflect.DeepEqual(got, r) {
		t.Errorf("Value(%+v) = %+v, want it unchanged", r, got)
	}
	var none *api.Run
	if Value(none) != nil {
		t.Error("Value of a nil pointer is not nil")
	}
}

func TestErrorCleansTheMessageAndTheProblemAndKeepsTheStatus(t *testing.T) {
	if Error(nil) != nil {
		t.Fatal("Error(nil) is not nil")
	}
	agentErr := &client.Error{Status: 422, Problem: api.Problem{Title: evil, Detail: evil,
		Errors: []api.ErrorDetail{{Location: "body.parameters", Message: evil, Value: evil}}}}
	err := Error(fmt.Errorf("save: %w", agentErr))
	if msg := err.Error(); raw(msg) || !strings.Contains(msg, `\x1b]52;c;ZXZpbA==\a\x1b]0;pwned\a\x1b[2J `) {
		t.Errorf("Error() = %q, want the escapes shown and nothing raw", msg)
	}
	if got := client.StatusOf(err); got != 422 {
		t.Errorf("StatusOf = %d, want 422", got)
	}
	var ce *client.Error
	if !errors.As(err, &ce) {
		t.Fatal("the *client.Error is no longer in the chain")
	}
	strs("Problem", reflect.ValueOf(ce.Problem), func(path, s string) {
		if raw(s) {
			t.Errorf("%s = %q: still raw", path, s)
		}
	})
	if ce.Problem.Detail != evilShown {
		t.Errorf("Problem.Detail = %q, want %q", ce.Problem.Detail, evilShown)
	}

	cause := errors.New("plain")
	if !errors.Is(Error(cause), cause) {
		t.Error("errors.Is does not see through Error")
	}
}
