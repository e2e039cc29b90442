package builtin_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
)

func registeredIDs(r *jobs.Registry) []string {
	var ids []string
	for _, j := range r.List() {
		ids = append(ids, j.ID())
	}
	return ids
}

func TestRegisterAddsTheBuiltins(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		db   builtin.Execer
		want []string
	}{
		{"with a database", &fakeDB{}, []string{"demo", "echo", "http", "orders.increment"}},
		{"without one", nil, []string{"demo", "echo", "http"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := jobs.NewRegistry()
			if err := builtin.Register(r, tt.db); err != nil {
				t.Fatalf("Register: %v", err)
			}
			if got := registeredIDs(r); !slices.Equal(got, tt.want) {
				t.Errorf("registered %v, want %v", got, tt.want)
			}
			for _, j := range r.List() {
				for _, p := range j.Params() {
					if p.Description == "" {
						t.Errorf("job %s: parameter %s has no description", j.ID(), p.Name)
					}
				}
			}
		})
	}
}

func TestRegisterSurfacesRegistryErrors(t *testing.T) {
	t.Parallel()
	r := jobs.NewRegistry()
	if err := r.Register(builtin.NewDemo()); err != nil {
		t.Fatal(err)
	}
	err := builtin.Register(r, nil)
	if err == nil || !strings.Contains(err.Error(), `register job "demo": a job with this id is already registered`) {
		t.Errorf("Register error = %v, want the duplicate demo refused", err)
	}
}
