// Package jobs is what a developer implements to add work to jobbridge: a Job
// says who it is, what parameters it takes and how it runs. Jobs are
// registered explicitly in main (never through init) in a Registry, which
// refuses duplicate or invalid ids at start-up.
//
// A job reaches its own run's logger and progress reporter through the
// context it is given (see Logger and Progress), and must return promptly
// once that context is cancelled: an operator, the rule's timeout or the
// agent's shutdown may cancel it at any time.
package jobs

import (
	"context"
	"fmt"
	"regexp"
)

// Job is a unit of work the agent can run on a schedule.
type Job interface {
	// ID is the job's stable identity, referenced by rules: 1-64 characters
	// of letters, digits, '.', '_' and '-', starting with a letter or digit.
	ID() string
	// Description says in one sentence what the job does.
	Description() string
	// Params describes the parameters the job takes.
	Params() []Param
	// Run does the work. params holds a value for every declared parameter
	// that has one (defaults applied), already checked against its type.
	// Run returns when the work is done or ctx is cancelled.
	Run(ctx context.Context, params Params) error
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidateID reports whether id may identify a job.
func ValidateID(id string) error {
	if !idPattern.MatchString(id) {
		return fmt.Errorf("job id %q is invalid: want 1-64 of letters, digits, '.', '_' and '-', starting with a letter or digit", id)
	}
	return nil
}
