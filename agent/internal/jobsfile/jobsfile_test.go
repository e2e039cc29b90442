package jobsfile_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/jobsfile"
	"github.com/jobbridge/jobbridge/internal/yamlfile"
	"github.com/jobbridge/jobbridge/jobs"
)

// programs makes an executable and a file that is not one.
func programs(t *testing.T) (dir, exe, plain string) {
	t.Helper()
	dir = t.TempDir()
	exe, plain = filepath.Join(dir, "backup"), filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain, []byte("notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, exe, plain
}

func write(t *testing.T, dir, text string) string {
	t.Helper()
	path := filepath.Join(dir, "jobs.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Each kind of mistake is refused at its line, naming the field and what
// is wrong; nothing is returned.
func TestLoadRefusesEachMistakeAtItsLine(t *testing.T) {
	t.Parallel()
	dir, exe, plain := programs(t)
	builtins := func(id string) bool { return id == "http" || id == "demo" }
	for _, c := range []struct {
		name, file string
		want       string // after "FILE:"
	}{
		{"unknown field", "jobs:\n  - id: a\n    command: [EXE]\n    shell: true\n",
			`4: jobs[0].shell: unknown field (want one of id, description, command, dir, env, killGrace, http, params)`},
		{"neither command nor http", "jobs:\n  - id: a\n    description: nothing\n",
			`2: jobs[0]: has neither command nor http: give one`},
		{"both command and http", "jobs:\n  - id: a\n    command: [EXE]\n    http: {url: \"https://x.example/\"}\n",
			`4: jobs[0].http: the job has a command too: give command or http, not both`},
		{"a shell line", "jobs:\n  - id: a\n    command: EXE --verbose\n",
			`3: jobs[0].command: want a list, got "EXE --verbose"`},
		{"empty argv", "jobs:\n  - id: a\n    command: []\n",
			`3: jobs[0].command: is empty: want the program's absolute path, then its arguments`},
		{"relative program", "jobs:\n  - id: a\n    command: [backup, --verbose]\n",
			`3: jobs[0].command[0]: "backup" is not an absolute path: a program is never looked up in PATH`},
		{"missing program", "jobs:\n  - id: a\n    command:\n      - DIR/missing\n",
			`4: jobs[0].command[0]: DIR/missing does not exist`},
		{"not executable", "jobs:\n  - id: a\n    command: [PLAIN]\n",
			`3: jobs[0].command[0]: PLAIN is not executable`},
		{"a directory", "jobs:\n  - id: a\n    command: [DIR]\n",
			`3: jobs[0].command[0]: DIR is a directory, not a program`},
		{"bad id", "jobs:\n  - id: -a\n    command: [EXE]\n",
			`2: jobs[0].id: job id "-a" is invalid`},
		{"duplicate id", "jobs:\n  - id: a\n    command: [EXE]\n  - id: a\n    command: [EXE]\n",
			`4: jobs[1].id: "a" is declared already, at line 2`},
		{"built-in id", "jobs:\n  - id: demo\n    command: [EXE]\n",
			`2: jobs[0].id: "demo" is a job built into this agent already`},
		{"bad param type", "jobs:\n  - id: a\n    command: [EXE]\n    params:\n      - {name: n, type: float}\n",
			`5: jobs[0].params[0]: parameter "n": unknown type "float"`},
		{"enum without choices", "jobs:\n  - id: a\n    command: [EXE]\n    params:\n      - name: mode\n        type: enum\n",
			`5: jobs[0].params[0]: parameter "mode": an enum needs choices`},
		{"bad default", "jobs:\n  - id: a\n    command: [EXE]\n    params:\n      - {name: n, type: int, default: many}\n",
			`5: jobs[0].params[0]: parameter "n": default: `},
		{"bad secret default", "jobs:\n  - id: a\n    command: [EXE]\n    params:\n      - {name: n, type: int, secret: true, default: hunter2}\n",
			`5: jobs[0].params[0]: parameter "n": default: is not a valid int (the value is secret, so it is not shown)`},
		{"bad param name", "jobs:\n  - id: a\n    command: [EXE]\n    params:\n      - {name: 9lives}\n",
			`5: jobs[0].params[0]: parameter name "9lives" is invalid`},
		{"param twice", "jobs:\n  - id: a\n    command: [EXE]\n    params:\n      - {name: target}\n      - {name: Target}\n",
			`6: jobs[0].params[1]: parameter "Target" is declared already (params[0]`},
		{"bad kill grace", "jobs:\n  - id: a\n    command: [EXE]\n    killGrace: soon\n",
			`4: jobs[0].killGrace: "soon" is not a duration`},
		{"negative kill grace", "jobs:\n  - id: a\n    command: [EXE]\n    killGrace: -1s\n",
			`4: jobs[0].killGrace: -1s is negative`},
		{"relative dir", "jobs:\n  - id: a\n    command: [EXE]\n    dir: var/backup\n",
			`4: jobs[0].dir: "var/backup" is not an absolute path`},
		{"env not a name", "jobs:\n  - id: a\n    command: [EXE]\n    env: [AWS_PROFILE, 1BAD]\n",
			`4: jobs[0].env[1]: "1BAD" is not a variable name`},
		{"env of the agent's settings", "jobs:\n  - id: a\n    command: [EXE]\n    env:\n      - JOBBRIDGE_ADMIN_TOKEN\n",
			`5: jobs[0].env[0]: JOBBRIDGE_ADMIN_TOKEN: the agent's own settings (JOBBRIDGE_*), some of them secret, are never passed to a job`},
		{"command field on http", "jobs:\n  - id: a\n    http: {url: \"https://x.example/\"}\n    killGrace: 1s\n",
			`4: jobs[0].killGrace: is for command jobs only`},
		{"ftp url", "jobs:\n  - id: a\n    http:\n      url: ftp://x.example/\n",
			`4: jobs[0].http.url: is not an http:// or https:// URL`},
		{"credentials in the url", "jobs:\n  - id: a\n    http:\n      url: https://me:pw@x.example/\n",
			`4: jobs[0].http.url: has a user name or password in it`},
		{"loopback not allowed", "jobs:\n  - id: a\n    http:\n      url: http://127.0.0.1:9/\n",
			`4: jobs[0].http.url: `},
		{"param in the host", "jobs:\n  - id: a\n    http:\n      url: https://${param.host}/\n    params: [{name: host}]\n",
			`4: jobs[0].http.url: has a placeholder outside its query`},
		{"bad header name", "jobs:\n  - id: a\n    http:\n      url: https://x.example/\n      headers:\n        \"X From\": jobbridge\n",
			`6: jobs[0].http.headers.X From: is not a header name`},
		{"undeclared param", "jobs:\n  - id: a\n    http:\n      url: https://x.example/\n      body: '{\"t\": \"${param.target}\"}'\n",
			`5: jobs[0].http.body: ${param.target} names no declared parameter (declared: none)`},
		{"placeholder outside a JSON string", "jobs:\n  - id: a\n    http:\n      url: https://x.example/\n      body: '{\"n\": ${param.n}}'\n    params: [{name: n, type: int}]\n",
			`5: jobs[0].http.body: a placeholder in a JSON body must be inside a string, as its value is escaped for one: write "${param.n}"`},
		{"placeholder in an XML body", "jobs:\n  - id: a\n    http:\n      url: https://x.example/\n      headers: {Content-Type: application/xml}\n      body: '<n>${param.n}</n>'\n    params: [{name: n}]\n",
			`6: jobs[0].http.body: takes a parameter, and a body of Content-Type "application/xml" has no escaping the job knows`},
		{"non-secret param in a credential header", "jobs:\n  - id: a\n    http:\n      url: https://x.example/\n      headers:\n        Authorization: Bearer ${param.tok}\n    params: [{name: tok}]\n",
			`6: jobs[0].http.headers.Authorization: ${param.tok} is not secret, and Authorization carries a credential: declare tok secret`},
		{"unused param", "jobs:\n  - id: a\n    http: {url: \"https://x.example/\"}\n    params:\n      - {name: target}\n",
			`5: jobs[0].params[0]: the request never uses it`},
		{"credential param not secret", "jobs:\n  - id: a\n    http: {url: \"https://x.example/\"}\n    params:\n      - {name: bearer_token}\n",
			`5: jobs[0].params[0]: bearer_token carries a credential: declare it secret`},
		{"bad expect status", "jobs:\n  - id: a\n    http:\n      url: https://x.example/\n      expectStatus: banana\n",
			`5: jobs[0].http.expectStatus: "banana" is not a status code`},
		{"bad http timeout", "jobs:\n  - id: a\n    http:\n      url: https://x.example/\n      timeout: forever\n",
			`5: jobs[0].http.timeout: "forever" is not a duration`},
		{"no jobs", "jobs: []\n", `1: jobs: the file declares no jobs`},
		{"not YAML", "jobs:\n  - id: a\n    command: x: y\n", `3: not valid YAML: mapping values are not allowed in this context`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			text := strings.NewReplacer("EXE", exe, "PLAIN", plain, "DIR", dir).Replace(c.file)
			path := write(t, t.TempDir(), text)
			want := path + ":" + strings.NewReplacer("EXE", exe, "PLAIN", plain, "DIR", dir).Replace(c.want)
			got, err := jobsfile.Load(path, jobsfile.Options{Taken: builtins})
			var ps yamlfile.Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Load = %v, %v; want yamlfile.Problems", got, err)
			}
			if got != nil {
				t.Errorf("Load returned jobs %v beside its problems", got)
			}
			if len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), want) {
				t.Errorf("Load problems:\n%v\nwant exactly one starting\n%s", err, want)
			}
		})
	}
}

