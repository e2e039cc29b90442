package api

import (
	"errors"
	"fmt"
	"strings"
)

// MaxRuleName is the longest name EventBridge gives a rule. An agent that
// prefixes its rules' names in EventBridge allows that much less.
const MaxRuleName = 64

// ruleNameSymbols are the characters a rule name may hold besides ASCII
// letters and digits: EventBridge's rule-name grammar is [.\-_A-Za-z0-9]+.
// The check, its message and the hint are all built from it.
const ruleNameSymbols = ".-_"

// ErrRuleNameRequired is what ValidRuleName says of an empty name.
var ErrRuleNameRequired = errors.New("is required")

// RuleNameHint says in a few words what a rule name may hold, for a form:
// "letters, digits and . - _".
func RuleNameHint() string {
	return "letters, digits and " + strings.Join(strings.Split(ruleNameSymbols, ""), " ")
}

// ValidRuleName reports what is wrong with name as a rule's name, nil when
// nothing is. The agent and the console both check names with it, so they
// accept the same names and refuse the others with the same message.
func ValidRuleName(name string) error { return ValidPrefixedRuleName("", name) }

// RelayRuleName is the rule name the scheduler backend's relay rule takes
// after the prefix in EventBridge, and so the one name no rule may have.
const RelayRuleName = "scheduler-relay"

// ValidPrefixedRuleName is ValidRuleName for an agent that names its rules
// in EventBridge prefix+name: the two together must fit MaxRuleName.
func ValidPrefixedRuleName(prefix, name string) error {
	switch {
	case name == "":
		return ErrRuleNameRequired
	case name == RelayRuleName:
		return fmt.Errorf("%q is taken: with the prefix it is the name of the scheduler backend's relay rule in EventBridge; choose another", name)
	case !IsRuleNameText(name):
		return fmt.Errorf("%q may only contain letters, digits, %s", name, quotedSymbols(ruleNameSymbols, "and"))
	case strings.Trim(name, ".") == "":
		return fmt.Errorf("%q is only dots, which a URL path cannot name: use a letter, digit, %s too", name, quotedSymbols(strings.ReplaceAll(ruleNameSymbols, ".", ""), "or"))
	case prefix == "" && len(name) > MaxRuleName:
		return fmt.Errorf("%q is too long: EventBridge allows at most %d characters", name, MaxRuleName)
	case len(prefix)+len(name) > MaxRuleName:
		return fmt.Errorf("%q is too long: with the prefix %q it must fit EventBridge's %d characters (at most %d here)", name, prefix, MaxRuleName, MaxRuleName-len(prefix))
	}
	return nil
}

// IsRuleNameText reports whether s holds only characters EventBridge allows
// in a rule name (an empty s does), as a rule name or a prefix of one must.
func IsRuleNameText(s string) bool {
	for _, c := range s {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune(ruleNameSymbols, c)
		if !ok {
			return false
		}
	}
	return true
}

// quotedSymbols lists symbols as "'.', '-' and '_'", with the conjunction
// given.
func quotedSymbols(symbols, conjunction string) string {
	q := make([]string, 0, len(symbols))
	for _, c := range symbols {
		q = append(q, "'"+string(c)+"'")
	}
	if len(q) < 2 {
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " " + conjunction + " " + q[len(q)-1]
}
