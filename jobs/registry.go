package jobs

import (
	"fmt"
	"sort"
)

// Registry holds the jobs an agent offers. Build it in main before the agent
// starts; it is read-only afterwards and safe for concurrent reads.
type Registry struct {
	jobs map[string]Job
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{jobs: make(map[string]Job)} }

// Register adds jobs. It refuses, with an error naming the job, an invalid
// id, an id already registered, and invalid parameter declarations.
func (r *Registry) Register(jobs ...Job) error {
	for _, j := range jobs {
		if err := r.register(j); err != nil {
			return err
		}
	}
	return nil
}

func (r *Registry) register(j Job) error {
	if j == nil {
		return fmt.Errorf("register job: nil job")
	}
	id := j.ID()
	if err := ValidateID(id); err != nil {
		return fmt.Errorf("register job: %w", err)
	}
	if _, dup := r.jobs[id]; dup {
		return fmt.Errorf("register job %q: a job with this id is already registered", id)
	}
	seen := make(map[string]bool)
	for _, p := range j.Params() {
		if err := p.Check(); err != nil {
			return fmt.Errorf("register job %q: %w", id, err)
		}
		if seen[p.Name] {
			return fmt.Errorf("register job %q: parameter %q is declared twice", id, p.Name)
		}
		seen[p.Name] = true
	}
	r.jobs[id] = j
	return nil
}

// Get returns the job with the given id.
func (r *Registry) Get(id string) (Job, bool) {
	j, ok := r.jobs[id]
	return j, ok
}

// List returns every job, by id.
func (r *Registry) List() []Job {
	out := make([]Job, 0, len(r.jobs))
	for _, j := range r.jobs {
		out = append(out, j)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].ID() < out[b].ID() })
	return out
}
