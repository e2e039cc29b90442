package rulefields

import (
	"reflect"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
)

func TestCompareNormalisesAndMergesParameters(t *testing.T) {
	off := false
	a := api.RuleInput{Job: "http", Schedule: "rate(1 hour)", Timeout: "30m0s", Timezone: "",
		Parameters: map[string]string{"url": "https://a", "token": api.MaskedValue}}
	b := api.RuleInput{Job: "http", Schedule: "rate(1 hour)", Timeout: "30m", Timezone: "UTC", Enabled: &off,
		Parameters: map[string]string{"url": "https://b", "method": "POST", "token": api.MaskedValue}}
	got := Changed(Compare(&a, &b))
	want := []Change{
		{Name: "enabled", Before: "true", After: "false", Changed: true},
		{Name: "parameters.method", Before: "", After: "POST", Changed: true},
		{Name: "parameters.url", Before: "https://a", After: "https://b", Changed: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("changes\n got %+v\nwant %+v", got, want)
	}
}

func TestCompareWithOneSideMissing(t *testing.T) {
	in := api.RuleInput{Job: "demo", Schedule: "rate(1 hour)"}
	created := Changed(Compare(nil, &in))
	if len(created) == 0 || created[0].Name != "job" || created[0].Before != "" || created[0].After != "demo" {
		t.Fatalf("a create: %+v", created)
	}
	deleted := Changed(Compare(&in, nil))
	if len(deleted) != len(created) || deleted[0].Before != "demo" || deleted[0].After != "" {
		t.Fatalf("a delete: %+v", deleted)
	}
	if len(Changed(Compare(&in, &in))) != 0 {
		t.Fatal("a rule compared with itself has changes")
	}
}

func TestMergeKeepsTheirChangesAndTakesYours(t *testing.T) {
	base := api.RuleInput{Job: "demo", Schedule: "rate(1 hour)", Description: "old",
		Parameters: map[string]string{"duration": "5s", "token": api.MaskedValue, "gone": "x"}}
	yours := base
	yours.Description, yours.Timeout = "mine", "30m"
	yours.Parameters = map[string]string{"duration": "5s", "token": api.MaskedValue, "gone": "x", "added": "y"}
	theirs := base
	theirs.Description, theirs.Schedule = "theirs", "rate(2 hours)"
	theirs.Parameters = map[string]string{"duration": "7s", "token": api.MaskedValue}

	got := Diff3(base, yours, theirs)
	want := []Edit{
		{Name: "schedule", Base: "rate(1 hour)", Yours: "rate(1 hour)", Theirs: "rate(2 hours)", By: Theirs},
		{Name: "parameters.added", Base: "", Yours: "y", Theirs: "", By: Yours},
		{Name: "parameters.duration", Base: "5s", Yours: "5s", Theirs: "7s", By: Theirs},
		{Name: "parameters.gone", Base: "x", Yours: "x", Theirs: "", By: Theirs},
		{Name: "description", Base: "old", Yours: "mine", Theirs: "theirs", By: Both},
		{Name: "timeout", Base: "", Yours: "30m", Theirs: "", By: Yours},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Diff3\n got %+v\nwant %+v", got, want)
	}

	m := Merge(base, yours, theirs)
	wantParams := map[string]string{"duration": "7s", "token": api.MaskedValue, "added": "y"}
	if m.Schedule != "rate(2 hours)" || m.Description != "mine" || m.Timeout != "30m" || !reflect.DeepEqual(m.Parameters, wantParams) {
		t.Fatalf("Merge = %+v", m)
	}
	if theirs.Parameters["added"] != "" {
		t.Fatal("Merge changed theirs' parameters")
	}
}

func TestMergeTakesYourJobWithItsParameters(t *testing.T) {
	base := api.RuleInput{Job: "demo", Schedule: "rate(1 hour)", Parameters: map[string]string{"duration": "5s"}}
	yours := api.RuleInput{Job: "http", Schedule: "rate(1 hour)", Parameters: map[string]string{"url": "https://a"}}
	theirs := api.RuleInput{Job: "demo", Schedule: "rate(1 hour)", Parameters: map[string]string{"duration": "7s", "fail": "true"}}
	m := Merge(base, yours, theirs)
	if m.Job != "http" || !reflect.DeepEqual(m.Parameters, yours.Parameters) {
		t.Fatalf("Merge = %+v, want your job with your parameters only", m)
	}
}
