package agent_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/localagent"
)

// TestSSHConsoleServesTheAgent starts an agent with the SSH console and
// logs in with an operator's key: the console shows the agent with that
// role, through a token of that key that exists only while its session
// does.
func TestSSHConsoleServesTheAgent(t *testing.T) {
	dir := t.TempDir()
	signer := newSigner(t)
	keys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(keys, []byte(authorizedKey(signer, "otto role=operator")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := agent.Config{
		Listen: "127.0.0.1:0", DataDir: dir, Scheduler: agent.SchedulerOff, Node: "n1",
		SSHListen: "127.0.0.1:0", SSHAuthorizedKeys: keys, ShutdownGrace: time.Second,
	}
	a, err := agent.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := a.Store()
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		<-ran
	})
	addr := sshAddr(t, a)
	sshTokens := func() map[string]store.Role {
		tokens, err := st.TokenList(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		roles := map[string]store.Role{}
		for _, tok := range tokens {
			if strings.HasPrefix(tok.Name, "ssh:") {
				roles[tok.Name] = tok.Role
			}
		}
		return roles
	}
	if got := sshTokens(); len(got) != 0 {
		t.Errorf("SSH console tokens before any session: %v", got)
	}

	console := openSSHConsole(t, addr, signer)
	console.waitFor("the operator's live session", "operator", "● live")
	want := "ssh:" + cfg.Node + ":otto (" + gossh.FingerprintSHA256(signer.PublicKey()) + ")"
	if got := sshTokens(); len(got) != 1 || got[want] != store.RoleOperator {
		t.Errorf("SSH console tokens during the session: %v; want %q, operator", got, want)
	}
	console.press("q")
	_ = console.sess.Wait()
	if gone, _ := wait.Poll(t, 5*time.Second, func() (bool, string) { return len(sshTokens()) == 0, "" }); !gone {
		t.Errorf("SSH console tokens after the session: %v; want none", sshTokens())
	}

	if _, err := os.Stat(filepath.Join(dir, "ssh_host_ed25519_key")); err != nil {
		t.Errorf("no host key in the data dir: %v", err)
	}
}

func TestSSHListenNeedsAuthorizedKeys(t *testing.T) {
	cfg := agent.Config{DataDir: t.TempDir(), SSHListen: "127.0.0.1:0"}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "JOBBRIDGE_SSH_AUTHORIZED_KEYS") {
		t.Errorf("Validate() = %v, want an error naming JOBBRIDGE_SSH_AUTHORIZED_KEYS", err)
	}
}

// A Run that cannot start (here the SSH console's port is taken) gives back
// what New took: the database's lock, so another agent may open it, and the
// address file, which would name a port no one serves.
func TestARunThatCannotStartGivesBackTheDatabase(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	keys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(keys, []byte(authorizedKey(newSigner(t), "otto role=operator")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := agent.Config{
		Listen: "127.0.0.1:0", DataDir: dir, Scheduler: agent.SchedulerOff, Node: "n1",
		SSHListen: taken.Addr().String(), SSHAuthorizedKeys: keys,
	}
	a, err := agent.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Run(context.Background()); err == nil {
		t.Fatal("Run served with the SSH console's port taken")
	}
	if _, err := os.Stat(filepath.Join(dir, localagent.URLFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the address file after a failed start: %v, want it gone", err)
	}
	cfg.SSHListen = ""
	b, err := agent.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatalf("a second agent on the database after a failed start: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Run(ctx); err != nil {
		t.Errorf("the second agent's run: %v", err)
	}
}
