package tui_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/teatest"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// realTimes matches the times of the agent's own admin token, which the
// agent creates and the console's requests touch at the real time, and of
// the token a test creates: a golden shows them as placeholders.
var realTimes = regexp.MustCompile(`(?m)^(. admin\s+admin\s+)\d{4}-\d\d-\d\d \d\d:\d\d(\s+)(?:\d{4}-\d\d-\d\d \d\d:\d\d|never)`)
var realCreated = regexp.MustCompile(`(?m)^(. ci-deploy\s+\w+\s+)\d{4}-\d\d-\d\d \d\d:\d\d`)

// secretRE is a token's secret as the agent makes them.
var secretRE = regexp.MustCompile(`jb_[A-Za-z0-9_-]{20,}`)

func stableTokens(screen string) string {
	screen = realTimes.ReplaceAllString(screen, "${1}YYYY-MM-DD hh:mm${2}YYYY-MM-DD hh:mm")
	screen = realCreated.ReplaceAllString(screen, "${1}YYYY-MM-DD hh:mm")
	return secretRE.ReplaceAllStringFunc(screen, func(s string) string {
		return "jb_" + strings.Repeat("x", len(s)-3)
	})
}

func TestTokensViewAt80x24(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "tokens", nil)
	f.waitFor(t, "live", "Tokens 3", "operator", "viewer", "n new token")
	requireGolden(t, stableTokens(f.screen(t)))
}

func TestTokensViewWide(t *testing.T) {
	f := setup(t, adminToken, 160, 45, "tokens", nil)
	f.waitFor(t, "live", "Tokens 3", "LAST USED", "viewer", "n new token")
	requireGolden(t, stableTokens(f.screen(t)))
}

// A token that is not an admin's gets a note saying so, not an empty list.
func TestTokensViewTellsAViewerItIsAnAdmins(t *testing.T) {
	f := setup(t, viewerToken, 80, 24, "tokens", nil)
	f.waitFor(t, "live", "Tokens are for admins", "Your token is a viewer")
	requireGolden(t, f.screen(t))
}

// createToken opens the form, names the token, picks the operator role
// and creates it; it returns the secret the box shows.
func createToken(t *testing.T, f *fixture, name string) (secret, screen string) {
	t.Helper()
	// n is obeyed once the agent has said the token is an admin's: the
	// footer offers it then.
	f.waitFor(t, "live", "Tokens 3", "viewer", "n new token")
	f.press("n")
	f.waitFor(t, "New token", "[viewer]")
	f.typeText(name)
	f.press("tab")
	f.waitFor(t, "[operator]")
	f.press("enter")
	screen = f.waitSeen(t, "it will not be shown again")
	if !strings.Contains(screen, "Tokens 4") {
		f.waitFor(t, "Tokens 4") // the list, loaded again after the box showed
	}
	secrets := secretRE.FindAllString(screen, -1)
	if len(secrets) == 0 {
		t.Fatalf("no secret in the box:\n%s", screen)
	}
	return secrets[len(secrets)-1], screen
}

// The whole life of a token through the real agent: created in the
// console, its secret (shown once) opens the API with the role picked;
// revoked after a confirmation naming it, it no longer does.
func TestATokenCreatedInTheConsoleWorksAndRevokedDoesNot(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "tokens", nil)
	secret, _ := createToken(t, f, "ci-deploy")
	ctx := context.Background()
	c := client.New(f.agent.URL(), secret, client.WithHTTPClient(f.agent.HTTPClient()))
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatalf("the new token does not open the API: %v", err)
	}
	if st.Role != api.RoleOperator {
		t.Errorf("the new token's role is %s, want operator", st.Role)
	}
	f.press("enter") // copied
	f.waitFor(t, "n new token")
	f.press("g", "j") // admin, then ci-deploy
	f.tm.Send(tea.KeyMsg{Type: tea.KeyCtrlD})
	f.waitFor(t, "Revoke token ci-deploy (operator)?")
	f.press("y")
	f.waitFor(t, "token ci-deploy revoked")
	if _, err := c.Status(ctx); client.StatusOf(err) != http.StatusUnauthorized {
		t.Errorf("the revoked token: %v, want 401", err)
	}
	screen := f.screen(t)
	if strings.Contains(screen, "ci-deploy  ") || strings.Contains(screen, secret) {
		t.Errorf("the revoked token is still listed, or its secret shows:\n%s", screen)
	}
}

