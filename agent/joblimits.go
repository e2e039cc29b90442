package agent

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jobbridge/jobbridge/jobs"
)

// checkJobLimits says, naming JobLimitsEnv, which job of the limits is not
// registered in this agent: a typo would otherwise limit nothing.
func checkJobLimits(limits map[string]int, reg *jobs.Registry) error {
	for _, job := range slices.Sorted(maps.Keys(limits)) {
		if _, ok := reg.Get(job); !ok {
			var ids []string
			for _, j := range reg.List() {
				ids = append(ids, j.ID())
			}
			return fmt.Errorf("configuration:\n%s: job %q is not registered in this agent (jobs: %s)", JobLimitsEnv, job, strings.Join(ids, ", "))
		}
	}
	return nil
}
