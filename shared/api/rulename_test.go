package api_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
)

func TestValidRuleNameFollowsEventBridgesGrammar(t *testing.T) {
	for _, name := range []string{"a", "nightly-report", "orders.hourly", "v1.2", "A_b-C.9", ".x", strings.Repeat("a", 64)} {
		if err := api.ValidRuleName(name); err != nil {
			t.Errorf("ValidRuleName(%q) = %v, want nil: EventBridge allows it", name, err)
		}
	}
	refused := map[string]string{
		"":                      "is required",
		"a b":                   `"a b" may only contain letters, digits, '.', '-' and '_'`,
		"a/b":                   `"a/b" may only contain letters, digits, '.', '-' and '_'`,
		"é":                     `"é" may only contain letters, digits, '.', '-' and '_'`,
		"a:b":                   `"a:b" may only contain letters, digits, '.', '-' and '_'`,
		"..":                    `".." is only dots, which a URL path cannot name: use a letter, digit, '-' or '_' too`,
		strings.Repeat("a", 65): `"` + strings.Repeat("a", 65) + `" is too long: EventBridge allows at most 64 characters`,
		// The scheduler backend's relay rule is PREFIX+"scheduler-relay".
		"scheduler-relay": `"scheduler-relay" is taken: with the prefix it is the name of the scheduler backend's relay rule in EventBridge; choose another`,
	}
	for name, want := range refused {
		err := api.ValidRuleName(name)
		if err == nil || err.Error() != want {
			t.Errorf("ValidRuleName(%q) = %v, want %q", name, err, want)
		}
	}
	if err := api.ValidRuleName(""); !errors.Is(err, api.ErrRuleNameRequired) {
		t.Errorf("ValidRuleName(\"\") = %v, want ErrRuleNameRequired", err)
	}
}

func TestValidPrefixedRuleNameFitsThePrefix(t *testing.T) {
	if err := api.ValidPrefixedRuleName("team-", strings.Repeat("a", 59)); err != nil {
		t.Errorf("59 characters after a 5-character prefix: %v, want nil", err)
	}
	name := strings.Repeat("a", 60)
	want := `"` + name + `" is too long: with the prefix "team-" it must fit EventBridge's 64 characters (at most 59 here)`
	if err := api.ValidPrefixedRuleName("team-", name); err == nil || err.Error() != want {
		t.Errorf("60 characters after a 5-character prefix: %v, want %q", err, want)
	}
}

func TestRuleNameHintNamesEveryAllowedSymbol(t *testing.T) {
	hint := api.RuleNameHint()
	if hint != "letters, digits and . - _" {
		t.Errorf("RuleNameHint() = %q", hint)
	}
	_, symbols, _ := strings.Cut(hint, " and ")
	for _, sym := range strings.Fields(symbols) {
		if err := api.ValidRuleName("a" + sym + "b"); err != nil {
			t.Errorf("the hint offers %q, which ValidRuleName refuses: %v", sym, err)
		}
	}
}
