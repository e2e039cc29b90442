package agent_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
	"github.com/jobbridge/jobbridge/shared/api"
)

// writeJobsFile writes text as dir/jobs.yaml and returns its path.
func writeJobsFile(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "jobs.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeProgram writes an executable shell script and returns its path.
func writeProgram(t *testing.T, dir, name, script string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// A jobs file with mistakes stops the agent before it serves, naming the
// setting and every problem at its line, a clash with a built-in job among
// them.
func TestAJobsFileWithMistakesStopsTheAgent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeJobsFile(t, dir, `jobs:
  - id: demo
    command: [/bin/true]
  - id: leak
    command: [/bin/true]
    env: [JOBBRIDGE_ADMIN_TOKEN]
`)
	cfg := testConfig(t)
	cfg.JobsFile = path
	a, err := agent.New(context.Background(), cfg, nil, func(r *jobs.Registry, env agent.Env) error {
		return builtin.Register(r, builtin.Options{Egress: env.Egress})
	})
	if err == nil {
		a.Store().Close()
		t.Fatal("the agent started with a bad jobs file")
	}
	for _, want := range []string{
		"JOBBRIDGE_JOBS_FILE: the jobs file has 2 problems:\n",
		path + `:2: jobs[0].id: "demo" is a job built into this agent already`,
		path + ":6: jobs[1].env[0]: JOBBRIDGE_ADMIN_TOKEN: the agent's own settings",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("agent.New = %v\nwant it to say %q", err, want)
		}
	}
	cfg.JobsFile = filepath.Join(dir, "absent.yaml")
	if _, err := agent.New(context.Background(), cfg, nil, nil); err == nil || !strings.Contains(err.Error(), "JOBBRIDGE_JOBS_FILE: read the jobs file: ") {
		t.Errorf("agent.New with a missing jobs file = %v, want it refused naming the setting", err)
	}
}

// startFileAgent starts an agent on the jobs file text, after the
// built-in jobs.
func startFileAgent(t *testing.T, text string, tweak ...func(*agent.Config)) (ta *testAgent, path string) {
	t.Helper()
	path = writeJobsFile(t, t.TempDir(), text)
	return startAgent(t, "sqlite", append([]func(*agent.Config){func(c *agent.Config) { c.JobsFile = path }}, tweak...)...), path
}

// The file's jobs are listed like any other, with their metadata, kind and
// the line that declares them; a secret default is not shown back.
func TestTheJobsFilesJobsAreListed(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	prog := writeProgram(t, dir, "backup", "exit 0\n")
	ta, path := startFileAgent(t, `jobs:
  - id: nightly-backup
    description: Dumps the database to the backup bucket.
    command: ["`+prog+`", "--verbose"]
    killGrace: 10s
    params:
      - {name: target, type: string, required: true, description: Where to.}
      - {name: token, type: string, secret: true, default: from-the-file}
      - {name: mode, type: enum, choices: [full, incremental], default: full}
  - id: ping-partner
    description: Tells the partner we are alive.
    http: {method: POST, url: "https://partner.example/ping", headers: {X-From: jobbridge}}
    params:
      - {name: bearer_token, type: string, secret: true}
`)
	ctx := context.Background()
	list, err := ta.admin.Jobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]api.Job{}
	for _, j := range list {
		byID[j.ID] = j
	}
	backup, ping := byID["nightly-backup"], byID["ping-partner"]
	if backup.Kind != "command" || backup.Source != path+":2" || backup.Description != "Dumps the database to the backup bucket." {
		t.Errorf("nightly-backup = %+v, want kind command, source %s:2 and its description", backup, path)
	}
	if ping.Kind != "http" || ping.Source != path+":10" {
		t.Errorf("ping-partner = %+v, want kind http, source %s:10", ping, path)
	}
	if demo := byID["demo"]; demo.Kind != "" || demo.Source != "" {
		t.Errorf("the demo job, built in, says kind %q source %q; want neither", demo.Kind, demo.Source)
	}
	want := []api.Param{
		{Name: "target", Type: "string", Required: true, Description: "Where to."},
		{Name: "token", Type: "string", Secret: true, Default: api.MaskedValue},
		{Name: "mode", Type: "enum", Choices: []string{"full", "incremental"}, Default: "full"},
	}
	if len(backup.Parameters) != len(want) {
		t.Fatalf("nightly-backup's parameters = %+v, want %+v", backup.Parameters, want)
	}
	for i, p := range backup.Parameters {
		w := want[i]
		if p.Name != w.Name || p.Type != w.Type || p.Required != w.Required || p.Secret != w.Secret || p.Default != w.Default ||
			p.Description != w.Description || strings.Join(p.Choices, ",") != strings.Join(w.Choices, ",") {
			t.Errorf("parameter %d = %+v, want %+v", i, p, w)
		}
	}
	one, err := ta.admin.Job(ctx, "ping-partner")
	if err != nil || one.Kind != "http" || one.Source != path+":10" || len(one.Parameters) != 1 || !one.Parameters[0].Secret {
		t.Errorf("GET /jobs/ping-partner = %+v, %v", one, err)
	}
}

