package api_test

import (
	"slices"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
)

func TestParseNotifyKinds(t *testing.T) {
	got, err := api.ParseNotifyKinds("failed, Timeout,failed recovered")
	if want := []api.NotifyKind{api.NotifyFailed, api.NotifyTimeout, api.NotifyRecovered}; err != nil || !slices.Equal(got, want) {
		t.Errorf("ParseNotifyKinds = %v, %v, want %v", got, err, want)
	}
	if got, err := api.ParseNotifyKinds(""); err != nil || len(got) != 0 {
		t.Errorf("ParseNotifyKinds(\"\") = %v, %v, want none", got, err)
	}
	_, err = api.ParseNotifyKinds("failed,Exploded")
	if want := `"Exploded" is not one of failed, cancelled, interrupted, timeout, recovered, missed, slow`; err == nil || err.Error() != want {
		t.Errorf("ParseNotifyKinds with an unknown kind: %v, want %q", err, want)
	}
}

func TestParseNotifyKindIsExact(t *testing.T) {
	for _, k := range api.NotifyKinds {
		if got, err := api.ParseNotifyKind(string(k)); got != k || err != nil {
			t.Errorf("ParseNotifyKind(%q) = %q, %v", k, got, err)
		}
	}
	for _, s := range []string{"Failed", "none", "", "succeeded"} {
		if _, err := api.ParseNotifyKind(s); err == nil {
			t.Errorf("ParseNotifyKind(%q) accepted it", s)
		}
	}
}
