package agent_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/store"
)

// TestSSHConsoleServesTheAgent starts an agent with the SSH console and
// logs in with an operator's key: the console shows the agent with that
// role, through a token of that key that exists only while its session
// does.
func TestSSHConsoleServesTheAgent(t *testing.T) {
	dir := t.TempDir()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(dir, "authorized_keys")
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(signer.PublicKey()))) + " otto role=operator\n"
	if err := os.WriteFile(keys, []byte(line), 0o600); err != nil {
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
	deadline := time.Now().Add(10 * time.Second)
	for a.SSHAddr() == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if a.SSHAddr() == nil {
		t.Fatal("the SSH console did not start")
	}
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

	c, err := gossh.Dial("tcp", a.SSHAddr().String(), &gossh.ClientConfig{
		User: "ops", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 24, 80, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, _ := sess.StdinPipe()
	out := &lockedBuffer{}
	sess.Stdout = out
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	for screen := ansi.Strip(out.String()); !(strings.Contains(screen, "operator") && strings.Contains(screen, "● live")); screen = ansi.Strip(out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("the console did not show the operator's live session:\n%s", ansi.Strip(out.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	want := "ssh:" + cfg.Node + ":otto (" + gossh.FingerprintSHA256(signer.PublicKey()) + ")"
	if got := sshTokens(); len(got) != 1 || got[want] != store.RoleOperator {
		t.Errorf("SSH console tokens during the session: %v; want %q, operator", got, want)
	}
	_, _ = io.WriteString(in, "q")
	_ = sess.Wait()
	for deadline := time.Now().Add(5 * time.Second); len(sshTokens()) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("SSH console tokens after the session: %v; want none", sshTokens())
			break
		}
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
