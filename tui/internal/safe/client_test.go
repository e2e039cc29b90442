package safe

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// hostileAgent answers every call with evil in every string: the replies
// of each route, an event on the stream, and a problem for DELETE.
func hostileAgent(t *testing.T) *Client {
	t.Helper()
	answers := map[string]any{
		"GET /api/v1/status":               filled[api.Status](),
		"GET /api/v1/jobs":                 filled[api.Page[api.Job]](),
		"GET /api/v1/jobs/j":               filled[api.Job](),
		"GET /api/v1/rules":                filled[api.Page[api.Rule]](),
		"GET /api/v1/rules/r":              filled[api.Rule](),
		"POST /api/v1/rules":               filled[api.Rule](),
		"PUT /api/v1/rules/r":              filled[api.Rule](),
		"POST /api/v1/rules/r/enable":      filled[api.Rule](),
		"POST /api/v1/rules/r/trigger":     filled[api.Run](),
		"GET /api/v1/runs":                 filled[api.Page[api.Run]](),
		"GET /api/v1/runs/counts":          filled[api.RunCounts](),
		"GET /api/v1/runs/x":               filled[api.Run](),
		"GET /api/v1/runs/x/log":           filled[api.Page[api.LogLine]](),
		"POST /api/v1/runs/x/cancel":       filled[api.Run](),
		"POST /api/v1/runs/x/restart":      filled[api.Run](),
		"GET /api/v1/audit":                filled[api.Page[api.AuditEntry]](),
		"DELETE /api/v1/rules/r (problem)": filled[api.Problem](),
		"GET /api/v1/tokens":               filled[api.Page[api.Token]](),
		"POST /api/v1/tokens":              filled[api.NewToken](),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route := r.Method + " " + r.URL.Path
		switch route {
		case "GET /api/v1/events":
			w.Header().Set("Content-Type", "text/event-stream")
			b, _ := json.Marshal(filled[api.Event]())
			fmt.Fprintf(w, "id: 1\nevent: run.log\ndata: %s\n\n", b)
			return
		case "DELETE /api/v1/rules/r", "DELETE /api/v1/tokens/t":
			w.Header().Set("Content-Type", api.ProblemContentType)
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(answers["DELETE /api/v1/rules/r (problem)"])
			return
		}
		v, ok := answers[route]
		if !ok {
			t.Errorf("unexpected call %s", route)
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}))
	t.Cleanup(srv.Close)
	return NewClient(client.New(srv.URL, "t"))
}

func TestClientCleansEveryReplyErrorAndEvent(t *testing.T) {
	c := hostileAgent(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	calls := map[string]func() (any, error){
		"Status":         func() (any, error) { return c.Status(ctx) },
		"Jobs":           func() (any, error) { return c.Jobs(ctx) },
		"Job":            func() (any, error) { return c.Job(ctx, "j") },
		"Rules":          func() (any, error) { return c.Rules(ctx) },
		"Rule":           func() (any, error) { return c.Rule(ctx, "r") },
		"CreateRule":     func() (any, error) { return c.CreateRule(ctx, api.RuleInput{Name: "r"}) },
		"ReplaceRule":    func() (any, error) { return c.ReplaceRule(ctx, "r", api.RuleInput{}) },
		"SetRuleEnabled": func() (any, error) { return c.SetRuleEnabled(ctx, "r", true) },
		"TriggerRule":    func() (any, error) { return c.TriggerRule(ctx, "r", nil) },
		"TriggerRuleWith": func() (any, error) {
			return c.TriggerRuleWith(ctx, "r", api.RunParams{Force: true})
		},
		"Runs":       func() (any, error) { return c.Runs(ctx, api.RunQuery{}) },
		"RunCounts":  func() (any, error) { return c.RunCounts(ctx, api.RunQuery{}) },
		"Run":        func() (any, error) { return c.Run(ctx, "x") },
		"RunLog":     func() (any, error) { return c.RunLog(ctx, "x", 0, 0) },
		"RunLogPage": func() (any, error) { return c.RunLogPage(ctx, "x", api.LogQuery{Cursor: "3"}) },
		"Tokens":     func() (any, error) { return c.Tokens(ctx) },
		"CreateToken": func() (any, error) {
			return c.CreateToken(ctx, api.TokenInput{Name: "t", Role: api.RoleViewer})
		},
		"CancelRun":  func() (any, error) { return c.CancelRun(ctx, "x", "why") },
		"RestartRun": func() (any, error) { return c.RestartRun(ctx, "x", nil) },
		"RestartRunWith": func() (any, error) {
			return c.RestartRunWith(ctx, "x", api.RunParams{Force: true})
		},
		"Audit": func() (any, error) { return c.Audit(ctx, 0, "") },
		"AuditWith": func() (any, error) {
			return c.AuditWith(ctx, api.AuditQuery{Actor: "a", Action: "rule.update", Target: "r"})
		},
		"ReplaceRuleIf": func() (any, error) { return c.ReplaceRuleIf(ctx, "r", api.RuleInput{}, 3) },
		"RunJSON":       func() (any, error) { return c.RunJSON(ctx, "x") },
		"RuleJSON":      func() (any, error) { return c.RuleJSON(ctx, "r") },
	}
	for name, call := range calls {
		got, err := call()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		requireClean(t, name, got)
	}

	err := c.DeleteRule(ctx, "r")
	if client.StatusOf(err) != http.StatusConflict {
		t.Fatalf("DeleteRule: %v, want the agent's 409", err)
	}
	if raw(err.Error()) || !strings.Contains(err.Error(), `\x1b]0;pwned\a`) {
		t.Errorf("DeleteRule's error = %q, want its escapes shown", err.Error())
	}
	err = c.RevokeToken(ctx, "t")
	if client.StatusOf(err) != http.StatusConflict || raw(err.Error()) {
		t.Errorf("RevokeToken's error = %v, want the agent's 409 with its escapes shown", err)
	}

	var events []api.Event
	_ = c.StreamOpened(ctx, "", nil, func(ev api.Event) error {
		events = append(events, ev)
		return nil
	})
	if len(events) != 1 {
		t.Fatalf("the stream brought %d events, want 1", len(events))
	}
	requireClean(t, "Event", events[0])

	// Each method that answers with text from the agent is called above:
	// one added to Client without a case here fails this test.
	tested := map[string]bool{"BaseURL": true, "DeleteRule": true, "RevokeToken": true, "StreamOpened": true}
	for name := range calls {
		tested[name] = true
	}
	ct := reflect.TypeFor[*Client]()
	for i := range ct.NumMethod() {
		if name := ct.Method(i).Name; !tested[name] {
			t.Errorf("Client.%s is not checked for cleaning", name)
		}
	}
}

func TestClientCleansTheBaseURL(t *testing.T) {
	c := NewClient(client.New("http://agent\x1b]0;x\x07", "t"))
	if got := c.BaseURL(); raw(got) {
		t.Errorf("BaseURL() = %q: still raw", got)
	}
}