// The secret's box, which says it is shown once, at both sizes.
func TestTokenSecretShownOnceAt80x24(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "tokens", nil)
	createToken(t, f, "ci-deploy")
	requireGolden(t, stableTokens(f.screen(t)))
}

func TestTokenSecretShownOnceWide(t *testing.T) {
	f := setup(t, adminToken, 160, 45, "tokens", nil)
	createToken(t, f, "ci-deploy")
	requireGolden(t, stableTokens(f.screen(t)))
}

// The form says what is wrong with what it was given: no name, or a name
// taken (the agent's 409, with its words), and stays open to fix it.
func TestTokenFormSaysWhatIsWrong(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "tokens", nil)
	f.waitFor(t, "Tokens 3", "viewer", "n new token")
	f.press("n")
	f.waitFor(t, "New token")
	f.press("enter")
	f.waitFor(t, "a token needs a name")
	f.typeText("viewer")
	f.press("enter")
	f.waitFor(t, `agent answered 409: a token named "viewer" exists already`)
	f.press("esc")
	f.waitFor(t, "n new token")
	if toks, err := client.New(f.agent.URL(), adminToken, client.WithHTTPClient(f.agent.HTTPClient())).Tokens(context.Background()); err != nil || len(toks) != 3 {
		t.Errorf("tokens after the refused form: %d, %v; want the 3 there were", len(toks), err)
	}
}

// No event tells of tokens: the list is read again on each :tokens and
// on ctrl+l, so a token created elsewhere shows, and when it was last
// used (an admin hunting a leaked token needs both).
func TestTokensListIsReadAgainOnEntryAndCtrlL(t *testing.T) {
	f := setup(t, adminToken, 100, 24, "tokens", nil)
	f.waitFor(t, "Tokens 3", "viewer", "n new token")
	ctx := context.Background()
	admin := client.New(f.agent.URL(), adminToken, client.WithHTTPClient(f.agent.HTTPClient()))
	tok, err := admin.CreateToken(ctx, api.TokenInput{Name: "leaked", Role: api.RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	f.press("ctrl+l")
	f.waitFor(t, "Tokens 4", "leaked")
	used := regexp.MustCompile(`leaked\s+viewer\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+\d{4}-\d\d-\d\d \d\d:\d\d`)
	if _, err := client.New(f.agent.URL(), tok.Secret, client.WithHTTPClient(f.agent.HTTPClient())).Status(ctx); err != nil {
		t.Fatal(err)
	}
	f.command("rules")
	f.waitFor(t, "Rules 0")
	f.command("tokens")
	teatest.WaitFor(t, f.tm.Output(), func(b []byte) bool { return used.Match(b) },
		teatest.WithDuration(5*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
}

// y in the box copies the token's value through the terminal; the note
// says so without showing it.
func TestTokenSecretIsCopiedWithY(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "tokens", nil)
	secret, _ := createToken(t, f, "ci-deploy")
	f.press("y")
	f.waitFor(t, "copied token ci-deploy's value")
	want := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(secret)) + "\a"
	if got := f.clipboard.String(); got != want {
		t.Errorf("the clipboard got %q, want %q", got, want)
	}
	lines := strings.Split(f.screen(t), "\n")
	if note := lines[len(lines)-1]; !strings.Contains(note, "copied token ci-deploy's value") || strings.Contains(note, secret) {
		t.Errorf("the note reads %q: want it to say what was copied, without the value", note)
	}
}

// Revoking the token the console runs with says the console loses access.
func TestRevokingTheConsolesOwnTokenWarns(t *testing.T) {
	f := setup(t, adminToken, 80, 24, "tokens", nil)
	f.waitFor(t, "live", "Tokens 3", "viewer", "n new token") // the role and the token name are known
	f.press("g", "ctrl+d")                                    // admin: the console's own
	f.waitFor(t, "Revoke token admin (admin)? This console runs with it: it loses access")
	f.press("n")
	f.press("j", "ctrl+d")
	f.waitFor(t, "Revoke token operator (operator)? Its clients are refused from then on.")
}
