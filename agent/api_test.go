package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

func ptr[T any](v T) *T { return &v }

func TestRolesDecideWhatATokenMayDo(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "nightly", Job: "demo", Schedule: "cron(0 3 * * ? *)", Parameters: map[string]string{"duration": "1h"}}); err != nil {
			t.Fatal(err)
		}
		viewer := ta.tokenClient(t, "alice", api.RoleViewer)
		operator := ta.tokenClient(t, "bob", api.RoleOperator)

		// Reads are for everyone.
		for name, c := range map[string]*client.Client{"viewer": viewer, "operator": operator, "admin": ta.admin} {
			if _, err := c.Rules(ctx); err != nil {
				t.Errorf("%s lists rules: %v", name, err)
			}
			if st, err := c.Status(ctx); err != nil {
				t.Errorf("%s reads status: %v", name, err)
			} else if want := map[string]string{"viewer": "viewer", "operator": "operator", "admin": "admin"}[name]; st.Role != want {
				t.Errorf("status role for %s = %q", name, st.Role)
			} else if want := map[string]string{"viewer": "alice", "operator": "bob", "admin": "admin"}[name]; st.Token != want {
				t.Errorf("status token for %s = %q, want %q", name, st.Token, want)
			}
		}
		// A viewer cannot act.
		_, err := viewer.TriggerRule(ctx, "nightly", nil)
		wantStatus(t, err, http.StatusForbidden, "viewer triggers")
		run, err := operator.TriggerRule(ctx, "nightly", nil)
		if err != nil || run.TriggeredBy != "bob" {
			t.Fatalf("operator triggers: %+v %v", run, err)
		}
		_, err = viewer.CancelRun(ctx, run.ID, "")
		wantStatus(t, err, http.StatusForbidden, "viewer cancels")
		_, err = viewer.RestartRun(ctx, run.ID, nil)
		wantStatus(t, err, http.StatusForbidden, "viewer restarts")
		// An operator cannot change rules or tokens.
		_, err = operator.CreateRule(ctx, api.RuleInput{Name: "x", Job: "demo", Schedule: "rate(1 hour)"})
		wantStatus(t, err, http.StatusForbidden, "operator creates a rule")
		wantStatus(t, operator.DeleteRule(ctx, "nightly"), http.StatusForbidden, "operator deletes a rule")
		_, err = operator.SetRuleEnabled(ctx, "nightly", false)
		wantStatus(t, err, http.StatusForbidden, "operator disables a rule")
		_, err = operator.Tokens(ctx)
		wantStatus(t, err, http.StatusForbidden, "operator lists tokens")
		if c, err := operator.CancelRun(ctx, run.ID, "wrong time"); err != nil || c.Status != api.StatusCancelling || c.CancelledBy != "bob" {
			t.Errorf("operator cancels: %+v %v", c, err)
		}
		// No token, a wrong token: 401 with nothing more.
		for _, c := range []*client.Client{client.New(ta.URL(), ""), client.New(ta.URL(), "jb_wrong")} {
			_, err := c.Jobs(ctx)
			wantStatus(t, err, http.StatusUnauthorized, "bad token")
		}
		// Revoked tokens stop working.
		if err := ta.admin.RevokeToken(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		_, err = viewer.Rules(ctx)
		wantStatus(t, err, http.StatusUnauthorized, "revoked token")
		// Everything was audited with the token's name.
		entries, err := ta.admin.Audit(ctx, 100, "")
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, e := range entries.Items {
			actions = append(actions, e.Actor+":"+e.Action)
		}
		for _, want := range []string{"admin:rule.create", "admin:token.create", "bob:rule.trigger", "bob:run.cancel", "admin:token.revoke"} {
			if !contains(actions, want) {
				t.Errorf("audit %v lacks %s", actions, want)
			}
		}
	})
}

