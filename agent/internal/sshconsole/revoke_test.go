package sshconsole_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jobbridge/jobbridge/agent/internal/sshconsole"
)

func TestASessionEndsWhenItsKeyIsRemovedOrItsRoleChanges(t *testing.T) {
	t.Parallel()
	const check = 200 * time.Millisecond
	f := setup(t, func(c *sshconsole.Config) { c.KeyCheck = check })
	type session struct {
		name string
		out  *screen
		done chan error
	}
	start := func(name, want string, key gossh.Signer) *session {
		client, err := f.dial(t, key)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { client.Close() })
		sess, _, out := openConsole(t, client, 100, 30)
		out.waitFor(t, want, "● live")
		s := &session{name: name, out: out, done: make(chan error, 1)}
		go func() { s.done <- sess.Wait() }()
		return s
	}
	viewer := start("viewer", "viewer (read-only)", f.viewer)
	operator := start("operator", "operator", f.operator)
	admin := start("admin", "admin", f.admin)

	// The viewer's key goes, the operator becomes an admin, the admin stays.
	keyFile := filepath.Join(f.dir, "authorized_keys")
	keys := authorizedLine(f.operator, "otto@desk role=admin") + authorizedLine(f.admin, "role=admin ada")
	if err := os.WriteFile(keyFile, []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s    *session
		want string
	}{
		{viewer, "jobbridge: this key was removed from the authorized keys; the session is closed."},
		{operator, "jobbridge: this key's role changed from operator to admin (log in again to use it); the session is closed."},
	} {
		select {
		case <-c.s.done:
			c.s.out.waitFor(t, c.want)
		case <-time.After(10 * time.Second):
			t.Fatalf("the %s's session is still open 10s after its key changed (checked every %s):\n%s", c.s.name, check, c.s.out.text())
		}
	}
	select {
	case err := <-admin.done:
		t.Fatalf("the admin's session ended though its key is unchanged: %v\n%s", err, admin.out.text())
	case <-time.After(5 * check):
	}

	// Deleting the file shuts everyone out.
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	select {
	case <-admin.done:
		admin.out.waitFor(t, "this key was removed from the authorized keys")
	case <-time.After(10 * time.Second):
		t.Fatal("the admin's session is still open 10s after the authorized keys file was deleted")
	}
	if c, err := f.dial(t, f.admin); err == nil {
		c.Close()
		t.Error("a key got in with the authorized keys file deleted")
	}
}
