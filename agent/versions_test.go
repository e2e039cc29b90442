package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// call sends one request to the agent as the admin and returns the
// answer's status, headers and body.
func (ta *testAgent) call(t *testing.T, method, path string, header map[string]string, body string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, ta.URL()+"/api/v1"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ta.token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// wantProblem checks an error answer: its status, problem+json, its type
// (when given) and that its text says each of says.
func wantProblem(t *testing.T, what string, status int, h http.Header, body []byte, wantStatus int, typ string, says ...string) api.Problem {
	t.Helper()
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil || status != wantStatus || h.Get("Content-Type") != api.ProblemContentType {
		t.Fatalf("%s: got %d %s %s, want %d problem+json", what, status, h.Get("Content-Type"), body, wantStatus)
	}
	if typ != "" && p.Type != typ {
		t.Errorf("%s: problem type %q, want %q", what, p.Type, typ)
	}
	for _, s := range says {
		if !bytes.Contains(body, []byte(s)) {
			t.Errorf("%s: answer %s does not say %q", what, body, s)
		}
	}
	return p
}

func TestRuleVersionsETagsAndIfMatch(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		const secret = "s3cret-never-shown"
		created, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "db", Job: "secretive", Schedule: "rate(1 day)",
			Description: "first", Timeout: "5m", Parameters: map[string]string{"password": secret, "count": "1", "mode": "fast"}})
		if err != nil {
			t.Fatal(err)
		}
		if created.Version != 1 {
			t.Fatalf("a new rule is at version %d, want 1", created.Version)
		}

		// GET gives the version and the ETag; PUT takes that body back as
		// it is, derived fields and masked secret included.
		status, h, got := ta.call(t, http.MethodGet, "/rules/db", nil, "")
		if status != http.StatusOK || h.Get("ETag") != `"1"` {
			t.Fatalf("GET: %d ETag %q, want 200 \"1\"", status, h.Get("ETag"))
		}
		var doc map[string]any
		if err := json.Unmarshal(got, &doc); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"version", "createdAt", "updatedAt", "nextFireTimes", "done", "scheduleText", "sync", "health"} {
			if _, ok := doc[f]; !ok {
				t.Fatalf("GET lacks %s, which the round trip must carry: %s", f, got)
			}
		}
		doc["description"] = "second"
		doc["version"] = 99 // ignored: If-Match says the version
		body, _ := json.Marshal(doc)
		status, h, got = ta.call(t, http.MethodPut, "/rules/db", map[string]string{"If-Match": `"1"`}, string(body))
		if status != http.StatusOK || h.Get("ETag") != `"2"` {
			t.Fatalf("PUT of GET's body: %d ETag %q %s, want 200 \"2\"", status, h.Get("ETag"), got)
		}
		var put api.Rule
		if err := json.Unmarshal(got, &put); err != nil || put.Version != 2 || put.Description != "second" || put.Parameters["password"] != api.MaskedValue {
			t.Fatalf("PUT answered %s (%v)", got, err)
		}

		// The other editor still has version 1: refused, the rule unchanged.
		status, h, got = ta.call(t, http.MethodPut, "/rules/db", map[string]string{"If-Match": `"1"`}, string(body))
		wantProblem(t, "stale PUT", status, h, got, http.StatusPreconditionFailed, api.ProblemStale, "version 2", `not 1`)
		_, err = ta.admin.ReplaceRuleIf(ctx, "db", api.RuleInput{Job: "secretive", Schedule: "rate(2 days)"}, 1)
		if !errors.Is(err, client.ErrStale) || client.ProblemTypeOf(err) != api.ProblemStale || client.StatusOf(err) != http.StatusPreconditionFailed {
			t.Fatalf("ReplaceRuleIf at a stale version: %v, want ErrStale", err)
		}
		if r, _ := ta.admin.Rule(ctx, "db"); r.Schedule != "rate(1 day)" || r.Version != 2 {
			t.Fatalf("a stale replace changed the rule: %+v", r)
		}
		status, h, got = ta.call(t, http.MethodPut, "/rules/db", map[string]string{"If-Match": `*`}, string(body))
		if status != http.StatusOK || h.Get("ETag") != `"3"` {
			t.Fatalf("PUT If-Match *: %d %q %s", status, h.Get("ETag"), got)
		}
		// Only what cannot be read is a 400 (a weak tag, "three" or "0" is a
		// 412: TestIfMatchIsAListOfETagsComparedStrongly).
		for _, bad := range []string{`3`, `"3`} {
			status, h, got = ta.call(t, http.MethodPut, "/rules/db", map[string]string{"If-Match": bad}, string(body))
			p := wantProblem(t, "If-Match "+bad, status, h, got, http.StatusBadRequest, "", "If-Match")
			if len(p.Errors) != 1 || p.Errors[0].Location != "header.If-Match" {
				t.Errorf("If-Match %s: errors %+v, want one at header.If-Match", bad, p.Errors)
			}
		}

		// Enable/disable and delete take If-Match too.
		_, err = ta.admin.SetRuleEnabledIf(ctx, "db", false, 2)
		if !errors.Is(err, client.ErrStale) {
			t.Fatalf("disable at a stale version: %v", err)
		}
		dis, err := ta.admin.SetRuleEnabledIf(ctx, "db", false, 3)
		if err != nil || dis.Enabled || dis.Version != 4 {
			t.Fatalf("disable at the current version: %+v, %v", dis, err)
		}
		status, h, _ = ta.call(t, http.MethodPost, "/rules/db/enable", nil, "")
		if status != http.StatusOK || h.Get("ETag") != `"5"` {
			t.Fatalf("enable: %d ETag %q, want \"5\"", status, h.Get("ETag"))
		}
		if err := ta.admin.DeleteRuleIf(ctx, "db", 4); !errors.Is(err, client.ErrStale) || !strings.Contains(err.Error(), "at version 5") {
			t.Fatalf("delete at a stale version: %v", err)
		}

		// The secret kept its stored value through all of it.
		run, err := ta.admin.TriggerRule(ctx, "db", nil)
		if err != nil {
			t.Fatal(err)
		}
		ta.waitRun(t, run.ID, api.StatusSucceeded)
		if p := ta.secret.last(); p["password"] != secret {
			t.Fatalf("the job got password %q after PUTs of masked bodies", p["password"])
		}
		if err := ta.admin.DeleteRuleIf(ctx, "db", 5); err != nil {
			t.Fatal(err)
		}
		if err := ta.admin.DeleteRuleIf(ctx, "db", 5); client.StatusOf(err) != http.StatusNotFound {
			t.Fatalf("delete of a deleted rule: %v, want 404", err)
		}
	})
}

