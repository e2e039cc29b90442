// Package localagent is where an agent keeps its files on this machine:
// the data dir's rule and the names of the files in it. The agent writes
// its base URL (URLFile) and its generated admin token (AdminTokenFile)
// there, so a console started by the same user with no flags finds it
// (Find). The agent and the console both take these names from here; the
// console may not import the agent.
package localagent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DataDirEnv is the variable that sets the data dir.
const DataDirEnv = "JOBBRIDGE_DATA_DIR"

// The files an agent keeps in its data dir.
const (
	// URLFile holds the agent's base URL, one line, written at start.
	URLFile = "agent.url"
	// AdminTokenFile holds the generated admin token (mode 0600), unless
	// JOBBRIDGE_ADMIN_TOKEN fixes the token.
	AdminTokenFile = "admin-token"
	// DatabaseFile is the embedded SQLite database, when no
	// JOBBRIDGE_DATABASE_URL is set.
	DatabaseFile = "jobbridge.db"
	// SecretsKeyFile is the key that encrypts secret parameters at rest,
	// when no JOBBRIDGE_SECRETS_KEY is set.
	SecretsKeyFile = "secrets.key"
	// SSHHostKeyFile is the SSH console's host key.
	SSHHostKeyFile = "ssh_host_ed25519_key"
	// EventBridgeStateFile is where the eventbridge scheduler keeps the
	// hash of the API key last applied and the deletes not yet applied.
	EventBridgeStateFile = "eventbridge-state.json"
)

// DefaultDataDir is the data dir when DataDirEnv is not set:
// $XDG_DATA_HOME/jobbridge, else ~/.local/share/jobbridge, else
// jobbridge-data in the working directory.
func DefaultDataDir(getenv func(string) string) string {
	if x := getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "jobbridge")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "jobbridge")
	}
	return "jobbridge-data"
}

// DataDir is the agent's data dir as the agent would choose it: DataDirEnv,
// else DefaultDataDir.
func DataDir(getenv func(string) string) string {
	if d := getenv(DataDirEnv); d != "" {
		return d
	}
	return DefaultDataDir(getenv)
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
	if f.URL, err = readLine(filepath.Join(f.Dir, URLFile)); err != nil {
		return f, err
	}
	if f.Token, err = readLine(filepath.Join(f.Dir, AdminTokenFile)); err != nil {
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