func TestRuleValidationListsEveryProblem(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		_, err := ta.admin.CreateRule(ctx, api.RuleInput{
			Name: "bad name!", Job: "secretive", Schedule: "cron(0 0 * * * *)", Timeout: "soon", Overlap: "sometimes",
			Parameters: map[string]string{"count": "many", "mode": "turbo", "colour": "red"},
		})
		wantStatus(t, err, http.StatusBadRequest, "invalid rule")
		locs := problemLocations(err)
		for _, want := range []string{"body.name", "body.schedule", "body.timeout", "body.overlap",
			"body.parameters.password", "body.parameters.count", "body.parameters.mode", "body.parameters.colour"} {
			if !contains(locs, want) {
				t.Errorf("problem lists %v, missing %s (%v)", locs, want, err)
			}
		}
		if !strings.Contains(err.Error(), `day-of-month and day-of-week: one of them must be "?"`) {
			t.Errorf("schedule message not passed on: %v", err)
		}
		_, err = ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "nope", Schedule: "rate(1 hour)"})
		wantStatus(t, err, http.StatusBadRequest, "unknown job")
		if !contains(problemLocations(err), "body.job") || !strings.Contains(err.Error(), `"nope" is not a job of this agent`) {
			t.Errorf("unknown job: %v", err)
		}
		long := strings.Repeat("x", 65)
		_, err = ta.admin.CreateRule(ctx, api.RuleInput{Name: long, Job: "demo", Schedule: "rate(1 hour)"})
		wantStatus(t, err, http.StatusBadRequest, "65-character name")

		// Nothing was stored.
		if rules, _ := ta.admin.Rules(ctx); len(rules) != 0 {
			t.Errorf("invalid rules were stored: %+v", rules)
		}
		// A good rule, then a second with its name, a rename, unknown rules.
		good := api.RuleInput{Name: "nightly", Job: "demo", Schedule: "cron(15 10 ? * 6L *)", Timeout: "30m", Overlap: api.OverlapSkip, Description: "demo"}
		r, err := ta.admin.CreateRule(ctx, good)
		if err != nil {
			t.Fatal(err)
		}
		if r.ScheduleText != "At 10:15 UTC on the last Friday of the month" || len(r.NextFireTimes) != 5 || r.Timeout != "30m0s" || r.Sync.State != "local" {
			t.Errorf("created rule = %+v", r)
		}
		_, err = ta.admin.CreateRule(ctx, good)
		wantStatus(t, err, http.StatusConflict, "duplicate name")
		wantDetail(t, err, `a rule named "nightly" already exists`)
		renamed := good
		renamed.Name = "other"
		_, err = ta.admin.ReplaceRule(ctx, "nightly", renamed)
		wantStatus(t, err, http.StatusBadRequest, "rename by replace")
		_, err = ta.admin.Rule(ctx, "nope")
		wantStatus(t, err, http.StatusNotFound, "unknown rule")
		_, err = ta.admin.ReplaceRule(ctx, "nope", good)
		wantStatus(t, err, http.StatusNotFound, "replace unknown rule")
		_, err = ta.admin.TriggerRule(ctx, "nope", nil)
		wantStatus(t, err, http.StatusNotFound, "trigger unknown rule")
		// Disable, then delete.
		if r, err := ta.admin.SetRuleEnabled(ctx, "nightly", false); err != nil || r.Enabled || len(r.NextFireTimes) != 0 {
			t.Errorf("disable: %+v %v", r, err)
		}
		if err := ta.admin.DeleteRule(ctx, "nightly"); err != nil {
			t.Fatal(err)
		}
		wantStatus(t, ta.admin.DeleteRule(ctx, "nightly"), http.StatusNotFound, "delete twice")
	})
}

