package agent_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/shared/api"
)

// listener is a loopback HTTP server that remembers the Authorization
// header of every request it gets.
type listener struct {
	*httptest.Server
	mu   sync.Mutex
	auth []string
}

func newListener(t *testing.T) *listener {
	l := &listener{}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.auth = append(l.auth, r.Header.Get("Authorization"))
		l.mu.Unlock()
	}))
	t.Cleanup(l.Close)
	return l
}

func (l *listener) got() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.auth...)
}

// A stored secret is only ever sent where an admin configured it: an
// operator's override of the http job's url, method or headers on a rule
// holding a bearer token is refused with 403 and nothing is sent, unless
// the override brings its own token; an admin may.
func TestOperatorCannotRedirectARulesSecret(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite", func(c *agent.Config) { c.HTTPAllow = "127.0.0.1/32" })
	ctx := context.Background()
	configured, attacker := newListener(t), newListener(t)
	const secret = "stored-bearer-token-5a1e"
	if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "ping", Job: "http", Schedule: "rate(1 day)",
		Parameters: map[string]string{"url": configured.URL + "/health", "bearer_token": secret}}); err != nil {
		t.Fatal(err)
	}
	operator := ta.tokenClient(t, "otto", "operator")

	first, err := operator.TriggerRule(ctx, "ping", nil)
	if err != nil {
		t.Fatalf("operator trigger without overrides: %v", err)
	}
	ta.waitRun(t, first.ID, api.StatusSucceeded)

	for _, c := range []struct {
		what      string
		overrides map[string]string
	}{
		{"url", map[string]string{"url": attacker.URL + "/steal"}},
		{"url with the masked token sent back", map[string]string{"url": attacker.URL + "/steal", "bearer_token": api.MaskedValue}},
		{"header", map[string]string{"header": "Host: " + strings.TrimPrefix(attacker.URL, "http://")}},
		{"method", map[string]string{"method": "POST"}},
	} {
		_, err := operator.TriggerRule(ctx, "ping", c.overrides)
		wantStatus(t, err, http.StatusForbidden, "operator trigger overriding "+c.what)
		if err != nil && !strings.Contains(err.Error(), "bearer_token") {
			t.Errorf("operator trigger overriding %s: the refusal does not say which secret: %v", c.what, err)
		}
		_, err = operator.RestartRun(ctx, first.ID, c.overrides)
		wantStatus(t, err, http.StatusForbidden, "operator restart overriding "+c.what)
	}

	// What does not change the destination stays the operator's to choose.
	other, err := operator.TriggerRule(ctx, "ping", map[string]string{"expect_status": "200", "timeout": "10s"})
	if err != nil {
		t.Fatalf("operator trigger overriding expect_status: %v", err)
	}
	ta.waitRun(t, other.ID, api.StatusSucceeded)
	// The operator's own token may go where the operator likes.
	own, err := operator.TriggerRule(ctx, "ping", map[string]string{"url": attacker.URL + "/mine", "bearer_token": "operators-own"})
	if err != nil {
		t.Fatalf("operator trigger with its own token: %v", err)
	}
	ta.waitRun(t, own.ID, api.StatusSucceeded)
	// An admin may send the rule's token elsewhere.
	moved, err := ta.admin.TriggerRule(ctx, "ping", map[string]string{"url": attacker.URL + "/moved"})
	if err != nil {
		t.Fatalf("admin trigger overriding url: %v", err)
	}
	ta.waitRun(t, moved.ID, api.StatusSucceeded)

	time.Sleep(100 * time.Millisecond) // a refused run that ran anyway would have called by now
	if got := configured.got(); len(got) != 2 || got[0] != "Bearer "+secret || got[1] != "Bearer "+secret {
		t.Errorf("the configured host got %q, want the stored token twice", got)
	}
	if got := attacker.got(); len(got) != 2 || got[0] != "Bearer operators-own" || got[1] != "Bearer "+secret {
		t.Errorf("the other host got %q, want only the operator's own token, then the admin's redirect", got)
	}
}
