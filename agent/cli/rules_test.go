package cli

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// deployJob takes a secret token, which it records so that a test can tell
// what reached it.
type deployJob struct {
	mu   sync.Mutex
	seen []jobs.Params
}

func (*deployJob) ID() string          { return "deploy" }
func (*deployJob) Description() string { return "deploys with a token" }
func (*deployJob) Params() []jobs.Param {
	return []jobs.Param{
		{Name: "token", Secret: true, Description: "the deploy token"},
		{Name: "target", Description: "where to"},
		{Name: "count", Type: jobs.TypeInt, Default: "1", Description: "how many"},
	}
}

func (j *deployJob) Run(_ context.Context, p jobs.Params) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.seen = append(j.seen, p)
	return nil
}

func (j *deployJob) last() jobs.Params {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(j.seen) == 0 {
		return nil
	}
	return j.seen[len(j.seen)-1]
}

// rulesAgent is a real agent with the deploy job, and the environment
// that points the rules commands at it with its admin token.
type rulesAgent struct {
	*agenttest.Agent
	job *deployJob
	env map[string]string
}

func startRulesAgent(t *testing.T) *rulesAgent {
	t.Helper()
	j := &deployJob{}
	a := agenttest.Start(t, agenttest.Options{
		RoleTokens: true,
		Jobs:       func(r *jobs.Registry, _ agent.Env) error { return r.Register(j) },
	})
	return &rulesAgent{Agent: a, job: j, env: map[string]string{
		"JOBBRIDGE_AGENT_URL": a.URL(), "JOBBRIDGE_TOKEN": agenttest.AdminToken,
		"JOBBRIDGE_DATA_DIR": t.TempDir(), // no local agent there
	}}
}