// Every problem of a file is reported at once, in the file's order.
func TestLoadReportsEveryProblemAtOnce(t *testing.T) {
	t.Parallel()
	dir, exe, _ := programs(t)
	path := write(t, dir, `jobs:
  - id: first
    command: [relative]
  - id: second
    command: [`+exe+`]
    env: [JOBBRIDGE_SECRETS_KEY]
  - id: third
    http:
      url: ftp://x.example/
`)
	_, err := jobsfile.Load(path, jobsfile.Options{})
	var ps yamlfile.Problems
	if !errors.As(err, &ps) || len(ps) != 3 {
		t.Fatalf("Load = %v, want three problems", err)
	}
	for i, want := range []string{":3: jobs[0].command[0]", ":6: jobs[1].env[0]", ":9: jobs[2].http.url"} {
		if !strings.HasPrefix(ps[i].Error(), path+want) {
			t.Errorf("problem %d = %s, want it at %s", i, ps[i], want)
		}
	}
	if _, err := jobsfile.Load(filepath.Join(dir, "absent.yaml"), jobsfile.Options{}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file = %v, want os.ErrNotExist", err)
	}
}

// A valid file's jobs are jobs like any other, saying their kind and line.
func TestLoadBuildsTheJobsWithTheirSource(t *testing.T) {
	t.Parallel()
	dir, exe, _ := programs(t)
	path := write(t, dir, `jobs:
  - id: nightly-backup
    description: Dumps the database to the backup bucket.
    command: ["`+exe+`", "--verbose"]
    dir: `+dir+`
    env: [AWS_PROFILE]
    killGrace: 10s
    params:
      - {name: target, type: string, required: true, description: Where to.}
      - {name: token, type: string, secret: true}
      - {name: mode, type: enum, choices: [full, incremental], default: full}
  - id: ping-partner
    description: Tells the partner we are alive.
    http: {method: POST, url: "https://partner.example/ping", headers: {X-From: jobbridge}}
    params:
      - {name: bearer_token, type: string, secret: true}
`)
	got, err := jobsfile.Load(path, jobsfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("Load = %d jobs, want 2", len(got))
	}
	for i, want := range []struct{ id, kind, where string }{
		{"nightly-backup", jobsfile.KindCommand, path + ":2"}, {"ping-partner", jobsfile.KindHTTP, path + ":12"},
	} {
		j := got[i]
		s, ok := j.(jobsfile.Source)
		if !ok {
			t.Fatalf("job %s has no Source", j.ID())
		}
		kind, where := s.Source()
		if j.ID() != want.id || kind != want.kind || where != want.where {
			t.Errorf("job %d = %s, %s at %s; want %s, %s at %s", i, j.ID(), kind, where, want.id, want.kind, want.where)
		}
		if _, ok := j.(jobs.Validator); !ok {
			t.Errorf("job %s does not check its parameters' values (jobs.Validator)", j.ID())
		}
	}
	ps := got[0].Params()
	if len(ps) != 3 || ps[0].Name != "target" || !ps[0].Required || !ps[1].Secret || ps[2].Type != jobs.TypeEnum || ps[2].Default != "full" {
		t.Errorf("nightly-backup's params = %+v", ps)
	}
	if err := jobs.NewRegistry().Register(got...); err != nil {
		t.Errorf("register the file's jobs: %v", err)
	}
}

