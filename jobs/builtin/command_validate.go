package builtin

import (
	"strings"

	"github.com/jobbridge/jobbridge/jobs"
)

// Validate implements jobs.Validator. A parameter reaches the program as an
// environment variable, which cannot hold a NUL byte: a value with one
// would fail every run at the start, so it is refused when the rule is
// saved.
func (c *Command) Validate(params jobs.Params) []jobs.FieldError {
	var problems []jobs.FieldError
	for _, p := range c.params {
		if strings.ContainsRune(params[p.Name], 0) {
			problems = append(problems, jobs.FieldError{Param: p.Name,
				Reason: "holds a NUL byte, which an environment variable cannot, and the parameter reaches the program as " + paramEnvPrefix + strings.ToUpper(p.Name)})
		}
	}
	return problems
}
