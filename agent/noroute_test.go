package agent_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
)

// TestUnknownRoutesAndMethodsAnswerProblems asks the real agent for paths
// it does not serve and methods its paths do not take: each answer is
// problem+json (RFC 9457) with its status, title and a detail naming what
// was asked, and a 405 says in Allow what the path takes. The paths that
// are served answer as before.
func TestUnknownRoutesAndMethodsAnswerProblems(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	for _, c := range []struct {
		method, path string
		status       int
		typ, allow   string
		detail       string
	}{
		{http.MethodGet, "/api/v1/nope", http.StatusNotFound, api.ProblemNotFound, "", "no route /api/v1/nope"},
		{http.MethodGet, "/api/v2/rules", http.StatusNotFound, api.ProblemNotFound, "", "no route /api/v2/rules"},
		{http.MethodGet, "/nope", http.StatusNotFound, api.ProblemNotFound, "", "no route /nope"},
		{http.MethodDelete, "/api/v1/status", http.StatusMethodNotAllowed, api.ProblemMethod, "GET, HEAD", "/api/v1/status does not take DELETE"},
		{http.MethodPut, "/api/v1/runs/x/log", http.StatusMethodNotAllowed, api.ProblemMethod, "GET, HEAD", "does not take PUT"},
		{http.MethodPost, "/api/v1/rules/r/log", http.StatusNotFound, api.ProblemNotFound, "", "no route"},
		{http.MethodGet, "/webhook/run", http.StatusMethodNotAllowed, api.ProblemMethod, "POST", "/webhook/run does not take GET"},
		{http.MethodPost, "/healthz", http.StatusMethodNotAllowed, api.ProblemMethod, "GET, HEAD", "/healthz does not take POST"},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			req, _ := http.NewRequest(c.method, ta.URL()+c.path, strings.NewReader("{}"))
			req.Header.Set("Authorization", "Bearer "+ta.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
			if ct := resp.Header.Get("Content-Type"); ct != api.ProblemContentType {
				t.Errorf("Content-Type %q, want %q", ct, api.ProblemContentType)
			}
			if got := resp.Header.Get("Allow"); got != c.allow {
				t.Errorf("Allow %q, want %q", got, c.allow)
			}
			var p api.Problem
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatalf("the body is not a problem: %v", err)
			}
			if p.Status != c.status || p.Type != c.typ || p.Title != http.StatusText(c.status) || !strings.Contains(p.Detail, c.detail) {
				t.Errorf("problem %+v, want status %d, type %s, title %q, a detail with %q", p, c.status, c.typ, http.StatusText(c.status), c.detail)
			}
		})
	}
	// What is served answers as it did.
	for path, ct := range map[string]string{"/healthz": "application/json", "/metrics": "text/plain", "/api/v1/status": "application/json"} {
		req, _ := http.NewRequest(http.MethodGet, ta.URL()+path, nil)
		req.Header.Set("Authorization", "Bearer "+ta.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ct) {
			t.Errorf("GET %s: %d %s, want 200 %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), ct)
		}
	}
}

// TestRoutesWithPathValuesStillGetThem: the check for a route must not
// cost the routes that take one their path's values.
func TestRoutesWithPathValuesStillGetThem(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	if _, err := ta.admin.CreateRule(t.Context(), api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)"}); err != nil {
		t.Fatal(err)
	}
	if r, err := ta.admin.Rule(t.Context(), "r"); err != nil || r.Name != "r" {
		t.Errorf("GET /rules/r: %+v, %v", r, err)
	}
}