// with is the agent's environment plus more variables.
func (ra *rulesAgent) with(kv ...string) map[string]string {
	env := map[string]string{}
	for k, v := range ra.env {
		env[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		env[kv[i]] = kv[i+1]
	}
	return env
}

func (ra *rulesAgent) rules(t *testing.T) []api.Rule {
	t.Helper()
	rules, err := ra.Client(agenttest.AdminToken).Rules(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rules
}

func (ra *rulesAgent) auditCount(t *testing.T) int {
	t.Helper()
	page, err := ra.Client(agenttest.AdminToken).Audit(context.Background(), 500, "")
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Items)
}

func writeFile(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// richRules are rules with every kind of field a file can hold.
func richRules() []api.RuleInput {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2030, 12, 31, 23, 0, 0, 0, time.UTC)
	off := false
	return []api.RuleInput{
		{Name: "nightly-deploy", Job: "deploy", Schedule: "cron(0 2 * * ? *)", Timezone: "Europe/Paris",
			StartDate: &start, EndDate: &end, FlexibleWindow: "15m", Description: "ships the night's build",
			Parameters: map[string]string{"token": "s3cr3t-t0ken", "target": "prod-${HOME}-${env:X}", "count": "2"},
			Timeout:    "30m", Overlap: api.OverlapSkip, Notify: &api.NotifyPolicy{On: []string{"failed", "timeout"}},
			RunPolicy: api.RunPolicy{Retry: &api.RetryPolicy{Attempts: 3, Backoff: "1m", Jitter: 0.5},
				CatchUp: api.CatchUpLatest, MaxLateness: "10m", WarnAfter: "20m"}},
		{Name: "demo.hourly", Job: "demo", Schedule: "rate(1 hour)", Enabled: &off,
			Parameters: map[string]string{"duration": "1s"}},
	}
}

func TestRulesExportThenApplyReproducesTheRules(t *testing.T) {
	t.Parallel()
	src := startRulesAgent(t)
	src.AddRules(richRules()...)
	code, out, errOut := runCLI(t, src.env, "rules", "export")
	if code != 0 {
		t.Fatalf("export: exit %d, %s", code, errOut)
	}
	const secretVar = "JOBBRIDGE_SECRET_NIGHTLY_DEPLOY_TOKEN"
	if strings.Contains(out, "s3cr3t-t0ken") || strings.Contains(out, api.MaskedValue) || !strings.Contains(out, "token: ${env:"+secretVar+"}") {
		t.Errorf("the export shows a secret or no reference for it:\n%s", out)
	}
	if !strings.Contains(errOut, secretVar+" (rule nightly-deploy, parameter token)") {
		t.Errorf("export's stderr does not list the variable the file needs: %q", errOut)
	}
	// Rules by name, fields in RuleInput's order, defaults left out.
	want := `rules:
  - name: demo.hourly
    job: demo
    schedule: rate(1 hour)
    enabled: false
    parameters:
      duration: 1s
  - name: nightly-deploy
    job: deploy
    schedule: cron(0 2 * * ? *)
    timezone: Europe/Paris
    startDate: "2026-01-01T00:00:00Z"
    endDate: "2030-12-31T23:00:00Z"
    flexibleWindow: 15m
    parameters:
      count: "2"
      target: prod-$${HOME}-$${env:X}
      token: ${env:JOBBRIDGE_SECRET_NIGHTLY_DEPLOY_TOKEN}
    description: ships the night's build
    timeout: 30m
    overlap: skip
    notify:
      "on":
        - failed
        - timeout
    retry:
      attempts: 3
      backoff: 1m
      jitter: 0.5
    catchUp: latest
    maxLateness: 10m
    warnAfter: 20m
`
	if out != want {
		t.Errorf("export:\n%s\nwant:\n%s", out, want)
	}
	dir := t.TempDir()
	file := writeFile(t, dir, "rules.yaml", out)

	dst := startRulesAgent(t)
	code, applied, errOut := runCLI(t, dst.with(secretVar, "s3cr3t-t0ken"), "rules", "apply", "-f", file)
	if code != 0 || applied != "+ create demo.hourly\n+ create nightly-deploy\napplied: 2 created, 0 updated, 0 deleted, 0 unchanged\n" {
		t.Fatalf("apply on an empty agent: exit %d\n%s%s", code, applied, errOut)
	}
	if code, again, _ := runCLI(t, dst.env, "rules", "export"); code != 0 || again != out {
		t.Errorf("the applied agent exports\n%s\nwant what the first did\n%s", again, out)
	}
	// The secret went through: a run of the rule gets it.
	run, err := dst.Client(agenttest.AdminToken).TriggerRule(context.Background(), "nightly-deploy", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := dst.WaitFinished(run.ID); got.Status != api.StatusSucceeded {
		t.Fatalf("run: %s %s", got.Status, got.Error)
	}
	if got := dst.job.last()["token"]; got != "s3cr3t-t0ken" {
		t.Errorf("the job got token %q, want the one from the environment", got)
	}
	if got := dst.job.last()["target"]; got != "prod-${HOME}-${env:X}" {
		t.Errorf("the job got target %q, want the literal prod-${HOME}-${env:X} (exported as $${)", got)
	}

	// JSON is a rules file too, and applying it again changes nothing.
	code, js, _ := runCLI(t, src.env, "rules", "export", "--format", "json")
	if code != 0 || !strings.HasPrefix(js, "{\n  \"rules\": [\n    {\n      \"name\": \"demo.hourly\",") {
		t.Fatalf("export --format json: exit %d\n%s", code, js)
	}
	jsonFile := writeFile(t, dir, "rules.json", js)
	code, again, errOut := runCLI(t, dst.with(secretVar, "s3cr3t-t0ken"), "rules", "apply", "-f", jsonFile)
	if code != 0 || again != "= 2 unchanged\nno changes\n" {
		t.Errorf("apply of the JSON export: exit %d\n%s%s", code, again, errOut)
	}
}

func TestRulesApplyDryRunAndASecondApplyChangeNothing(t *testing.T) {
	t.Parallel()
	ra := startRulesAgent(t)
	ra.AddRules(api.RuleInput{Name: "extra", Job: "demo", Schedule: "rate(1 day)"})
	dir := t.TempDir()
	writeFile(t, dir, "token.txt", "from-a-file\n")
	file := writeFile(t, dir, "rules.yaml", `rules:
  - name: deploy
    job: deploy
    schedule: cron(0 2 * * ? *)
    parameters:
      token: ${file:token.txt}
      target: staging
`)
	env := ra.env
	audit := ra.auditCount(t)
	code, out, errOut := runCLI(t, env, "rules", "apply", "-f", file, "--dry-run")
	want := "+ create deploy\nkept, not in the file (--prune deletes them): extra\ndry run: nothing changed\n"
	if code != 0 || out != want {
		t.Errorf("dry run: exit %d\n%s%s\nwant\n%s", code, out, errOut, want)
	}
	if rules := ra.rules(t); len(rules) != 1 || ra.auditCount(t) != audit {
		t.Errorf("a dry run changed the agent: %d rules, %d audit entries more", len(rules), ra.auditCount(t)-audit)
	}

	if code, out, errOut := runCLI(t, env, "rules", "apply", "-f", file); code != 0 ||
		out != "+ create deploy\nkept, not in the file (--prune deletes them): extra\napplied: 1 created, 0 updated, 0 deleted, 0 unchanged\n" {
		t.Fatalf("apply: exit %d\n%s%s", code, out, errOut)
	}
	first, _ := ra.Rule("deploy")
	audit = ra.auditCount(t)
	code, out, errOut = runCLI(t, env, "rules", "apply", "-f", file)
	if code != 0 || out != "= 1 unchanged\nkept, not in the file (--prune deletes them): extra\nno changes\n" {
		t.Errorf("second apply: exit %d\n%s%s", code, out, errOut)
	}
	second, _ := ra.Rule("deploy")
	if !second.UpdatedAt.Equal(first.UpdatedAt) || ra.auditCount(t) != audit {
		t.Errorf("a second apply wrote: updatedAt %v → %v, %d audit entries", first.UpdatedAt, second.UpdatedAt, ra.auditCount(t)-audit)
	}
	run, err := ra.Client(agenttest.AdminToken).TriggerRule(context.Background(), "deploy", nil)
	if err != nil {
		t.Fatal(err)
	}
	ra.WaitFinished(run.ID)
	if got := ra.job.last(); got["token"] != "from-a-file" || got["target"] != "staging" {
		t.Errorf("the job got %v, want the file's token (newline trimmed) and its target", got)
	}
}

func TestRulesApplyUpdatesWithADiffAndPrunesOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	ra := startRulesAgent(t)
	ra.AddRules(
		api.RuleInput{Name: "deploy", Job: "deploy", Schedule: "cron(0 2 * * ? *)", Parameters: map[string]string{"token": "old-secret", "target": "prod"}},
		api.RuleInput{Name: "keep-me", Job: "demo", Schedule: "rate(1 hour)"},
		api.RuleInput{Name: "old", Job: "demo", Schedule: "rate(1 day)"},
	)
	dir := t.TempDir()
	file := writeFile(t, dir, "rules.yaml", `rules:
  - name: deploy
    job: deploy
    schedule: cron(0 3 * * ? *)
    description: now at three
    parameters:
      token: ${env:DEPLOY_TOKEN}
      target: prod
  - name: keep-me
    job: demo
    schedule: rate(1 hour)
`)
	env := ra.with("DEPLOY_TOKEN", "new-secret")
	code, out, errOut := runCLI(t, env, "rules", "apply", "-f", file)
	want := `~ update deploy
    schedule: cron(0 2 * * ? *) → cron(0 3 * * ? *)
    parameters.token: (secret changed)
    description: (none) → now at three
= 1 unchanged
kept, not in the file (--prune deletes them): old
applied: 0 created, 1 updated, 0 deleted, 1 unchanged
`
	if code != 0 || out != want {
		t.Errorf("apply: exit %d\n%s%s\nwant\n%s", code, out, errOut, want)
	}
	if strings.Contains(out+errOut, "secret-") {
		t.Errorf("a secret value was shown:\n%s%s", out, errOut)
	}
	if _, ok := ra.Rule("old"); !ok {
		t.Fatal("old was deleted without --prune")
	}
	code, out, errOut = runCLI(t, env, "rules", "apply", "-f", file, "--prune")
	if code != 0 || out != "- delete old\n= 2 unchanged\napplied: 0 created, 0 updated, 1 deleted, 2 unchanged\n" {
		t.Errorf("apply --prune: exit %d\n%s%s", code, out, errOut)
	}
	var names []string
	for _, r := range ra.rules(t) {
		names = append(names, r.Name)
	}
	if !slices.Equal(names, []string{"deploy", "keep-me"}) {
		t.Errorf("after --prune the agent has %v, want deploy and keep-me", names)
	}
}

func TestRulesApplyShowsEachMistakeAtItsLine(t *testing.T) {
	t.Parallel()
	ra := startRulesAgent(t)
	dir := t.TempDir()
	const head = "rules:\n  - name: deploy\n    job: deploy\n    schedule: cron(0 2 * * ? *)\n"
	for _, tc := range []struct {
		name, text string
		env        []string
		want       string // after "FILE:"
	}{
		{"unknown field", head + "    schedul: rate(1 hour)\n", nil, "5: rules[0].schedul: unknown field"},
		{"bad type", head + "    enabled: maybe\n", nil, "5: rules[0].enabled: want true or false, got \"maybe\""},
		{"duplicate name", head + "  - name: deploy\n    job: demo\n    schedule: rate(1 hour)\n", nil,
			`5: rules[1].name: "deploy" is given twice (first as rules[0])`},
		{"literal secret", head + "    parameters:\n      token: hunter2-literal\n", nil,
			"6: rules[0].parameters.token: is a secret: write it as ${env:NAME} or ${file:PATH}, not its value"},
		{"missing variable", head + "    parameters:\n      token: ${env:NO_SUCH_VAR}\n", nil,
			"6: rules[0].parameters.token: ${env:NO_SUCH_VAR}: the environment variable NO_SUCH_VAR is not set (or empty)"},
		{"empty variable", head + "    parameters:\n      token: ${env:EMPTY}\n", []string{"EMPTY", ""},
			"6: rules[0].parameters.token: ${env:EMPTY}: the environment variable EMPTY is not set (or empty)"},
		{"reference in a plain value", head + "    parameters:\n      target: ${env:HOME}\n", nil,
			"6: rules[0].parameters.target: is not secret, so it takes no ${env:…} or ${file:…}: write its value (a literal ${ as $${)"},
		{"rules with no list", "rules:\n  # - name: commented out\n", nil, "1: the file has no rules: list (write rules: [] for none)"},
		{"missing file", head + "    parameters:\n      token: ${file:nowhere.txt}\n", nil,
			"6: rules[0].parameters.token: ${file:nowhere.txt}: cannot read the file: no such file or directory"},
		{"schedule refused", "rules:\n  - name: r\n    job: demo\n    schedule: cron(0 0 * * * *)\n", nil,
			"4: rules[0].schedule: "},
		{"unknown job", "rules:\n  - name: r\n    job: nope\n    schedule: rate(1 hour)\n", nil,
			`3: rules[0].job: "nope" is not a job of this agent`},
		{"not a list", "rules: {}\n", nil, "1: rules: want a list, got a mapping"},
		{"no rules key", "{}\n", nil, "1: the file has no rules: list (write rules: [] for none)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml", tc.text)
			audit := ra.auditCount(t)
			code, out, errOut := runCLI(t, ra.with(tc.env...), "rules", "apply", "-f", file)
			if want := file + ":" + tc.want; code != 2 || !strings.Contains(errOut, want) {
				t.Errorf("exit %d, stderr %q\nwant exit 2 saying %q", code, errOut, want)
			}
			if strings.Contains(out+errOut, "hunter2") {
				t.Errorf("the literal secret was echoed: %q %q", out, errOut)
			}
			if n := len(ra.rules(t)); n != 0 || ra.auditCount(t) != audit {
				t.Errorf("a bad file changed the agent: %d rules", n)
			}
		})
	}
}