// A command job of the file runs through the agent: its parameters reach
// the program as JOBBRIDGE_PARAM_* variables, the variables its env lists
// come through, the agent's own settings do not, and a secret parameter is
// masked in the log.
func TestACommandJobFromTheJobsFileRuns(t *testing.T) {
	// Not parallel: it sets the agent's environment.
	t.Setenv("JOBS_FILE_TEST_PROFILE", "backups")
	t.Setenv("JOBS_FILE_TEST_UNLISTED", "not-for-jobs")
	dir := t.TempDir()
	prog := writeProgram(t, dir, "report",
		`echo "args=$* target=$JOBBRIDGE_PARAM_TARGET mode=$JOBBRIDGE_PARAM_MODE token=$JOBBRIDGE_PARAM_TOKEN profile=$JOBS_FILE_TEST_PROFILE unlisted=$JOBS_FILE_TEST_UNLISTED admin=$JOBBRIDGE_ADMIN_TOKEN pwd=$(pwd)"`+"\n")
	ta, _ := startFileAgent(t, `jobs:
  - id: report
    command: ["`+prog+`", "--verbose", "$JOBBRIDGE_PARAM_TARGET"]
    dir: `+dir+`
    env: [JOBS_FILE_TEST_PROFILE]
    params:
      - {name: target, required: true}
      - {name: token, secret: true}
      - {name: mode, type: enum, choices: [full, incremental], default: full}
`)
	ctx := context.Background()
	const token = "file-job-token-2718"
	if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "nightly", Job: "report", Schedule: "rate(1 day)",
		Parameters: map[string]string{"target": "/mnt/backup; rm -rf /", "token": token}}); err != nil {
		t.Fatal(err)
	}
	run, err := ta.admin.TriggerRule(ctx, "nightly", nil)
	if err != nil {
		t.Fatal(err)
	}
	if fin := ta.waitRun(t, run.ID, api.StatusSucceeded, api.StatusFailed); fin.Status != api.StatusSucceeded {
		t.Fatalf("run %s: %q", fin.Status, fin.Error)
	}
	lines, err := ta.admin.RunLog(ctx, run.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var log []string
	for _, l := range lines {
		log = append(log, l.Message)
	}
	text := strings.Join(log, "\n")
	want := "args=--verbose $JOBBRIDGE_PARAM_TARGET target=/mnt/backup; rm -rf / mode=full token=" + api.MaskedValue +
		" profile=backups unlisted= admin= pwd=" + dir
	if !strings.Contains(text, want) {
		t.Errorf("the run's log does not say\n%s\nit says:\n%s", want, text)
	}
	if strings.Contains(text, token) || strings.Contains(text, adminToken) {
		t.Errorf("the run's log holds a secret:\n%s", text)
	}
}