func TestSecretsNeverLeave(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		const secret = "hunter2-very-secret"
		r, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "db", Job: "secretive", Schedule: "rate(1 day)", Parameters: map[string]string{"password": secret}})
		if err != nil {
			t.Fatal(err)
		}
		if r.Parameters["password"] != api.MaskedValue {
			t.Errorf("created rule shows the password: %v", r.Parameters)
		}
		// The console sends back what it got: the masked value keeps the secret.
		r.Parameters["count"] = "2"
		if _, err := ta.admin.ReplaceRule(ctx, "db", api.RuleInput{Job: r.Job, Schedule: r.Schedule, Parameters: r.Parameters}); err != nil {
			t.Fatal(err)
		}
		run, err := ta.admin.TriggerRule(ctx, "db", nil)
		if err != nil {
			t.Fatal(err)
		}
		ta.waitRun(t, run.ID, api.StatusSucceeded)
		if got := ta.secret.last(); got["password"] != secret || got["count"] != "2" {
			t.Errorf("the job got %v, want the real password and count 2", got)
		}
		restarted, err := ta.admin.RestartRun(ctx, run.ID, map[string]string{"mode": "fast"})
		if err != nil {
			t.Fatal(err)
		}
		ta.waitRun(t, restarted.ID, api.StatusSucceeded)
		if got := ta.secret.last(); got["password"] != secret || got["mode"] != "fast" || restarted.RestartOf != run.ID || restarted.Trigger != api.TriggerRestart {
			t.Errorf("restart: job got %v, run %+v", got, restarted)
		}
		// Look everywhere a secret could show.
		var seen []string
		add := func(what string, v any) { seen = append(seen, fmt.Sprintf("%s: %+v", what, v)) }
		rules, _ := ta.admin.Rules(ctx)
		add("rules", rules)
		runs, _ := ta.admin.Runs(ctx, api.RunQuery{})
		add("runs", runs)
		for _, id := range []string{run.ID, restarted.ID} {
			one, _ := ta.admin.Run(ctx, id)
			add("run", one)
			lines, _ := ta.admin.RunLog(ctx, id, 0, 0)
			add("log", lines)
		}
		audit, _ := ta.admin.Audit(ctx, 100, "")
		add("audit", audit)
		jobs, _ := ta.admin.Jobs(ctx)
		add("jobs", jobs)
		_, err = ta.admin.CreateRule(ctx, api.RuleInput{Name: "bad", Job: "secretive", Schedule: "nope", Parameters: map[string]string{"password": secret, "extra": secret}})
		add("validation error", err)
		add("agent log", ta.log.String())
		for _, s := range seen {
			if strings.Contains(s, secret) {
				t.Errorf("the secret appears in %s", s)
			}
		}
	})
}

