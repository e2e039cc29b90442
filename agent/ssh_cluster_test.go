package agent_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/shared/api"
)

// sshConsole is a console session over SSH, its screen kept as text.
type sshConsole struct {
	t      *testing.T
	in     io.Writer
	screen *lockedBuffer
}

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
	sess.Stdout = out
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	return &sshConsole{t: t, in: in, screen: out}
}

// waitFor waits until the screen shows every one of texts.
func (c *sshConsole) waitFor(what string, texts ...string) {
	c.t.Helper()
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		screen := ansi.Strip(c.screen.String())
		all := true
		for _, s := range texts {
			all = all && strings.Contains(screen, s)
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the console did not show %s:\n%s", what, screen)
		}
	}
}

func (c *sshConsole) press(keys string) {
	c.t.Helper()
	if _, err := io.WriteString(c.in, keys); err != nil {
		c.t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // one read, one message
}

// TestSSHConsolesOfAgentsSharingADatabaseKeepTheirOwnIdentities runs two
// agents with SSH consoles on one PostgreSQL and logs in to both with one
// key. Neither agent's start or stop touches the other's session, and an
// action taken in a console is recorded in the audit trail under the key
// that took it, not a token the consoles share.
func TestSSHConsolesOfAgentsSharingADatabaseKeepTheirOwnIdentities(t *testing.T) {
	t.Parallel()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	keys := filepath.Join(t.TempDir(), "authorized_keys")
	line := strings.TrimSpace(string(gossh.MarshalAuthorizedKey(signer.PublicKey()))) + " otto@desk role=operator\n"
	if err := os.WriteFile(keys, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	dbURL := pgtest.NewDatabase(t)
	var agents []*testAgent
	for i := range 2 {
		agents = append(agents, startAgent(t, "shared", func(c *agent.Config) {
			c.DatabaseURL, c.Node = dbURL, fmt.Sprintf("agent-%d", i)
			c.SSHListen, c.SSHAuthorizedKeys = "127.0.0.1:0", keys
		}))
	}
	ctx := context.Background()
	if _, err := agents[0].admin.CreateRule(ctx, api.RuleInput{Name: "nightly-report", Job: "echo", Schedule: "rate(1 day)"}); err != nil {
		t.Fatal(err)
	}
	sshAddr := func(a *testAgent) string {
		for deadline := time.Now().Add(10 * time.Second); a.SSHAddr() == nil; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the SSH console did not start")
			}
		}
		return a.SSHAddr().String()
	}
	first := openSSHConsole(t, sshAddr(agents[0]), signer)
	first.waitFor("agent-0's console, live", "operator", "● live")
	second := openSSHConsole(t, sshAddr(agents[1]), signer)
	second.waitFor("agent-1's console, live", "operator", "● live")
	agents[1].stop()

	// The first console, its agent untouched, still acts.
	first.press(":")
	first.press("rules")
	first.press("\r")
	first.waitFor("the rules", "nightly-report")
	first.press("r")
	var run api.Run
	for deadline := time.Now().Add(15 * time.Second); run.ID == ""; time.Sleep(50 * time.Millisecond) {
		page, err := agents[0].admin.Runs(ctx, api.RunQuery{Rule: "nightly-report"})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 0 {
			run = page.Items[0]
		} else if time.Now().After(deadline) {
			t.Fatalf("the console of agent-0 could not run the rule after agent-1 stopped:\n%s", ansi.Strip(first.screen.String()))
		}
	}
	actor := "ssh:agent-0:otto@desk (" + gossh.FingerprintSHA256(signer.PublicKey()) + ")"
	if run.TriggeredBy != actor {
		t.Errorf("the run was triggered by %q; want the key, %q", run.TriggeredBy, actor)
	}
	audit, err := agents[0].admin.Audit(ctx, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	var byKey []api.AuditEntry
	for _, e := range audit.Items {
		if e.Actor == actor {
			byKey = append(byKey, e)
		}
	}
	if len(byKey) != 1 || byKey[0].Action != "rule.trigger" || byKey[0].Target != "nightly-report" {
		t.Errorf("the audit trail under %q: %+v; want the rule's trigger (whole trail: %+v)", actor, byKey, audit.Items)
	}
}
