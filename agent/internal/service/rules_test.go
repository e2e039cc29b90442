package service

import (
	"errors"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
)

// nameProblems are the messages ruleFromInput gives about a rule's name.
func nameProblems(t *testing.T, s *Service, name string) []string {
	t.Helper()
	_, err := s.ruleFromInput(name, api.RuleInput{Name: name, Job: "demo", Schedule: "rate(1 hour)"}, nil)
	var verr *ValidationError
	if err != nil && !errors.As(err, &verr) {
		t.Fatalf("rule named %q: %v, want a *ValidationError", name, err)
	}
	var out []string
	if verr != nil {
		for _, f := range verr.Fields {
			if f.Location == "body.name" {
				out = append(out, f.Message)
			}
		}
	}
	return out
}

func TestRuleNamesAreCheckedByTheSharedRule(t *testing.T) {
	s := New(Config{})
	for _, name := range []string{"orders.hourly", "v1.2", "a-b_c", strings.Repeat("x", 64)} {
		if got := nameProblems(t, s, name); len(got) != 0 {
			t.Errorf("rule named %q refused: %v", name, got)
		}
	}
	// Whatever the agent refuses, the console (which asks api.ValidRuleName)
	// refuses with the same words.
	for _, name := range []string{"", "a b", "a/b", "a?b", "a#b", "ü", "..", strings.Repeat("x", 65)} {
		want := api.ValidRuleName(name)
		if want == nil {
			t.Fatalf("api.ValidRuleName(%q) accepts it", name)
		}
		if got := nameProblems(t, s, name); len(got) != 1 || got[0] != want.Error() {
			t.Errorf("rule named %q: problems %q, want exactly %q", name, got, want)
		}
	}
}

func TestRuleNamesFitEventBridgesLimitWithThePrefix(t *testing.T) {
	s := New(Config{RulePrefix: "jobbridge-"})
	if got := nameProblems(t, s, strings.Repeat("x", 54)); len(got) != 0 {
		t.Errorf("54 characters after a 10-character prefix refused: %v", got)
	}
	got := nameProblems(t, s, strings.Repeat("x", 55))
	if len(got) != 1 || !strings.Contains(got[0], `with the prefix "jobbridge-" it must fit EventBridge's 64 characters (at most 54 here)`) {
		t.Errorf("55 characters after a 10-character prefix: %q, want the prefix named", got)
	}
}

func TestRuleNotifyKindsAreTheSharedOnes(t *testing.T) {
	s := New(Config{})
	check := func(on ...string) []api.ErrorDetail {
		verr := &ValidationError{}
		s.notifyPolicy(api.NotifyPolicy{On: on}, verr)
		return verr.Fields
	}
	for _, k := range api.NotifyKinds {
		if got := check(string(k)); len(got) != 0 {
			t.Errorf("notify.on [%s]: %v, want it accepted", k, got)
		}
	}
	if got := check(api.NotifyNone); len(got) != 0 {
		t.Errorf("notify.on [none]: %v, want it accepted", got)
	}
	got := check("failed", "succeeded", "none")
	want := []api.ErrorDetail{
		{Location: "body.notify.on[1]", Message: `"succeeded" is not one of failed, cancelled, interrupted, timeout, recovered, missed, slow or none`},
		{Location: "body.notify.on[2]", Message: `"none" must be alone`},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("notify.on [failed succeeded none]: %+v, want %+v", got, want)
	}
}

// descriptionProblems are the messages ruleFromInput gives about a rule's
// description.
func descriptionProblems(t *testing.T, s *Service, description string) []string {
	t.Helper()
	_, err := s.ruleFromInput("r", api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 hour)", Description: description}, nil)
	var verr *ValidationError
	if err != nil && !errors.As(err, &verr) {
		t.Fatalf("description %q: %v, want a *ValidationError", description, err)
	}
	var out []string
	if verr != nil {
		for _, f := range verr.Fields {
			if f.Location == "body.description" {
				out = append(out, f.Message)
			}
		}
	}
	return out
}

func TestRuleDescriptionsAreLimitedInCharactersNotBytes(t *testing.T) {
	s := New(Config{})
	// EventBridge takes 512 characters: 300 é are 600 bytes but fit.
	for _, d := range []string{strings.Repeat("é", 300), strings.Repeat("é", 512), strings.Repeat("x", 512)} {
		if got := descriptionProblems(t, s, d); len(got) != 0 {
			t.Errorf("description of %d characters (%d bytes) refused: %q", len([]rune(d)), len(d), got)
		}
	}
	for _, d := range []string{strings.Repeat("é", 513), strings.Repeat("x", 513)} {
		got := descriptionProblems(t, s, d)
		if want := "is 513 characters long, at most 512"; len(got) != 1 || got[0] != want {
			t.Errorf("description of 513 characters (%d bytes): %q, want exactly %q", len(d), got, want)
		}
	}
}
