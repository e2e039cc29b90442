package ruleform

import (
	"reflect"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
)

func TestChainStepsRoundTrip(t *testing.T) {
	for _, steps := range [][]api.ChainStep{
		nil,
		{{Rule: "report"}},
		{{Rule: "report", Parameters: map[string]string{"day": "${param.day}", "file": "${output.file}"}}, {Rule: "notify"}},
		{{Rule: "notify", Parameters: map[string]string{"text": `export "done"; now`, "empty": "", "tab": "a\tb", "back": `c:\x`}}},
	} {
		text := formatSteps(steps)
		got, err := parseSteps(text)
		if err != nil || !reflect.DeepEqual(got, steps) {
			t.Errorf("%+v written %q reads back as %+v, %v", steps, text, got, err)
		}
	}
	if got := formatSteps([]api.ChainStep{{Rule: "a", Parameters: map[string]string{"x": "1 2"}}, {Rule: "b"}}); got != `a x="1 2"; b` {
		t.Errorf("formatSteps = %q", got)
	}
}

func TestChainStepsAreRead(t *testing.T) {
	got, err := parseSteps(`  report  day=mon ;notify text="a b";`)
	want := []api.ChainStep{{Rule: "report", Parameters: map[string]string{"day": "mon"}}, {Rule: "notify", Parameters: map[string]string{"text": "a b"}}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("parseSteps = %+v, %v; want %+v", got, err, want)
	}
	for text, problem := range map[string]string{
		"a;;b":          "step 2 is empty",
		"a day":         `step 1: "day" is not key=value`,
		"a =x":          `step 1: "=x" is not key=value`,
		"a x=1 x=2":     "step 1: x is set twice",
		`a x="open`:     "a quote is not closed",
		"a/b":           "step 1: rule",
		"a; b\x1b[31m ": "step 2: rule",
	} {
		_, err := parseSteps(text)
		if err == nil || !strings.Contains(err.Error(), problem) {
			t.Errorf("parseSteps(%q) = %v, want an error with %q", text, err, problem)
		}
	}
}

func TestChainLocationsLandOnTheirField(t *testing.T) {
	for loc, want := range map[string][2]string{
		"onSuccess[0].rule":           {keyOnSuccess, "step 1"},
		"onFailure[2].parameters.day": {keyOnFailure, "step 3, day"},
		"onFinish[1].rule":            {keyOnFinish, "step 2"},
	} {
		k, where, ok := chainLocation(loc)
		if !ok || k != want[0] || where != want[1] {
			t.Errorf("chainLocation(%q) = %q, %q, %v; want %q", loc, k, where, ok, want)
		}
	}
	if _, _, ok := chainLocation("parameters.day"); ok {
		t.Errorf("a parameter's location is taken for a chain's")
	}
}