func TestRunPagesStayCorrectWhileRunsArrive(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "echo", Schedule: "rate(1 day)"}); err != nil {
			t.Fatal(err)
		}
		trigger := func(n int) {
			for range n {
				if _, err := ta.admin.TriggerRule(ctx, "r", nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		trigger(25)
		seen := map[string]bool{}
		q := api.RunQuery{Rule: "r", Limit: 10}
		var pages int
		for {
			page, err := ta.admin.Runs(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			for i, r := range page.Items {
				if seen[r.ID] {
					t.Errorf("run %s listed twice", r.ID)
				}
				seen[r.ID] = true
				if i > 0 && r.ID >= page.Items[i-1].ID {
					t.Errorf("page not newest first")
				}
			}
			if pages == 1 {
				trigger(5) // new runs arrive between pages
			}
			if page.NextCursor == "" {
				break
			}
			q.Cursor = page.NextCursor
		}
		if len(seen) != 25 || pages != 3 {
			t.Errorf("walked %d runs in %d pages, want the 25 that existed at the start in 3", len(seen), pages)
		}
		// Filters.
		_, err := ta.admin.Runs(ctx, api.RunQuery{Statuses: []api.RunStatus{"bogus"}})
		wantStatus(t, err, http.StatusBadRequest, "bad status filter")
		failed, err := ta.admin.Runs(ctx, api.RunQuery{Statuses: []api.RunStatus{api.StatusFailed}, Job: "echo"})
		if err != nil || len(failed.Items) != 0 {
			t.Errorf("failed echo runs: %+v %v", failed, err)
		}
	})
}

// The console's status tabs show how many runs of the filter each status
// has: one request answers every status, for the same filter as the list.
func TestRunCountsFollowTheFilter(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		for _, name := range []string{"a", "b"} {
			if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: name, Job: "echo", Schedule: "rate(1 day)"}); err != nil {
				t.Fatal(err)
			}
		}
		var last api.Run
		for range 3 {
			r, err := ta.admin.TriggerRule(ctx, "a", nil)
			if err != nil {
				t.Fatal(err)
			}
			last = r
		}
		if _, err := ta.admin.TriggerRule(ctx, "b", nil); err != nil {
			t.Fatal(err)
		}
		ta.waitRun(t, last.ID, api.StatusSucceeded)
		counts, err := ta.admin.RunCounts(ctx, api.RunQuery{Rule: "a"})
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, st := range api.RunStatuses {
			if _, ok := counts[st]; !ok {
				t.Errorf("counts have no %s: %v", st, counts)
			}
			total += counts[st]
		}
		if total != 3 {
			t.Errorf("runs of rule a: %v, want 3 in all", counts)
		}
		counts, err = ta.admin.RunCounts(ctx, api.RunQuery{Since: time.Now().Add(time.Hour)})
		if err != nil || counts[api.StatusSucceeded]+counts[api.StatusRunning] != 0 {
			t.Errorf("runs since an hour from now: %v %v, want none", counts, err)
		}
		counts, err = ta.admin.RunCounts(ctx, api.RunQuery{Job: "nope"})
		if err != nil || len(counts) != len(api.RunStatuses) {
			t.Errorf("runs of an unknown job: %v %v, want every status at 0", counts, err)
		}
		_, err = ta.admin.RunCounts(ctx, api.RunQuery{Trigger: "bogus"})
		wantStatus(t, err, http.StatusBadRequest, "counts with a bad trigger")
		if locs := problemLocations(err); len(locs) != 1 || locs[0] != "query.trigger" {
			t.Errorf("counts with a bad trigger: problem at %v, want query.trigger", locs)
		}
	})
}

func TestCancelAndRestartThroughTheAPI(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "long", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "1h"}}); err != nil {
			t.Fatal(err)
		}
		run, err := ta.admin.TriggerRule(ctx, "long", map[string]string{"steps": "100"})
		if err != nil || run.Status != api.StatusRunning || run.Parameters["steps"] != "100" {
			t.Fatalf("trigger: %+v %v", run, err)
		}
		_, err = ta.admin.TriggerRule(ctx, "long", map[string]string{"steps": "lots"})
		wantStatus(t, err, http.StatusBadRequest, "trigger with a bad override")
		c, err := ta.admin.CancelRun(ctx, run.ID, "testing")
		if err != nil || c.Status != api.StatusCancelling {
			t.Fatalf("cancel: %+v %v", c, err)
		}
		fin := ta.waitRun(t, run.ID, api.StatusCancelled)
		if fin.CancelledBy != "admin" || fin.CancelReason != "testing" {
			t.Errorf("cancelled run: %+v", fin)
		}
		_, err = ta.admin.CancelRun(ctx, run.ID, "")
		wantStatus(t, err, http.StatusConflict, "cancel a finished run")
		wantDetail(t, err, "run "+run.ID+" has already finished (cancelled)")
		_, err = ta.admin.CancelRun(ctx, "nope", "")
		wantStatus(t, err, http.StatusNotFound, "cancel an unknown run")
		again, err := ta.admin.RestartRun(ctx, run.ID, map[string]string{"duration": "10ms"})
		if err != nil || again.RestartOf != run.ID || again.Parameters["steps"] != "100" {
			t.Fatalf("restart: %+v %v", again, err)
		}
		ta.waitRun(t, again.ID, api.StatusSucceeded)
	})
}