func TestPatchRuleIsAMergePatch(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		const secret = "patch-s3cret"
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "db", Job: "secretive", Schedule: "rate(1 day)",
			Description: "first", Timeout: "5m", Overlap: api.OverlapSkip,
			Parameters: map[string]string{"password": secret, "count": "1", "mode": "fast"}}); err != nil {
			t.Fatal(err)
		}
		events := ruleEvents(t, ta.admin)

		r, err := ta.admin.PatchRule(ctx, "db", map[string]any{
			"description": "patched",
			"parameters":  map[string]any{"count": "3", "mode": nil, "password": api.MaskedValue},
			"timeout":     nil,
		}, 1)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"password": api.MaskedValue, "count": "3"}
		if r.Version != 2 || r.Description != "patched" || !reflect.DeepEqual(r.Parameters, want) || r.Timeout != "" ||
			r.Schedule != "rate(1 day)" || r.Overlap != api.OverlapSkip || !r.Enabled {
			t.Fatalf("patched rule: %+v", r)
		}
		if ev := <-events; ev.Type != api.EventRuleChanged || ev.Rule == nil || ev.Rule.Description != "patched" {
			t.Fatalf("the patch was announced as %+v", ev)
		}

		// application/json is taken too, and a stale If-Match refused.
		status, h, got := ta.call(t, http.MethodPatch, "/rules/db", map[string]string{"If-Match": `"2"`}, `{"overlap": null}`)
		if status != http.StatusOK || h.Get("ETag") != `"3"` || !strings.Contains(string(got), `"overlap":"allow"`) {
			t.Fatalf("PATCH overlap null: %d %q %s, want the default allow at version 3", status, h.Get("ETag"), got)
		}
		status, h, got = ta.call(t, http.MethodPatch, "/rules/db", map[string]string{"If-Match": `"2"`,
			"Content-Type": "application/merge-patch+json"}, `{"description": "late"}`)
		wantProblem(t, "stale PATCH", status, h, got, http.StatusPreconditionFailed, api.ProblemStale, "version 3")
		_, err = ta.admin.PatchRule(ctx, "db", map[string]any{"description": "late"}, 2)
		if !errors.Is(err, client.ErrStale) {
			t.Fatalf("PatchRule at a stale version: %v", err)
		}

		for _, c := range []struct {
			name, ct, body string
			status         int
			locs           []string
			says           string
		}{
			{"unknown fields", "", `{"description": "x", "bogus": 1, "schedul": "rate(1 hour)"}`, 400, []string{"body.bogus", "body.schedul"}, "is not a field of a rule"},
			{"a wrong type", "", `{"schedule": 5}`, 400, []string{"body.schedule"}, "not a string"},
			{"a required field reset", "", `{"job": null, "schedule": null}`, 400, []string{"body.job", "body.schedule"}, "cannot be null"},
			{"a bad parameter", "", `{"parameters": {"count": "many"}}`, 400, []string{"body.parameters.count"}, ""},
			{"not an object", "", `[1, 2]`, 400, []string{"body"}, "is a JSON object, not an array"},
			{"not JSON", "", `{"description": `, 400, []string{"body"}, "is not JSON"},
			{"another rule's name", "", `{"name": "other"}`, 400, []string{"body.name"}, "differs"},
			{"another media type", "text/plain", `{"description": "x"}`, 415, nil, "application/merge-patch+json"},
		} {
			hdr := map[string]string{}
			if c.ct != "" {
				hdr["Content-Type"] = c.ct
			}
			status, h, got := ta.call(t, http.MethodPatch, "/rules/db", hdr, c.body)
			p := wantProblem(t, c.name, status, h, got, c.status, "", c.says)
			var locs []string
			for _, e := range p.Errors {
				locs = append(locs, e.Location)
			}
			slices.Sort(locs)
			if c.locs != nil && !slices.Equal(locs, c.locs) {
				t.Errorf("%s: errors at %v, want %v (%s)", c.name, locs, c.locs, got)
			}
			if bytes.Contains(got, []byte(secret)) {
				t.Errorf("%s: the answer shows the secret: %s", c.name, got)
			}
		}
		if r, _ := ta.admin.Rule(ctx, "db"); r.Version != 3 || r.Description != "patched" {
			t.Fatalf("refused patches changed the rule: %+v", r)
		}
		status, h, got = ta.call(t, http.MethodPatch, "/rules/nope", nil, `{"description": "x"}`)
		wantProblem(t, "PATCH of a missing rule", status, h, got, http.StatusNotFound, "")

		run, err := ta.admin.TriggerRule(ctx, "db", nil)
		if err != nil {
			t.Fatal(err)
		}
		ta.waitRun(t, run.ID, api.StatusSucceeded)
		if p := ta.secret.last(); p["password"] != secret || p["count"] != "3" || p["mode"] != "safe" {
			t.Fatalf("after the patches the job got %v, want the stored password, count 3 and mode's default", p)
		}
	})
}

