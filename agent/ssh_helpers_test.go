package agent_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
)

// newSigner returns a fresh ed25519 key for an SSH client.
func newSigner(t *testing.T) gossh.Signer {
	t.Helper()
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

// authorizedKey is s's line in an authorized-keys file, with comment.
func authorizedKey(s gossh.Signer, comment string) string {
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.PublicKey()))) + " " + comment + "\n"
}

// sshAddr waits for a's SSH console to listen and returns its address.
func sshAddr(t *testing.T, a *agent.Agent) string {
	t.Helper()
	wait.For(t, 10*time.Second, func() (bool, string) { return a.SSHAddr() != nil, "the SSH console did not start" })
	return a.SSHAddr().String()
}

// sshConsole is a console session over SSH, its screen kept as text.
type sshConsole struct {
	t      *testing.T
	sess   *gossh.Session
	in     io.Writer
	screen *lockedBuffer
}

// openSSHConsole logs in to the SSH console at addr with signer, in a
// 40×120 terminal; the session ends with the test.
func openSSHConsole(t *testing.T, addr string, signer gossh.Signer) *sshConsole {
	t.Helper()
	c, err := gossh.Dial("tcp", addr, &gossh.ClientConfig{
		User: "ops", Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)},
		HostKeyCallback: gossh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm", 40, 120, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, _ := sess.StdinPipe()
	out := &lockedBuffer{}
	sess.Stdout, sess.Stderr = out, out
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	return &sshConsole{t: t, sess: sess, in: in, screen: out}
}

// text is what the console has shown so far, without escapes.
func (c *sshConsole) text() string { return ansi.Strip(c.screen.String()) }

// waitFor waits until the screen shows every one of texts.
func (c *sshConsole) waitFor(what string, texts ...string) {
	c.t.Helper()
	wait.For(c.t, 15*time.Second, func() (bool, string) {
		screen := c.text()
		all := true
		for _, s := range texts {
			all = all && strings.Contains(screen, s)
		}
		return all, fmt.Sprintf("the console did not show %s:\n%s", what, screen)
	})
}

func (c *sshConsole) press(keys string) {
	c.t.Helper()
	if _, err := io.WriteString(c.in, keys); err != nil {
		c.t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // one read, one message
}
