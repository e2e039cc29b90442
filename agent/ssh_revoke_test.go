package agent_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/sshconsole"
)

// TestAnSSHSessionEndsWhenItsKeyIsRemoved logs in to a real agent's SSH
// console, then takes the key out of the authorized-keys file: the session
// ends within the key check (the default, 15s) and says why.
func TestAnSSHSessionEndsWhenItsKeyIsRemoved(t *testing.T) {
	if testing.Short() {
		t.Skip("waits up to 15s of real time for the default key check; under -short sshconsole's TestASessionEndsWhenItsKeyIsRemovedOrItsRoleChanges checks it with a short interval")
	}
	t.Parallel()
	dir := t.TempDir()
	leaving, staying := newSigner(t), newSigner(t)
	keys := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(keys, []byte(authorizedKey(leaving, "lee role=operator")+authorizedKey(staying, "stu")), 0o600); err != nil {
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
	console := openSSHConsole(t, sshAddr(t, a), leaving)
	console.waitFor("the console", "● live")
	ended := make(chan error, 1)
	go func() { ended <- console.sess.Wait() }()

	if err := os.WriteFile(keys, []byte(authorizedKey(staying, "stu")), 0o600); err != nil {
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
	if want := "this key was removed from the authorized keys; the session is closed."; !strings.Contains(console.text(), want) {
		t.Errorf("the session ended without telling the user %q; it showed:\n%s", want, console.text())
	}
}
