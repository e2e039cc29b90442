package agent

import (
	"errors"
	"fmt"

	"github.com/jobbridge/jobbridge/agent/internal/jobsfile"
	"github.com/jobbridge/jobbridge/internal/yamlfile"
	"github.com/jobbridge/jobbridge/jobs"
)

// registerJobsFile adds the jobs of the jobs file (JobsFileEnv) to reg,
// after the program's own, which the file may not redeclare. A file with
// any problem stops the agent, every problem listed at its line: a job
// half declared must not run.
func registerJobsFile(path string, reg *jobs.Registry, env Env) error {
	if path == "" {
		return nil
	}
	declared, err := jobsfile.Load(path, jobsfile.Options{
		Egress: env.Egress, PassEnv: env.CommandEnv,
		Taken: func(id string) bool { _, ok := reg.Get(id); return ok },
	})
	var problems yamlfile.Problems
	switch {
	case errors.As(err, &problems):
		return fmt.Errorf("configuration:\n%s: the jobs file has %s:\n%w", JobsFileEnv, countProblems(len(problems)), err)
	case err != nil:
		return fmt.Errorf("configuration:\n%s: %w", JobsFileEnv, err)
	}
	if err := reg.Register(declared...); err != nil {
		return fmt.Errorf("configuration:\n%s: %w", JobsFileEnv, err)
	}
	return nil
}

func countProblems(n int) string {
	if n == 1 {
		return "a problem"
	}
	return fmt.Sprintf("%d problems", n)
}
