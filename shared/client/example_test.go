package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// Trigger a rule now with a parameter of this run's own, and tell a rule that
// does not exist from other failures by the answer's status. The agent here
// is a stand-in that answers as the real one does; a program finds a local
// agent's address and admin token with shared/localagent.
func ExampleClient_TriggerRule() {
	agent := httptest.NewServer(standIn())
	defer agent.Close()
	ctx := context.Background()
	c := client.New(agent.URL, "operator-token")

	run, err := c.TriggerRule(ctx, "nightly", map[string]string{"duration": "5s"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(run.ID, run.Rule, run.Job, run.Status, run.Parameters)

	_, err = c.TriggerRule(ctx, "weekly", nil)
	if client.StatusOf(err) == http.StatusNotFound {
		fmt.Println("no such rule:", err)
	}
	// Output:
	// 019ad1e2-7c00-7000-8000-000000000001 nightly demo running map[duration:5s]
	// no such rule: agent answered 404: rule not found
}

// standIn answers POST /api/v1/rules/nightly/trigger with a started run (202),
// and a trigger of any other rule with a 404 problem, as the agent would.
func standIn() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/rules/nightly/trigger", func(w http.ResponseWriter, r *http.Request) {
		var in api.RunParams
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(api.Run{ID: "019ad1e2-7c00-7000-8000-000000000001", Rule: "nightly", Job: "demo",
			Status: api.StatusRunning, Trigger: api.TriggerManual, Parameters: in.Parameters})
	})
	mux.HandleFunc("POST /api/v1/rules/{name}/trigger", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", api.ProblemContentType)
		w.WriteHeader(http.StatusNotFound)
		_ = json.NewEncoder(w).Encode(api.Problem{Title: "Not Found", Status: http.StatusNotFound, Detail: "rule not found"})
	})
	return mux
}

// Change a rule only if nobody changed it since it was read: the version
// read goes with the change as If-Match, and an answer matching ErrStale
// says someone else came first (read it again, or send the change with
// version 0 to overwrite theirs). The stand-in agent holds the rule at
// version 4, as if someone changed it after it was read at 3.
func ExampleClient_PatchRule() {
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-Match") != `"4"` {
			w.Header().Set("Content-Type", api.ProblemContentType)
			w.WriteHeader(http.StatusPreconditionFailed)
			_ = json.NewEncoder(w).Encode(api.Problem{Type: api.ProblemStale, Status: http.StatusPreconditionFailed,
				Detail: `rule "nightly" has changed since it was read: it is at version 4, not 3 (ETag "4"); reload it and try again`})
			return
		}
		w.Header().Set("ETag", `"5"`)
		_ = json.NewEncoder(w).Encode(api.Rule{Name: "nightly", Description: "patched", Version: 5})
	}))
	defer agent.Close()
	ctx := context.Background()
	c := client.New(agent.URL, "admin-token")

	patch := map[string]any{"description": "patched", "timeout": nil}
	_, err := c.PatchRule(ctx, "nightly", patch, 3)
	if errors.Is(err, client.ErrStale) {
		fmt.Println("stale:", err)
	}
	r, err := c.PatchRule(ctx, "nightly", patch, 4)
	fmt.Println(r.Description, r.Version, err)
	// Output:
	// stale: agent answered 412: rule "nightly" has changed since it was read: it is at version 4, not 3 (ETag "4"); reload it and try again
	// patched 5 <nil>
}
