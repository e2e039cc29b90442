package api_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
)

func TestParseRunIDPrefix(t *testing.T) {
	for _, tt := range []struct{ in, want, err string }{
		{"0193abcd", "0193abcd", ""},
		{" 0193ABCD-7 ", "0193abcd-7", ""},
		{"00000000-0000-7000-8000-0001aaaa1111", "00000000-0000-7000-8000-0001aaaa1111", ""},
		{"", "", "it is empty"},
		{"   ", "", "it is empty"},
		{"00000000-0000-7000-8000-0001aaaa11110", "", "37 characters long, a run id 36"},
		{"01%", "", `'%' cannot be in a run id (0-9, a-f, -)`},
		{"01_", "", `'_' cannot be in a run id`},
		{"nightly", "", `'n' cannot be in a run id`},
	} {
		got, err := api.ParseRunIDPrefix(tt.in)
		switch {
		case tt.err == "" && (err != nil || got != tt.want):
			t.Errorf("ParseRunIDPrefix(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, api.ErrRunIDPrefix)):
			t.Errorf("ParseRunIDPrefix(%q) = %q, %v; want an ErrRunIDPrefix saying %q", tt.in, got, err, tt.err)
		}
	}
}

func TestParseRunIDSuffix(t *testing.T) {
	if got, err := api.ParseRunIDSuffix(" AAAA1111"); err != nil || got != "aaaa1111" {
		t.Errorf("ParseRunIDSuffix(AAAA1111) = %q, %v", got, err)
	}
	_, err := api.ParseRunIDSuffix("zz")
	if !errors.Is(err, api.ErrRunIDSuffix) || !strings.Contains(err.Error(), "not the end of a run id: 'z' cannot be in a run id") {
		t.Errorf("ParseRunIDSuffix(zz) = %v", err)
	}
}