func TestRulesCommandsRefuseBadUse(t *testing.T) {
	t.Parallel()
	ra := startRulesAgent(t)
	file := writeFile(t, t.TempDir(), "rules.yaml", "rules:\n  - name: r\n    job: demo\n    schedule: rate(1 hour)\n")
	for _, tc := range []struct {
		env  map[string]string
		args []string
		code int
		want string
	}{
		{ra.env, []string{"rules", "apply"}, 2, "rules apply needs -f FILE"},
		{ra.env, []string{"rules", "apply", "-f", filepath.Join(t.TempDir(), "none.yaml")}, 2, "read the rules file"},
		{ra.env, []string{"rules", "export", "--format", "toml"}, 2, `--format "toml" is not yaml or json`},
		{map[string]string{"JOBBRIDGE_DATA_DIR": t.TempDir()}, []string{"rules", "export"}, 2, "no agent to talk to"},
		{ra.with("JOBBRIDGE_TOKEN", agenttest.OperatorToken), []string{"rules", "apply", "-f", file}, 1, "agent answered 403"},
	} {
		code, _, errOut := runCLI(t, tc.env, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want exit %d saying %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	if n := len(ra.rules(t)); n != 0 {
		t.Errorf("an operator's apply stored %d rules", n)
	}
}

// Without --agent, the commands reach the agent running on this machine
// through its data dir, as the console does.
func TestRulesExportFindsTheLocalAgent(t *testing.T) {
	t.Parallel()
	dir, _ := runLocalAgent(t)
	code, out, errOut := runCLI(t, map[string]string{"JOBBRIDGE_DATA_DIR": dir}, "rules", "export")
	if code != 0 || out != "rules: []\n" {
		t.Errorf("export of the local agent: exit %d, %q %q", code, out, errOut)
	}
}

// A rule another admin adds between the plan and the apply is deleted by
// --prune without having been planned: the command then shows what was
// applied, not only the plan.
func TestRulesApplySaysWhatWasAppliedWhenTheAgentChangedMeanwhile(t *testing.T) {
	t.Parallel()
	ra := startRulesAgent(t)
	target, err := url.Parse(ra.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var applies atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/v1/rules/apply" && applies.Add(1) == 2 {
			// The second call applies: someone adds a rule just before.
			if _, err := ra.Client(agenttest.AdminToken).CreateRule(r.Context(), api.RuleInput{Name: "sneaky", Job: "demo", Schedule: "rate(1 day)"}); err != nil {
				t.Error(err)
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	file := writeFile(t, t.TempDir(), "rules.yaml", "rules:\n  - name: r\n    job: demo\n    schedule: rate(1 hour)\n")
	code, out, errOut := runCLI(t, ra.with("JOBBRIDGE_AGENT_URL", srv.URL), "rules", "apply", "-f", file, "--prune")
	want := "+ create r\n" +
		"the agent's rules changed since the plan above; what was applied:\n+ create r\n- delete sneaky\n" +
		"applied: 1 created, 0 updated, 1 deleted, 0 unchanged\n"
	if code != 0 || out != want {
		t.Errorf("exit %d\n%s%s\nwant\n%s", code, out, errOut, want)
	}
}
