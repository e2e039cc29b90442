package localagent_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/jobbridge/jobbridge/shared/localagent"
)

func TestDataDirRule(t *testing.T) {
	t.Parallel()
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skip("no home directory:", err)
	}
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{localagent.DataDirEnv: "/srv/jb", "XDG_DATA_HOME": "/xdg"}, "/srv/jb"},
		{map[string]string{"XDG_DATA_HOME": "/xdg"}, filepath.Join("/xdg", "jobbridge")},
		{nil, filepath.Join(home, ".local", "share", "jobbridge")},
	}
	for _, tt := range tests {
		getenv := func(k string) string { return tt.env[k] }
		if got := localagent.DataDir(getenv); got != tt.want {
			t.Errorf("DataDir with %v = %q, want %q", tt.env, got, tt.want)
		}
	}
	// The default ignores JOBBRIDGE_DATA_DIR: it is what applies when that
	// variable (or the agent's --data-dir) is not given.
	env := map[string]string{localagent.DataDirEnv: "/srv/jb", "XDG_DATA_HOME": "/xdg"}
	if got := localagent.DefaultDataDir(func(k string) string { return env[k] }); got != filepath.Join("/xdg", "jobbridge") {
		t.Errorf("DefaultDataDir = %q, want the XDG rule", got)
	}
}

func TestFindReadsTheFilesAndToleratesMissingOnes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	getenv := func(k string) string {
		if k == localagent.DataDirEnv {
			return dir
		}
		return ""
	}
	f, err := localagent.Find(getenv)
	if err != nil || f.URL != "" || f.Token != "" || f.Dir != dir {
		t.Fatalf("empty data dir: %+v, %v; want only Dir", f, err)
	}
	os.WriteFile(filepath.Join(dir, localagent.URLFile), []byte("http://127.0.0.1:8080\n"), 0o600)
	os.WriteFile(filepath.Join(dir, localagent.AdminTokenFile), []byte("tok\n"), 0o600)
	f, err = localagent.Find(getenv)
	if err != nil || f.URL != "http://127.0.0.1:8080" || f.Token != "tok" {
		t.Errorf("Find = %+v, %v; want the URL and token, trimmed", f, err)
	}
}
