package safe

import (
	"encoding/json"
	"reflect"
	"strconv"
	"unicode/utf8"
)

var rawJSONType = reflect.TypeFor[json.RawMessage]()

// JSON returns the JSON document b (a run's output) with every character
// Text would make visible written as a JSON escape instead ("\u001b" for
// an ESC in a string), so it is still JSON of the same value and, drawn
// as it is or indented by json.Indent (which keeps escapes), nothing in it
// acts on the terminal. White space between values becomes spaces. What is
// not JSON becomes a JSON string of its text as Text shows it. b itself is
// not changed; nil stays nil.
//
// Value treats a json.RawMessage, which it would otherwise take for bytes
// and leave alone, with it.
func JSON(b json.RawMessage) json.RawMessage {
	if b == nil {
		return nil
	}
	if !json.Valid(b) {
		out, _ := json.Marshal(Text(string(b)))
		return out
	}
	var out []byte // made at the first change
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		var repl string
		switch {
		case r == utf8.RuneError && size == 1:
			repl = `\ufffd` // only inside a string: what JSON readers make of it
		case r == '\n' || r == '\r' || r == '\t':
			repl = " " // valid JSON holds them only between values
		case hidden(r):
			repl = jsonEscape(r) // valid JSON holds the others only inside strings
		}
		if repl != "" && out == nil {
			out = append(make([]byte, 0, len(b)+16), b[:i]...)
		}
		switch {
		case repl != "":
			out = append(out, repl...)
		case out != nil:
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	if out == nil {
		return b
	}
	return out
}

// jsonEscape writes r, which hidden says is in the basic plane, as JSON's
// \uXXXX escape.
func jsonEscape(r rune) string {
	s := strconv.FormatInt(int64(r), 16)
	for len(s) < 4 {
		s = "0" + s
	}
	return `\u` + s
}
