package agent_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/shared/api"
)

// The agent's side of "hold up under abuse and faults": what it refuses to
// store, what it acknowledges rather than have retried, and the settings
// that place it behind a proxy.

func TestConfigRefusesAShortWebhookKeyAndBadProxies(t *testing.T) {
	t.Parallel()
	cfg := agent.Config{EventBridge: agent.EventBridgeConfig{APIKey: "k"}, TrustedProxies: "10.0.0.0/8, proxy.example.com", MaxConnsPerAddress: -1}
	err := cfg.Validate()
	for _, want := range []string{
		"JOBBRIDGE_EB_API_KEY: too short to be safe (at least 16 characters)",
		`JOBBRIDGE_TRUSTED_PROXIES: "proxy.example.com" is neither a CIDR`,
		"JOBBRIDGE_MAX_CONNS_PER_ADDRESS: -1 is negative",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v\nwant it to say %q", err, want)
		}
	}
	ok := agent.Config{EventBridge: agent.EventBridgeConfig{APIKey: "0123456789abcdef"}, TrustedProxies: "10.0.0.0/8,192.0.2.1, 2001:db8::/32"}
	if err := ok.Validate(); err != nil {
		t.Errorf("a 16-character key and good proxies: %v", err)
	}
}

// webhook posts a delivery with the agent's key and returns the status and
// the answer.
func (ta *testAgent) webhook(t *testing.T, body string) (int, api.WebhookResponse) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, ta.URL()+"/webhook/run", strings.NewReader(body))
	req.Header.Set("X-Aws-Event-Bridge-Api-Key", "webhook-key-0123456789")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var wr api.WebhookResponse
	_ = json.NewDecoder(resp.Body).Decode(&wr)
	return resp.StatusCode, wr
}

func TestADeliveryForADisabledRuleIsRecordedSkipped(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "off", Job: "demo", Schedule: "rate(1 hour)", Enabled: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		const delivery = `{"rule":"off","eventId":"ev-disabled","time":"2026-11-27T03:00:00Z"}`
		code, first := ta.webhook(t, delivery)
		if code != http.StatusAccepted || first.RunID == "" {
			t.Fatalf("delivery for a disabled rule: %d %+v, want 202 with a run (EventBridge retries anything else)", code, first)
		}
		run, err := ta.admin.Run(ctx, first.RunID)
		if err != nil || run.Status != api.StatusSkipped || run.Error != "skipped: the rule is disabled" || run.EventID != "ev-disabled" || run.StartedAt != nil {
			t.Errorf("recorded %+v (%v), want a skipped run saying the rule is disabled", run, err)
		}
		// A retry, even after the rule is enabled again, is the same delivery.
		if code, again := ta.webhook(t, delivery); code != http.StatusOK || !again.Duplicate || again.RunID != first.RunID {
			t.Errorf("retry: %d %+v, want 200 duplicate of %s", code, again, first.RunID)
		}
		if _, err := ta.admin.SetRuleEnabled(ctx, "off", true); err != nil {
			t.Fatal(err)
		}
		if code, late := ta.webhook(t, delivery); code != http.StatusOK || !late.Duplicate || late.RunID != first.RunID {
			t.Errorf("retry after the rule was enabled: %d %+v, want 200 duplicate of %s (it must never run)", code, late, first.RunID)
		}
		page, err := ta.admin.Runs(ctx, api.RunQuery{Rule: "off"})
		if err != nil || len(page.Items) != 1 {
			t.Errorf("runs of the rule: %+v %v, want the one skipped run", page.Items, err)
		}
	})
}

func TestRuleNamesOfOnlyDotsAreRefused(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	for _, name := range []string{".", "..", "..."} {
		_, err := ta.admin.CreateRule(context.Background(), api.RuleInput{Name: name, Job: "demo", Schedule: "rate(1 hour)"})
		wantStatus(t, err, http.StatusBadRequest, "rule named "+name)
		if !contains(problemLocations(err), "body.name") {
			t.Errorf("rule named %q: %v, want the problem at body.name", name, err)
		}
	}
	if _, err := ta.admin.CreateRule(context.Background(), api.RuleInput{Name: "v1.2", Job: "demo", Schedule: "rate(1 hour)"}); err != nil {
		t.Errorf("a name with dots and more: %v", err)
	}
}

