// Package localagent finds an agent running on this machine for the same
// user: the agent writes its base URL (agent.url) and its generated admin
// token (admin-token) to its data dir, so a console started with no flags
// reaches it. The data dir's default is the agent's: $JOBBRIDGE_DATA_DIR,
// else $XDG_DATA_HOME/jobbridge, else ~/.local/share/jobbridge. (The
// console may not import the agent, so these few lines repeat its rule.)
package localagent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DataDir is the agent's data dir as the agent would choose it.
func DataDir(getenv func(string) string) string {
	if d := getenv("JOBBRIDGE_DATA_DIR"); d != "" {
		return d
	}
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "jobbridge")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "jobbridge")
	}
	return "jobbridge-data"
}

// Found is what the data dir says of the local agent; a field is "" when
// its file is missing.
type Found struct {
	Dir   string
	URL   string
	Token string
}

// Find reads the agent's address and admin token from its data dir. A
// missing file is not an error (the agent may run elsewhere or with a fixed
// token); an unreadable one is.
func Find(getenv func(string) string) (Found, error) {
	f := Found{Dir: DataDir(getenv)}
	var err error
	if f.URL, err = readLine(filepath.Join(f.Dir, "agent.url")); err != nil {
		return f, err
	}
	if f.Token, err = readLine(filepath.Join(f.Dir, "admin-token")); err != nil {
		return f, err
	}
	return f, nil
}

func readLine(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the local agent's %s: %w", filepath.Base(path), err)
	}
	return strings.TrimSpace(string(b)), nil
}
