package builtin_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
)

// A parameter travels in the program's environment, which cannot hold a
// NUL byte: such a value is refused when resolved, naming the parameter,
// and not quoted when the parameter is secret.
func TestCommandRefusesAValueItCannotPutInTheEnvironment(t *testing.T) {
	t.Parallel()
	job, err := builtin.NewCommand("cmd", "", []string{"/bin/true"}, []jobs.Param{{Name: "target"}, {Name: "token", Secret: true}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = jobs.Resolve(job, map[string]string{"target": "a\x00b", "token": "s3cret\x00"})
	var ve *jobs.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) != 2 || ve.Fields[0].Param != "target" || ve.Fields[1].Param != "token" {
		t.Fatalf("Resolve = %v, want target and token refused", err)
	}
	if !strings.Contains(err.Error(), "JOBBRIDGE_PARAM_TARGET") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Resolve = %v, want it to name the variable and not quote the secret", err)
	}
	if _, err := jobs.Resolve(job, map[string]string{"target": "fine"}); err != nil {
		t.Errorf("Resolve of a fine value: %v", err)
	}
}