func TestAnInvalidCursorIsRefused(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	ctx := context.Background()
	if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 hour)", Parameters: map[string]string{"duration": "1ms"}}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := ta.admin.TriggerRule(ctx, "r", nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, cursor := range []string{"garbage", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "01A23456-0000-7000-8000-000000000000"} {
		_, err := ta.admin.Runs(ctx, api.RunQuery{Cursor: cursor})
		wantStatus(t, err, http.StatusBadRequest, "GET /runs?cursor="+cursor)
		if !contains(problemLocations(err), "query.cursor") {
			t.Errorf("GET /runs?cursor=%s: %v, want the problem at query.cursor", cursor, err)
		}
		_, err = ta.admin.Audit(ctx, 10, cursor)
		wantStatus(t, err, http.StatusBadRequest, "GET /audit?cursor="+cursor)
		if !contains(problemLocations(err), "query.cursor") {
			t.Errorf("GET /audit?cursor=%s: %v, want the problem at query.cursor", cursor, err)
		}
	}
	// The cursors the API hands out still page.
	first, err := ta.admin.Runs(ctx, api.RunQuery{Limit: 2})
	if err != nil || first.NextCursor == "" {
		t.Fatalf("first page: %+v %v", first, err)
	}
	next, err := ta.admin.Runs(ctx, api.RunQuery{Limit: 2, Cursor: first.NextCursor})
	if err != nil || len(next.Items) != 1 {
		t.Errorf("second page: %+v %v, want the third run", next.Items, err)
	}
}

func TestCancelReasonsAreBoundedPlainText(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	ctx := context.Background()
	if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "long", Job: "demo", Schedule: "rate(1 hour)", Parameters: map[string]string{"duration": "1h"}}); err != nil {
		t.Fatal(err)
	}
	run, err := ta.admin.TriggerRule(ctx, "long", nil)
	if err != nil {
		t.Fatal(err)
	}
	for what, reason := range map[string]string{
		"250 KB":       strings.Repeat("x", 250_000),
		"513 bytes":    strings.Repeat("x", 513),
		"escape codes": "done \x1b[2J\x1b[31mred",
		"a line break": "first\nsecond",
	} {
		_, err := ta.admin.CancelRun(ctx, run.ID, reason)
		wantStatus(t, err, http.StatusBadRequest, "cancel with a reason of "+what)
		if !contains(problemLocations(err), "body.reason") {
			t.Errorf("cancel with a reason of %s: %v, want the problem at body.reason", what, err)
		}
	}
	if r, _ := ta.admin.Run(ctx, run.ID); r.Status != api.StatusRunning || r.CancelReason != "" {
		t.Errorf("after refused cancels the run is %s with reason %q, want running and none", r.Status, r.CancelReason)
	}
	reason := strings.Repeat("é", 256) // 512 bytes
	if _, err := ta.admin.CancelRun(ctx, run.ID, reason); err != nil {
		t.Fatalf("cancel with a reason of 512 bytes: %v", err)
	}
	if r := ta.waitRun(t, run.ID, api.StatusCancelled); r.CancelReason != reason {
		t.Errorf("stored reason %q", r.CancelReason)
	}
}

func TestRuleDescriptionsArePlainText(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	_, err := ta.admin.CreateRule(context.Background(), api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 hour)", Description: "nice \x1b]0;owned\x07"})
	wantStatus(t, err, http.StatusBadRequest, "a description with escape codes")
	if !contains(problemLocations(err), "body.description") {
		t.Errorf("a description with escape codes: %v, want the problem at body.description", err)
	}
}

func TestTheAgentTrustsOnlyItsProxies(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite", func(c *agent.Config) { c.TrustedProxies = "127.0.0.1/32" })
	post := func(xff string) int {
		req, _ := http.NewRequest(http.MethodGet, ta.URL()+"/api/v1/runs", nil)
		req.Header.Set("Authorization", "Bearer jb_wrong")
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for i := range 10 {
		if code := post("198.51.100.7"); code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, code)
		}
	}
	if code := post("198.51.100.7"); code != http.StatusTooManyRequests {
		t.Errorf("the client that failed 10 times: %d, want 429", code)
	}
	if code := post("198.51.100.8"); code != http.StatusUnauthorized {
		t.Errorf("another client behind the same proxy: %d, want 401 (its own count)", code)
	}
	if _, err := ta.admin.Runs(context.Background(), api.RunQuery{}); err != nil {
		t.Errorf("the admin through the proxy: %v", err)
	}
}