// ruleEvents streams the agent's rule events until the test ends.
func ruleEvents(t *testing.T, c *client.Client) <-chan api.Event {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	out := make(chan api.Event, 16)
	opened := make(chan struct{})
	go func() {
		_ = c.StreamOpened(ctx, "", func() { close(opened) }, func(ev api.Event) error {
			if strings.HasPrefix(ev.Type, "rule.") {
				out <- ev
			}
			return nil
		})
	}()
	select {
	case <-opened:
	case <-time.After(10 * time.Second):
		t.Fatal("the event stream did not open")
	}
	return out
}

func TestAuditKeepsRuleChangesBeforeAndAfter(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		const secret = "audit-s3cret"
		alice := ta.tokenClient(t, "alice", api.RoleAdmin)
		viewer := ta.tokenClient(t, "vic", api.RoleViewer)
		if _, err := alice.CreateRule(ctx, api.RuleInput{Name: "db", Job: "secretive", Schedule: "rate(1 day)",
			Parameters: map[string]string{"password": secret, "count": "1"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := ta.admin.PatchRule(ctx, "db", map[string]any{"parameters": map[string]any{"password": "new-" + secret, "count": "2"}}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.SetRuleEnabled(ctx, "db", false); err != nil {
			t.Fatal(err)
		}
		if _, err := alice.CreateRule(ctx, api.RuleInput{Name: "other", Job: "secretive", Schedule: "rate(1 day)",
			Parameters: map[string]string{"password": secret}}); err != nil {
			t.Fatal(err)
		}
		if err := alice.DeleteRule(ctx, "other"); err != nil {
			t.Fatal(err)
		}

		// The viewer reads the trail, filtered exactly, newest first.
		page, err := viewer.AuditWith(ctx, api.AuditQuery{Target: "db"})
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range page.Items {
			actions = append(actions, e.Actor+" "+e.Action)
		}
		if want := []string{"alice rule.disable", "admin rule.update", "alice rule.create"}; !slices.Equal(actions, want) {
			t.Fatalf("audit of db: %v, want %v", actions, want)
		}
		byActor, err := viewer.AuditWith(ctx, api.AuditQuery{Actor: "alice", Action: "rule.create"})
		if err != nil {
			t.Fatal(err)
		}
		if len(byActor.Items) != 2 || byActor.Items[0].Target != "other" || byActor.Items[1].Target != "db" {
			t.Fatalf("alice's creates: %+v", byActor.Items)
		}
		if none, _ := viewer.AuditWith(ctx, api.AuditQuery{Actor: "alic"}); len(none.Items) != 0 {
			t.Fatalf("actor matches exactly: alic lists %+v", none.Items)
		}
		p1, err := viewer.AuditWith(ctx, api.AuditQuery{Actor: "alice", Limit: 2})
		if err != nil || len(p1.Items) != 2 || p1.NextCursor == "" {
			t.Fatalf("first page of alice's: %+v, %v", p1, err)
		}
		p2, err := viewer.AuditWith(ctx, api.AuditQuery{Actor: "alice", Limit: 2, Cursor: p1.NextCursor})
		if err != nil || len(p2.Items) != 2 || p2.Items[0].ID >= p1.Items[1].ID {
			t.Fatalf("second page of alice's: %+v, %v", p2, err)
		}

		rule := func(raw json.RawMessage) api.RuleInput {
			t.Helper()
			var in api.RuleInput
			if err := json.Unmarshal(raw, &in); err != nil {
				t.Fatalf("audit before/after %s: %v", raw, err)
			}
			return in
		}
		create, update, disable := page.Items[2], page.Items[1], page.Items[0]
		if create.Before != nil || rule(create.After).Parameters["count"] != "1" {
			t.Errorf("rule.create: before %s after %s", create.Before, create.After)
		}
		b, a := rule(update.Before), rule(update.After)
		if b.Parameters["count"] != "1" || a.Parameters["count"] != "2" ||
			b.Parameters["password"] != api.MaskedValue || a.Parameters["password"] != api.MaskedValue {
			t.Errorf("rule.update: before %s after %s", update.Before, update.After)
		}
		if !strings.HasPrefix(update.Detail, "patch: ") || !strings.HasSuffix(update.Detail, "; secret password changed") {
			t.Errorf("rule.update's detail %q does not say it was a patch that changed the secret password", update.Detail)
		}
		if !*rule(disable.Before).Enabled || *rule(disable.After).Enabled {
			t.Errorf("rule.disable: before %s after %s", disable.Before, disable.After)
		}
		gone, _ := viewer.AuditWith(ctx, api.AuditQuery{Action: "rule.delete"})
		if len(gone.Items) != 1 || gone.Items[0].After != nil || rule(gone.Items[0].Before).Name != "other" {
			t.Errorf("rule.delete: %+v", gone.Items)
		}
		all, _ := viewer.AuditWith(ctx, api.AuditQuery{Limit: 1000})
		raw, _ := json.Marshal(all)
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the audit trail shows a secret: %s", raw)
		}
	})
}

// rules apply writes each rule as its own endpoint would: versions move,
// and the audit trail keeps each write's before and after.
func TestApplyKeepsVersionsAndBeforeAfter(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	ctx := context.Background()
	set := func(desc string, rules ...string) api.RulesApply {
		var in api.RulesApply
		for _, name := range rules {
			in.Rules = append(in.Rules, api.RuleInput{Name: name, Job: "secretive", Schedule: "rate(1 day)", Description: desc,
				Parameters: map[string]string{"password": "apply-s3cret"}})
		}
		in.Prune = true
		return in
	}
	if _, err := ta.admin.ApplyRules(ctx, set("one", "a", "b")); err != nil {
		t.Fatal(err)
	}
	if _, err := ta.admin.ApplyRules(ctx, set("two", "a")); err != nil {
		t.Fatal(err)
	}
	a, err := ta.admin.Rule(ctx, "a")
	if err != nil || a.Version != 2 || a.Description != "two" {
		t.Fatalf("rule a after two applies: %+v, %v; want version 2", a, err)
	}
	page, err := ta.admin.AuditWith(ctx, api.AuditQuery{Target: "a", Action: "rule.update"})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("a's updates: %+v, %v", page.Items, err)
	}
	up := page.Items[0]
	var before, after api.RuleInput
	if json.Unmarshal(up.Before, &before) != nil || json.Unmarshal(up.After, &after) != nil ||
		before.Description != "one" || after.Description != "two" || !strings.HasPrefix(up.Detail, "apply: ") ||
		after.Parameters["password"] != api.MaskedValue {
		t.Fatalf("a's update by apply: %+v", up)
	}
	gone, err := ta.admin.AuditWith(ctx, api.AuditQuery{Target: "b", Action: "rule.delete"})
	if err != nil || len(gone.Items) != 1 || gone.Items[0].Before == nil || gone.Items[0].After != nil {
		t.Fatalf("b's delete by apply: %+v, %v", gone.Items, err)
	}
}
