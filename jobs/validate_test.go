package jobs_test

import (
	"errors"
	"testing"

	"github.com/jobbridge/jobbridge/jobs"
)

// rangeJob takes a range and checks that it is not reversed.
type rangeJob struct {
	fakeJob
	validated *int
}

func (j rangeJob) Validate(p jobs.Params) []jobs.FieldError {
	*j.validated++
	from, _ := p.Int("from")
	to, _ := p.Int("to")
	if from > to {
		return []jobs.FieldError{{Param: "to", Reason: "is before from"}}
	}
	return nil
}

func TestResolveAsksAValidatorOnceTheTypesAreRight(t *testing.T) {
	t.Parallel()
	var calls int
	job := rangeJob{fakeJob{id: "range", params: []jobs.Param{
		{Name: "from", Type: jobs.TypeInt, Default: "0"},
		{Name: "to", Type: jobs.TypeInt, Required: true},
	}}, &calls}

	if _, err := jobs.Resolve(job, map[string]string{"to": "5"}); err != nil {
		t.Errorf("Resolve of a good range: %v", err)
	}
	_, err := jobs.Resolve(job, map[string]string{"from": "9", "to": "5"})
	var verr *jobs.ValidationError
	if !errors.As(err, &verr) || verr.Job != "range" || len(verr.Fields) != 1 || verr.Fields[0] != (jobs.FieldError{Param: "to", Reason: "is before from"}) {
		t.Errorf("Resolve of a reversed range: %v, want a *ValidationError for to", err)
	}
	if calls != 2 {
		t.Errorf("Validate called %d times, want 2", calls)
	}
	if _, err := jobs.Resolve(job, map[string]string{"to": "five"}); err == nil || calls != 2 {
		t.Errorf("Resolve of a mistyped value: %v after %d calls to Validate, want refused without asking it", err, calls)
	}
}
