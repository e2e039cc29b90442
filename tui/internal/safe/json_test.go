package safe

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
)

func TestJSONEscapesWhatWouldActOnTheTerminalAndKeepsTheValue(t *testing.T) {
	// Valid JSON may hold C1 controls, DEL, bidi controls and line
	// separators raw inside its strings, and tabs and newlines between
	// values; escaped controls ("\u001b") are text and stay so.
	in := json.RawMessage("{\n\t\"k\u009b\": \"a\u202eb\x7fc\u2028\",\n\t\"esc\": \"\\u001b[2J\", \"ok\": \"café ✓\"}")
	got := JSON(in)
	want := `{  "k\u009b": "a\u202eb\u007fc\u2028",  "esc": "\u001b[2J", "ok": "café ✓"}`
	if string(got) != want {
		t.Errorf("JSON(%q)\n = %s\nwant %s", in, got, want)
	}
	if raw(string(got)) {
		t.Errorf("JSON(%q) still holds what the terminal obeys: %q", in, got)
	}
	var before, after any
	if err := json.Unmarshal(in, &before); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(got, &after); err != nil || !reflect.DeepEqual(before, after) {
		t.Errorf("JSON changed the value: %v (%v), want %v", after, err, before)
	}
	if !bytes.Equal(in[:2], []byte("{\n")) {
		t.Error("JSON changed the document it was given")
	}
}

func TestJSONOfWhatIsNotJSONIsAStringOfItsVisibleText(t *testing.T) {
	got := JSON(json.RawMessage(evil))
	var s string
	if err := json.Unmarshal(got, &s); err != nil || s != evilShown {
		t.Errorf("JSON(evil) = %s (%v), want the JSON string of %q", got, err, evilShown)
	}
	if raw(string(got)) {
		t.Errorf("JSON(evil) still holds what the terminal obeys: %q", got)
	}
}

func TestJSONLeavesCleanJSONAlone(t *testing.T) {
	in := json.RawMessage(`{"rows":3,"files":["a.gz"],"note":"caf\u00e9 ü"}`)
	if got := JSON(in); &got[0] != &in[0] {
		t.Errorf("JSON copied a document that needs nothing: %s", got)
	}
	if JSON(nil) != nil {
		t.Error("JSON(nil) is not nil")
	}
}

func TestValueCleansARunsOutput(t *testing.T) {
	r := api.Run{ID: "run-1", Output: json.RawMessage("{\"k\": \"\u009b31m\"}")}
	got := Value(r)
	if want := `{"k": "\u009b31m"}`; string(got.Output) != want {
		t.Errorf("Value left the output %q, want %s", got.Output, want)
	}
	if string(r.Output) != "{\"k\": \"\u009b31m\"}" {
		t.Error("Value changed the run it was given")
	}
}
