package api_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
)

func TestParamCheckValueByType(t *testing.T) {
	cases := []struct {
		p     api.Param
		value string
		want  string // "" for valid
	}{
		{api.Param{}, "anything at all", ""},
		{api.Param{Type: api.ParamString}, "x", ""},
		{api.Param{Type: api.ParamInt}, "-12", ""},
		{api.Param{Type: api.ParamInt}, "1.5", `"1.5" is not an integer`},
		{api.Param{Type: api.ParamBool}, "true", ""},
		{api.Param{Type: api.ParamBool}, "yes", `"yes" is not a boolean (want true or false)`},
		{api.Param{Type: api.ParamDuration}, "1h30m", ""},
		{api.Param{Type: api.ParamDuration}, "90", `"90" is not a duration (want e.g. 90s, 5m, 1h30m)`},
		{api.Param{Type: api.ParamEnum, Choices: []string{"GET", "POST"}}, "POST", ""},
		{api.Param{Type: api.ParamEnum, Choices: []string{"GET", "POST"}}, "get", `"get" is not one of GET, POST`},
	}
	for _, c := range cases {
		err := c.p.CheckValue(c.value)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != c.want {
			t.Errorf("%s param, value %q: %q, want %q", c.p.Type, c.value, got, c.want)
		}
	}
}

func TestParamValueAppliesTheDefaultAndTheRequiredRule(t *testing.T) {
	n := api.Param{Name: "n", Type: api.ParamInt, Default: "3"}
	if v, err := n.Value(""); v != "3" || err != nil {
		t.Errorf("no value, default 3: %q, %v", v, err)
	}
	if v, err := n.Value("7"); v != "7" || err != nil {
		t.Errorf("value 7: %q, %v", v, err)
	}
	if v, err := n.Value("seven"); v != "" || err == nil {
		t.Errorf("value seven: %q, %v, want an error", v, err)
	}
	req := api.Param{Name: "r", Required: true}
	if _, err := req.Value(""); !errors.Is(err, api.ErrParamRequired) {
		t.Errorf("a required parameter with no value: %v, want ErrParamRequired", err)
	}
	if v, err := (api.Param{Name: "o"}).Value(""); v != "" || err != nil {
		t.Errorf("an optional parameter with no value: %q, %v", v, err)
	}
}

// The OpenAPI document lists the types from Param.Type's enum tag, which
// Go cannot build from ParamTypes: this keeps the two the same.
func TestParamTypeTagListsParamTypes(t *testing.T) {
	f, _ := reflect.TypeFor[api.Param]().FieldByName("Type")
	if tag := f.Tag.Get("enum"); tag != strings.Join(api.ParamTypes, ",") {
		t.Errorf("Param.Type's enum tag is %q, ParamTypes are %v", tag, api.ParamTypes)
	}
}
