package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestResolvePrefersFlagsThenEnvironmentThenTheLocalAgent(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "agent.url"), []byte("http://127.0.0.1:9999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "admin-token"), []byte("jb_local\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	local := map[string]string{"JOBBRIDGE_DATA_DIR": dir}
	cases := []struct {
		name, flagURL, flagToken string
		env                      map[string]string
		url, token, err          string
	}{
		{name: "local agent, no flags", env: local, url: "http://127.0.0.1:9999", token: "jb_local"},
		{name: "flags win", flagURL: "http://a:1", flagToken: "t", env: local, url: "http://a:1", token: "t"},
		{name: "environment", env: map[string]string{"JOBBRIDGE_AGENT_URL": "http://e:2", "JOBBRIDGE_TOKEN": "et", "JOBBRIDGE_DATA_DIR": dir}, url: "http://e:2", token: "et"},
		{name: "token alone: the local agent's address", flagToken: "mine", env: local, url: "http://127.0.0.1:9999", token: "mine"},
		{name: "another agent without a token", flagURL: "http://remote:8080", env: local, err: "no token"},
		{name: "nothing anywhere", env: map[string]string{"JOBBRIDGE_DATA_DIR": t.TempDir()}, err: "no agent to talk to"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := resolve(c.flagURL, c.flagToken, env(c.env))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("resolve() error = %v, want one saying %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.url != c.url || got.token != c.token {
				t.Errorf("resolve() = %s %s, want %s %s", got.url, got.token, c.url, c.token)
			}
		})
	}
}

func TestBadUsageExitsTwo(t *testing.T) {
	var out, errOut strings.Builder
	if code := run([]string{"--nope"}, env(nil), &out, &errOut); code != 2 {
		t.Errorf("an unknown flag exits %d, want 2", code)
	}
	if code := run(nil, env(map[string]string{"JOBBRIDGE_DATA_DIR": t.TempDir()}), &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "no agent") {
		t.Errorf("no agent: exit %d, stderr %q", code, errOut.String())
	}
}