// A command job declaring a secret guards its other parameters as
// destinations unless the file says destination: false; an HTTP job's
// parameters, which cannot move its fixed host, are destinations only when
// the file says so; a job without a secret has nothing to guard.
func TestLoadMarksDestinations(t *testing.T) {
	t.Parallel()
	dir, exe, _ := programs(t)
	path := write(t, dir, `jobs:
  - id: deliver
    command: ["`+exe+`"]
    params:
      - {name: target, description: Where to.}
      - {name: note, destination: false}
      - {name: token, secret: true}
      - {name: key, secret: true, destination: false}
  - id: plain
    command: ["`+exe+`"]
    params:
      - {name: target}
  - id: ping
    http:
      url: "https://partner.example/ping?site=${param.site}"
      body: '{"callback": "${param.callback}"}'
    params:
      - {name: site}
      - {name: callback, destination: true}
      - {name: bearer_token, secret: true}
`)
	got, err := jobsfile.Load(path, jobsfile.Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]bool{
		"deliver": {"target": true, "note": false, "token": false, "key": false},
		"plain":   {"target": false},
		"ping":    {"site": false, "callback": true, "bearer_token": false},
	}
	for _, j := range got {
		for _, p := range j.Params() {
			if p.Destination != want[j.ID()][p.Name] {
				t.Errorf("%s's %s: Destination = %v, want %v", j.ID(), p.Name, p.Destination, want[j.ID()][p.Name])
			}
		}
	}

	path = write(t, dir, "jobs:\n  - id: a\n    command: [\""+exe+"\"]\n    params:\n      - name: token\n        secret: true\n        destination: true\n")
	_, err = jobsfile.Load(path, jobsfile.Options{})
	want1 := path + `:7: jobs[0].params[0].destination: parameter "token" is secret: a secret is what destinations guard`
	var ps yamlfile.Problems
	if !errors.As(err, &ps) || len(ps) != 1 || !strings.HasPrefix(ps[0].Error(), want1) {
		t.Errorf("Load of a secret destination = %v, want one problem starting\n%s", err, want1)
	}
}