// A command job of the file that holds a secret guards its other
// parameters as destinations: the program decides what they mean, so an
// operator may not send the rule's stored token elsewhere by overriding
// one (403, naming the secret); an admin may, and a parameter the file
// marks destination: false stays the operator's to choose.
func TestACommandJobFromTheJobsFileGuardsItsSecret(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	prog := writeProgram(t, dir, "deliver", "echo \"to=$JOBBRIDGE_PARAM_TARGET note=$JOBBRIDGE_PARAM_NOTE\"\n")
	ta, _ := startFileAgent(t, `jobs:
  - id: deliver
    command: ["`+prog+`"]
    params:
      - {name: target, required: true, description: Where to.}
      - {name: note, destination: false}
      - {name: token, secret: true}
`)
	ctx := context.Background()
	if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "deliver", Job: "deliver", Schedule: "rate(1 day)",
		Parameters: map[string]string{"target": "partner.example", "token": "stored-file-token-31"}}); err != nil {
		t.Fatal(err)
	}
	operator := ta.tokenClient(t, "otto", "operator")
	first, err := operator.TriggerRule(ctx, "deliver", nil)
	if err != nil {
		t.Fatalf("operator trigger without overrides: %v", err)
	}
	ta.waitRun(t, first.ID, api.StatusSucceeded)

	for _, overrides := range []map[string]string{
		{"target": "attacker.example"},
		{"target": "attacker.example", "token": api.MaskedValue},
	} {
		_, err := operator.TriggerRule(ctx, "deliver", overrides)
		wantStatus(t, err, http.StatusForbidden, "operator trigger overriding target")
		if err != nil && !strings.Contains(err.Error(), "token") {
			t.Errorf("operator trigger overriding target: the refusal does not say which secret: %v", err)
		}
		_, err = operator.RestartRun(ctx, first.ID, overrides)
		wantStatus(t, err, http.StatusForbidden, "operator restart overriding target")
	}

	runs := []string{}
	noted, err := operator.TriggerRule(ctx, "deliver", map[string]string{"note": "by hand"})
	if err != nil {
		t.Fatalf("operator trigger overriding note (destination: false): %v", err)
	}
	runs = append(runs, noted.ID)
	moved, err := ta.admin.TriggerRule(ctx, "deliver", map[string]string{"target": "elsewhere.example"})
	if err != nil {
		t.Fatalf("admin trigger overriding target: %v", err)
	}
	runs = append(runs, moved.ID)
	for i, want := range []string{"to=partner.example note=by hand", "to=elsewhere.example note="} {
		ta.waitRun(t, runs[i], api.StatusSucceeded)
		lines, err := ta.admin.RunLog(ctx, runs[i], 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(lines, func(l api.LogLine) bool { return l.Message == want }) {
			t.Errorf("run %d's log = %+v, want a line %q", i, lines, want)
		}
	}
}

// An HTTP job of the file calls its fixed URL, with the parameters where
// the file puts them and the bearer token as the http job sends it,
// through the egress policy.
func TestAnHTTPJobFromTheJobsFileCallsItsURL(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, uri, body string
		header            http.Header
	}
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, seen{r.Method, r.RequestURI, string(b), r.Header.Clone()})
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	ta, _ := startFileAgent(t, `jobs:
  - id: ping-partner
    description: Tells the partner we are alive.
    http:
      method: POST
      url: "`+srv.URL+`/ping?from=jobbridge&site=${param.site}"
      headers: {X-From: jobbridge, X-Site: "${param.site}"}
      body: '{"site": "${param.site}", "alive": true}'
      expectStatus: "202"
    params:
      - {name: site, required: true}
      - {name: bearer_token, secret: true}
`, func(c *agent.Config) { c.HTTPAllow = "127.0.0.1" })
	ctx := context.Background()
	const token = "partner-token-1618"
	if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "ping", Job: "ping-partner", Schedule: "rate(1 hour)",
		Parameters: map[string]string{"site": `paris "nord"`, "bearer_token": token}}); err != nil {
		t.Fatal(err)
	}
	run, err := ta.admin.TriggerRule(ctx, "ping", nil)
	if err != nil {
		t.Fatal(err)
	}
	if fin := ta.waitRun(t, run.ID, api.StatusSucceeded, api.StatusFailed); fin.Status != api.StatusSucceeded {
		t.Fatalf("run %s: %q", fin.Status, fin.Error)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("the partner got %d requests, want 1", len(got))
	}
	r := got[0]
	if r.method != http.MethodPost || r.uri != "/ping?from=jobbridge&site=paris+%22nord%22" {
		t.Errorf("the partner got %s %s", r.method, r.uri)
	}
	if r.body != `{"site": "paris \"nord\"", "alive": true}` {
		t.Errorf("the partner got the body %s", r.body)
	}
	for name, want := range map[string]string{"X-From": "jobbridge", "X-Site": `paris "nord"`, "Authorization": "Bearer " + token, "Content-Type": "application/json"} {
		if v := r.header.Get(name); v != want {
			t.Errorf("the partner got %s: %q, want %q", name, v, want)
		}
	}
}

