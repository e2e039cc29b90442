package runs

import "testing"

func TestParseArgs(t *testing.T) {
	q, err := ParseArgs([]string{"failed", "rule:nightly", "job=demo"})
	if err != nil {
		t.Fatal(err)
	}
	if Tabs[q.Tab].Name != "failed" || q.Rule != "nightly" || q.Job != "demo" {
		t.Errorf("ParseArgs = %+v", q)
	}
	if q, _ := ParseArgs([]string{"running"}); Tabs[q.Tab].Name != "active" {
		t.Errorf(":runs running shows tab %s, want active", Tabs[q.Tab].Name)
	}
	if _, err := ParseArgs([]string{"explode"}); err == nil {
		t.Error(":runs explode is accepted")
	}
}
