package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bad jobs file stops `agent serve` with exit status 1, like any other
// setting the agent refuses, the problems on stderr at their lines.
func TestServeRefusesABadJobsFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "jobs.yaml")
	if err := os.WriteFile(path, []byte("jobs:\n  - id: backup\n    command: [backup.sh]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"JOBBRIDGE_DATA_DIR": dir, "JOBBRIDGE_JOBS_FILE": path, "JOBBRIDGE_LISTEN": "127.0.0.1:0", "JOBBRIDGE_SCHEDULER": "local"}
	code, _, stderr := runCLI(t, env, "serve")
	want := "JOBBRIDGE_JOBS_FILE: the jobs file has a problem:\n" + path + `:3: jobs[0].command[0]: "backup.sh" is not an absolute path`
	if code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("serve with a bad jobs file: exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
}