func TestOversizedBodiesAre413(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	body := `{"name":"x","job":"demo","schedule":"rate(1 hour)","description":"` + strings.Repeat("x", 300<<10) + `"}`
	req, _ := http.NewRequest(http.MethodPost, ta.URL()+"/api/v1/rules", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+ta.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("300 KiB rule: %d %s, want 413", resp.StatusCode, b)
	}
}

func TestFailedAuthenticationsAreRateLimitedAndCounted(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	ctx := context.Background()
	bad := client.New(ta.URL(), "jb_guess")
	for i := range 10 {
		_, err := bad.Jobs(ctx)
		wantStatus(t, err, http.StatusUnauthorized, fmt.Sprintf("guess %d", i+1))
	}
	// The address's guesses are now refused; the right token is not.
	_, err := bad.Jobs(ctx)
	wantStatus(t, err, http.StatusTooManyRequests, "a guess after 10 failures")
	if _, err := ta.admin.Jobs(ctx); err != nil {
		t.Errorf("the right token after 10 failures from its address: %v", err)
	}
	resp, err := http.Get(ta.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `jobbridge_auth_failures_total{kind="token"} 11`) {
		t.Errorf("metrics do not count the 11 failures:\n%s", b)
	}
}

func TestMetricsCountRuns(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	ctx := context.Background()
	if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "10ms", "fail": "true"}}); err != nil {
		t.Fatal(err)
	}
	run, _ := ta.admin.TriggerRule(ctx, "r", nil)
	ta.waitRun(t, run.ID, api.StatusFailed)
	want := []string{
		`jobbridge_runs_total{job="demo",status="failed"} 1`,
		`jobbridge_run_duration_seconds_count{job="demo"} 1`,
		`jobbridge_runs_running 0`,
	}
	wait.For(t, 5*time.Second, func() (bool, string) {
		resp, err := http.Get(ta.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(b)
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(body, w)
		}
		return ok, fmt.Sprintf("metrics lack %v:\n%s", want, body)
	})
}

func TestEnableAndWebhookMetrics(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	ctx := context.Background()
	r, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "echo", Schedule: "rate(5 minutes)", Enabled: ptr(false)})
	if err != nil || r.Enabled || len(r.NextFireTimes) != 0 {
		t.Fatalf("create disabled: %+v %v", r, err)
	}
	post := func() (int, string) {
		req, _ := http.NewRequest(http.MethodPost, ta.URL()+"/webhook/run", strings.NewReader(`{"rule":"r","eventId":"e-`+fmt.Sprint(time.Now().UnixNano())+`"}`))
		req.Header.Set("X-Aws-Event-Bridge-Api-Key", "webhook-key-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var wr api.WebhookResponse
		_ = json.NewDecoder(resp.Body).Decode(&wr)
		return resp.StatusCode, wr.RunID
	}
	if code, id := post(); code != http.StatusAccepted || ta.waitRun(t, id, api.StatusSkipped).Error != "skipped: the rule is disabled" {
		t.Errorf("webhook for a disabled rule: %d, want 202 and a skipped run", code)
	}
	r, err = ta.admin.SetRuleEnabled(ctx, "r", true)
	if err != nil || !r.Enabled || len(r.NextFireTimes) != 5 {
		t.Fatalf("enable: %+v %v", r, err)
	}
	if code, id := post(); code != http.StatusAccepted {
		t.Errorf("webhook for the enabled rule: %d, want 202", code)
	} else if run, _ := ta.admin.Run(ctx, id); run.Status == api.StatusSkipped {
		t.Errorf("webhook for the enabled rule recorded %s (%s): the runner must not use a stale rule", run.Status, run.Error)
	}
	resp, err := http.Get(ta.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`jobbridge_webhook_requests_total{code="202"} 2`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