// A file whose HTTP job calls an address the egress policy refuses stops
// the agent, as a bad URL would.
func TestTheJobsFilesHTTPJobsFollowTheEgressPolicy(t *testing.T) {
	t.Parallel()
	path := writeJobsFile(t, t.TempDir(), "jobs:\n  - id: local\n    http: {url: \"http://127.0.0.1:9/\"}\n")
	cfg := testConfig(t)
	cfg.JobsFile = path
	_, err := agent.New(context.Background(), cfg, slog.New(slog.DiscardHandler), nil)
	if err == nil || !strings.Contains(err.Error(), path+":3: jobs[0].http.url: ") || !strings.Contains(err.Error(), "JOBBRIDGE_HTTP_ALLOW") {
		t.Errorf("agent.New = %v, want the loopback URL refused at line 3, naming JOBBRIDGE_HTTP_ALLOW", err)
	}
}

// Parameters that would fail every fire are a 400 naming the parameter
// when the rule is saved: the built-in jobs' and the file's.
func TestParametersThatWouldFailEveryFireAreRefusedAtSave(t *testing.T) {
	t.Parallel()
	ta, _ := startFileAgent(t, `jobs:
  - id: report
    command: [/bin/true]
    params: [{name: target}]
  - id: ping-partner
    http:
      url: https://partner.example/ping
      headers: {X-Site: "${param.site}"}
    params: [{name: site}, {name: bearer_token, secret: true}, {name: secret_header, secret: true}]
`)
	ctx := context.Background()
	for _, c := range []struct {
		job    string
		params map[string]string
		param  string
		want   string
	}{
		{"http", map[string]string{"url": "ftp://x"}, "url", "is not an http:// or https:// URL"},
		{"http", map[string]string{"url": "https://x.example/", "header": "no colon here"}, "header", `line 1 is not "Name: value"`},
		{"http", map[string]string{"url": "https://x.example/", "expect_status": "banana"}, "expect_status", `"banana" is not a status code`},
		{"demo", map[string]string{"duration": "-5s"}, "duration", "-5s is negative"},
		{"echo", map[string]string{"message": "a\x00b"}, "message", "holds a NUL byte"},
		{"report", map[string]string{"target": "a\x00b"}, "target", "holds a NUL byte"},
		{"ping-partner", map[string]string{"site": "a\r\nX-Evil: 1"}, "site", "holds a line break"},
		{"ping-partner", map[string]string{"secret_header": "not a header"}, "secret_header", `line 1 is not "Name: value"`},
	} {
		_, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: c.job, Schedule: "rate(1 day)", Parameters: c.params})
		what := c.job + " with " + c.param
		wantStatus(t, err, http.StatusBadRequest, what)
		if !contains(problemLocations(err), "body.parameters."+c.param) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v (at %v), want body.parameters.%s saying %q", what, err, problemLocations(err), c.param, c.want)
		}
	}
	if rules, _ := ta.admin.Rules(ctx); len(rules) != 0 {
		t.Errorf("%d rules were stored, want none", len(rules))
	}
}
