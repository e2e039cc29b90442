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
