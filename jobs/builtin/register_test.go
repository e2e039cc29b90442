package builtin_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
	"github.com/jobbridge/jobbridge/jobs/egress"
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
			if err := builtin.Register(r, builtin.Options{DB: tt.db}); err != nil {
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
	err := builtin.Register(r, builtin.Options{})
	if err == nil || !strings.Contains(err.Error(), `register job "demo": a job with this id is already registered`) {
		t.Errorf("Register error = %v, want the duplicate demo refused", err)
	}
}

func TestRegisterGivesTheHTTPJobItsPolicy(t *testing.T) {
	t.Parallel()
	loopback, err := egress.Parse("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		policy  *egress.Policy
		allowed bool
	}{
		{"none: public addresses only", nil, false},
		{"one allowing loopback", loopback, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := jobs.NewRegistry()
			if err := builtin.Register(r, builtin.Options{Egress: tt.policy}); err != nil {
				t.Fatalf("Register: %v", err)
			}
			job, _ := r.Get("http")
			_, err := jobs.Resolve(job, map[string]string{"url": "http://127.0.0.1:8080/"})
			if tt.allowed && err != nil || !tt.allowed && (err == nil || !strings.Contains(err.Error(), "egress policy refused 127.0.0.1")) {
				t.Errorf("Resolve of a loopback url = %v, want allowed %v", err, tt.allowed)
			}
		})
	}
}
