package localagent_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/jobbridge/jobbridge/shared/localagent"
)

// Find reads what an agent wrote to its data dir when it started: the
// address it listens on and its generated admin token, which is all a
// client (shared/client) needs. Here a directory stands in for the data
// dir of an agent that has started.
func ExampleFind() {
	dir, err := os.MkdirTemp("", "jobbridge-data")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "agent.url"), []byte("http://127.0.0.1:8080\n"), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "admin-token"), []byte("jb_0123456789abcdef\n"), 0o600)

	getenv := func(name string) string {
		if name == "JOBBRIDGE_DATA_DIR" {
			return dir
		}
		return os.Getenv(name)
	}
	found, err := localagent.Find(getenv)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(found.URL, found.Token, found.Dir == dir)
	// Output:
	// http://127.0.0.1:8080 jb_0123456789abcdef true
}
