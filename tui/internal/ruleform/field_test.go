package ruleform

import (
	"strings"
	"testing"

	"github.com/charmbracelet/bubbles/textinput"

	"github.com/jobbridge/jobbridge/shared/api"
)

// nameField is the form's name input holding name.
func nameField(name string) *field {
	f := &field{key: keyName, kind: kindText, input: textinput.New()}
	f.input.CharLimit = 512
	f.input.SetValue(name)
	return f
}

func TestTheNameFieldAcceptsWhatTheAgentAccepts(t *testing.T) {
	for _, name := range []string{"orders.hourly", "v1.2", "a-b_c", strings.Repeat("x", 64)} {
		f := nameField(name)
		f.check()
		if f.err != "" {
			t.Errorf("name %q refused with %q; the agent accepts it", name, f.err)
		}
	}
}

func TestTheNameFieldRefusesWhatTheAgentRefusesInItsWords(t *testing.T) {
	for _, name := range []string{"a b", "a/b", "a?b", "a#b", "a:b", "ü", "..", strings.Repeat("x", 65)} {
		want := api.ValidRuleName(name)
		if want == nil {
			t.Fatalf("api.ValidRuleName(%q) accepts it", name)
		}
		f := nameField(name)
		f.check()
		if f.err != want.Error() {
			t.Errorf("name %q: the form says %q, the agent says %q", name, f.err, want)
		}
	}
}

func TestParamFieldsCheckValuesLikeTheAgent(t *testing.T) {
	cases := []struct {
		p      api.Param
		value  string
		kept   bool
		errStr string
	}{
		{api.Param{Name: "n", Type: api.ParamInt}, "12", false, ""},
		{api.Param{Name: "n", Type: api.ParamInt}, "x", false, `"x" is not an integer`},
		{api.Param{Name: "d", Type: api.ParamDuration}, "1h", false, ""},
		{api.Param{Name: "d", Type: api.ParamDuration}, "soon", false, `"soon" is not a duration (want e.g. 90s, 5m, 1h30m)`},
		{api.Param{Name: "b", Type: api.ParamBool}, "maybe", false, `"maybe" is not a boolean (want true or false)`},
		{api.Param{Name: "m", Type: api.ParamEnum, Choices: []string{"GET", "POST"}}, "PUT", false, `"PUT" is not one of GET, POST`},
		{api.Param{Name: "s", Type: ""}, "anything", false, ""},
		{api.Param{Name: "r", Required: true}, "", false, "required"},
		{api.Param{Name: "r", Required: true, Default: "x"}, "", false, ""},
		{api.Param{Name: "r", Required: true, Secret: true}, "", true, ""},
		{api.Param{Name: "o"}, "", false, ""},
	}
	for _, c := range cases {
		f := &field{key: paramKey(c.p.Name), kind: kindText, input: textinput.New(), param: &c.p, kept: c.kept}
		f.input.SetValue(c.value)
		f.check()
		if f.err != c.errStr {
			t.Errorf("%s %+v = %q: error %q, want %q", c.p.Name, c.p, c.value, f.err, c.errStr)
		}
	}
}
