package agent_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// TestSSHConsolesOfAgentsSharingADatabaseKeepTheirOwnIdentities runs two
// agents with SSH consoles on one PostgreSQL and logs in to both with one
// key. Neither agent's start or stop touches the other's session, and an
// action taken in a console is recorded in the audit trail under the key
// that took it, not a token the consoles share.
func TestSSHConsolesOfAgentsSharingADatabaseKeepTheirOwnIdentities(t *testing.T) {
	t.Parallel()
	signer := newSigner(t)
	keys := filepath.Join(t.TempDir(), "authorized_keys")
	if err := os.WriteFile(keys, []byte(authorizedKey(signer, "otto@desk role=operator")), 0o600); err != nil {
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
	first := openSSHConsole(t, sshAddr(t, agents[0].Agent), signer)
	first.waitFor("agent-0's console, live", "operator", "● live")
	second := openSSHConsole(t, sshAddr(t, agents[1].Agent), signer)
	second.waitFor("agent-1's console, live", "operator", "● live")
	agents[1].stop()

	// The first console, its agent untouched, still acts.
	first.press(":")
	first.press("rules")
	first.press("\r")
	first.waitFor("the rules", "nightly-report")
	first.press("r")
	var run api.Run
	wait.For(t, 15*time.Second, func() (bool, string) {
		page, err := agents[0].admin.Runs(ctx, api.RunQuery{Rule: "nightly-report"})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) > 0 {
			run = page.Items[0]
		}
		return run.ID != "", "the console of agent-0 could not run the rule after agent-1 stopped:\n" + ansi.Strip(first.screen.String())
	})
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
