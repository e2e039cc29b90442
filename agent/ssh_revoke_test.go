package agent_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/sshconsole"
)

// TestAnSSHSessionEndsWhenItsKeyIsRemoved logs in to a real agent's SSH
// console, then takes the key out of the authorized-keys file: the session
// ends within the key check (the default, 15s) and says why.
func TestAnSSHSessionEndsWhenItsKeyIsRemoved(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	signer := func() gossh.Signer {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s, err := gossh.NewSignerFromKey(priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	leaving, staying := signer(), signer()
	line := func(s gossh.Signer, comment string) string {
		return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey()))) + " " + comment + "\n"
	}
	keys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(keys, []byte(line(leaving, "lee role=operator")+line(staying, "stu")), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := agent.Config{
		Listen: "127.0.0.1:0", DataDir: dir, Scheduler: agent.SchedulerOff,
		SSHListen: "127.0.0.1:0", SSHAuthorizedKeys: keys, ShutdownGrace: time.Second,
	}
	a, err := agent.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx) }()
	t.Cleanup(func() {
		stop()
		<-ran
	})
	for deadline := time.Now().Add(10 * time.Second); a.SSHAddr() == nil; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the SSH console did not start")
		}
	}
	c, err := gossh.Dial("tcp", a.SSHAddr().String(), &gossh.ClientConfig{
		User: "ops", Auth: []gossh.AuthMethod{gossh.PublicKeys(leaving)},
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
	out := &lockedBuffer{}
	sess.Stdout, sess.Stderr = out, out
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(ansi.Strip(out.String()), "● live"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the console did not come up:\n%s", ansi.Strip(out.String()))
		}
	}
	ended := make(chan error, 1)
	go func() { ended <- sess.Wait() }()

	if err := os.WriteFile(keys, []byte(line(staying, "stu")), 0o600); err != nil {
		t.Fatal(err)
	}
	removedAt := time.Now()
	within := sshconsole.DefaultKeyCheck + 30*time.Second
	select {
	case <-ended:
		t.Logf("the session ended %s after its key was removed", time.Since(removedAt).Round(time.Millisecond))
	case <-time.After(within):
		t.Fatalf("the session of a removed key is still open %s later", within)
	}
	if want := "this key was removed from the authorized keys; the session is closed."; !strings.Contains(ansi.Strip(out.String()), want) {
		t.Errorf("the session ended without telling the user %q; it showed:\n%s", want, ansi.Strip(out.String()))
	}
}
