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
