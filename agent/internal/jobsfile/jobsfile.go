// Package jobsfile reads the agent's jobs file (JOBBRIDGE_JOBS_FILE): a
// YAML list of command jobs and HTTP jobs, for operators who want a job
// without writing Go. Each becomes a job like any other (builtin.Command,
// builtin.HTTPRequest) that also says where it was declared: its Source
// method gives its kind ("command" or "http") and "FILE:LINE", which the
// admin API shows as the job's kind and source.
//
// The file is checked whole when the agent starts: every problem is
// reported at once, each at its line, and the agent does not start.
//
//	jobs:
//	  - id: nightly-backup
//	    description: Dumps the database to the backup bucket.
//	    command: ["/usr/local/bin/backup", "--verbose"]
//	    dir: /var/lib/backup
//	    env: [AWS_PROFILE]
//	    killGrace: 10s
//	    params:
//	      - {name: target, type: string, required: true, description: Where to.}
//	  - id: ping-partner
//	    http: {method: POST, url: "https://partner.example/ping", headers: {X-From: jobbridge}}
//	    params:
//	      - {name: bearer_token, type: string, secret: true}
package jobsfile

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/internal/yamlfile"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
	"github.com/jobbridge/jobbridge/jobs/egress"
)

// The kinds of job a file declares, as Source gives them.
const (
	KindCommand = "command"
	KindHTTP    = "http"
)

// File is the jobs file's shape.
type File struct {
	Jobs []Job `json:"jobs"`
}

// Job declares one job: either Command or HTTP.
type Job struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	// Command is the program to run and its arguments (argv, never a
	// shell line); the program is an absolute path to an executable.
	Command []string `json:"command"`
	// Dir is the command's working directory, an absolute path. Default
	// the agent's.
	Dir string `json:"dir"`
	// Env names the agent's variables the command sees, beside PATH, HOME,
	// LANG, TZ and JOBBRIDGE_COMMAND_ENV's. Never one of JOBBRIDGE_*.
	Env []string `json:"env"`
	// KillGrace is how long the command has between SIGTERM and SIGKILL
	// when cancelled. Default builtin.DefaultKillGrace.
	KillGrace string `json:"killGrace"`
	// HTTP is the request an HTTP job makes.
	HTTP   *HTTP   `json:"http"`
	Params []Param `json:"params"`
}

// HTTP is an HTTP job's request; see builtin.HTTPRequestSpec.
type HTTP struct {
	Method       string            `json:"method"`
	URL          string            `json:"url"`
	Headers      map[string]string `json:"headers"`
	Body         string            `json:"body"`
	ExpectStatus string            `json:"expectStatus"`
	Timeout      string            `json:"timeout"`
}

// Param declares one parameter; see jobs.Param.
type Param struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Type        string   `json:"type"`
	Required    bool     `json:"required"`
	Default     string   `json:"default"`
	Choices     []string `json:"choices"`
	Secret      bool     `json:"secret"`
	// Destination marks a parameter that decides where the job sends what
	// it has (jobs.Param.Destination): below admin, it cannot be
	// overridden on a rule holding a secret. When the file leaves it out,
	// every non-secret parameter of a command job that declares a secret
	// one is a destination (what a value means is the program's business,
	// so it is assumed to matter), and no parameter of an HTTP job is (its
	// host, path and method are fixed in the file).
	Destination *bool `json:"destination"`
}

// Options are what the file's jobs need from the agent.
type Options struct {
	// Egress is where HTTP jobs may connect (nil: public addresses only).
	Egress *egress.Policy
	// PassEnv names the agent's variables every command job sees
	// (JOBBRIDGE_COMMAND_ENV), beside each job's own env.
	PassEnv []string
	// Taken reports whether a job id is registered already (the agent's
	// built-in jobs): a file's job may not take it. Nil: none is.
	Taken func(id string) bool
}

// Source is what the file's jobs implement beside jobs.Job: their kind
// (KindCommand or KindHTTP) and where they are declared, "FILE:LINE".
type Source interface {
	Source() (kind, where string)
}

// commandJob is a command job of the file.
type commandJob struct {
	*builtin.Command
	where string
}

// Source implements Source.
func (j commandJob) Source() (kind, where string) { return KindCommand, j.where }

// httpJob is an HTTP job of the file.
type httpJob struct {
	*builtin.HTTPRequest
	where string
}

// Source implements Source.
func (j httpJob) Source() (kind, where string) { return KindHTTP, j.where }

// Load reads the jobs file at path and returns its jobs, in the file's
// order. A file that cannot be used is refused with every problem found,
// as yamlfile.Problems, each naming the file as given, the line and the
// field.
func Load(path string, opts Options) ([]jobs.Job, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the jobs file: %w", err)
	}
	var f File
	pos, err := yamlfile.Decode(path, data, &f)
	if err != nil {
		return nil, err
	}
	c := &checker{file: path, pos: pos, opts: opts, ids: map[string]string{}}
	if len(f.Jobs) == 0 {
		c.fail("jobs", "the file declares no jobs (want a jobs: list)")
	}
	var out []jobs.Job
	for i, j := range f.Jobs {
		if job := c.job(fmt.Sprintf("jobs[%d]", i), j); job != nil {
			out = append(out, job)
		}
	}
	if len(c.problems) > 0 {
		slices.SortStableFunc(c.problems, func(a, b yamlfile.Problem) int { return cmp.Compare(a.Line, b.Line) })
		return nil, c.problems
	}
	return out, nil
}

type checker struct {
	file     string
	pos      yamlfile.Positions
	opts     Options
	ids      map[string]string // id -> path of the job that declares it
	problems yamlfile.Problems
}

func (c *checker) fail(path, format string, args ...any) {
	c.problems = append(c.problems, yamlfile.Problem{File: c.file, Line: c.pos.Line(path), Path: path, Msg: fmt.Sprintf(format, args...)})
}

// job checks one job at path; nil if anything is wrong with it.
func (c *checker) job(path string, j Job) jobs.Job {
	before := len(c.problems)
	switch err := jobs.ValidateID(j.ID); {
	case err != nil:
		c.fail(path+".id", "%s", err)
	case c.ids[j.ID] != "":
		c.fail(path+".id", "%q is declared already, at line %d", j.ID, c.pos.Line(c.ids[j.ID]))
	case c.opts.Taken != nil && c.opts.Taken(j.ID):
		c.fail(path+".id", "%q is a job built into this agent already: choose another id", j.ID)
	default:
		c.ids[j.ID] = path
	}
	params := c.params(path, j)
	where := fmt.Sprintf("%s:%d", c.file, c.pos.Line(path))
	switch {
	case j.Command == nil && j.HTTP == nil:
		c.fail(path, "has neither command nor http: give one")
	case j.Command != nil && j.HTTP != nil:
		c.fail(path+".http", "the job has a command too: give command or http, not both")
	case j.Command != nil:
		cmd := c.command(path, j, params, before)
		if cmd != nil {
			return commandJob{cmd, where}
		}
	default:
		req := c.http(path, j, params, before)
		if req != nil {
			return httpJob{req, where}
		}
	}
	return nil
}

// params checks the job's parameter declarations as jobs.Registry would,
// at their lines.
func (c *checker) params(path string, j Job) []jobs.Param {
	var out []jobs.Param
	seen := map[string]int{}
	holdsSecret := slices.ContainsFunc(j.Params, func(p Param) bool { return p.Secret })
	for k, p := range j.Params {
		ppath := fmt.Sprintf("%s.params[%d]", path, k)
		param := jobs.Param{
			Name: p.Name, Description: p.Description, Type: jobs.ParamType(p.Type), Required: p.Required,
			Default: p.Default, Choices: p.Choices, Secret: p.Secret,
		}
		if err := param.Check(); err != nil {
			c.fail(ppath, "%s", err)
		}
		switch {
		case p.Destination != nil && p.Secret:
			if *p.Destination {
				c.fail(ppath+".destination", "parameter %q is secret: a secret is what destinations guard, not one of them", p.Name)
			}
		case p.Destination != nil:
			param.Destination = *p.Destination
		case j.Command != nil && holdsSecret && !p.Secret:
			// The program alone knows what a value means: one may well
			// say where the secret goes, so it is guarded unless the
			// file says otherwise.
			param.Destination = true
		}
		// A command gets each as JOBBRIDGE_PARAM_<NAME>: names differing
		// in case only would share one, so they are refused for both kinds.
		key := strings.ToUpper(p.Name)
		if first, dup := seen[key]; dup && p.Name != "" {
			c.fail(ppath, "parameter %q is declared already (params[%d]; names differing only in case count as one)", p.Name, first)
		} else {
			seen[key] = k
		}
		out = append(out, param)
	}
	return out
}

// envName is what a passed-through variable may be called.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// command checks a command job and builds it; nil when the job has a
// problem (those found before it among them).
func (c *checker) command(path string, j Job, params []jobs.Param, before int) *builtin.Command {
	if len(j.Command) == 0 {
		c.fail(path+".command", "is empty: want the program's absolute path, then its arguments")
	} else {
		c.program(path+".command[0]", j.Command[0])
		for i, arg := range j.Command {
			if strings.ContainsRune(arg, 0) {
				c.fail(fmt.Sprintf("%s.command[%d]", path, i), "holds a NUL byte, which no argument can")
			}
		}
	}
	opts := []builtin.CommandOption{builtin.WithPassEnv(c.opts.PassEnv...)}
	if j.Dir != "" {
		if !filepath.IsAbs(j.Dir) {
			c.fail(path+".dir", "%q is not an absolute path", j.Dir)
		} else if fi, err := os.Stat(j.Dir); err != nil {
			c.fail(path+".dir", "%s", describeStat(err))
		} else if !fi.IsDir() {
			c.fail(path+".dir", "%q is not a directory", j.Dir)
		}
		opts = append(opts, builtin.WithDir(j.Dir))
	}
	for i, name := range j.Env {
		epath := fmt.Sprintf("%s.env[%d]", path, i)
		switch {
		case !envName.MatchString(name):
			c.fail(epath, "%q is not a variable name (letters, digits and '_', not starting with a digit)", name)
		case strings.HasPrefix(strings.ToUpper(name), "JOBBRIDGE_"):
			c.fail(epath, "%s: the agent's own settings (JOBBRIDGE_*), some of them secret, are never passed to a job", name)
		}
	}
	opts = append(opts, builtin.WithPassEnv(j.Env...))
	if j.KillGrace != "" {
		d, err := time.ParseDuration(j.KillGrace)
		switch {
		case err != nil:
			c.fail(path+".killGrace", "%q is not a duration (e.g. 10s)", j.KillGrace)
		case d < 0:
			c.fail(path+".killGrace", "%s is negative", j.KillGrace)
		}
		opts = append(opts, builtin.WithKillGrace(d))
	}
	if len(c.problems) > before {
		return nil
	}
	cmd, err := builtin.NewCommand(j.ID, j.Description, j.Command, params, opts...)
	if err != nil {
		c.fail(path, "%s", err)
		return nil
	}
	return cmd
}

// program checks that argv[0] is an executable file named by an absolute
// path. A bare name would be looked up in the agent's PATH when the job
// runs, so what runs would depend on the agent's environment rather than
// on this file; and a program missing now fails at start, not at 3 a.m.
func (c *checker) program(path, name string) {
	if !filepath.IsAbs(name) {
		c.fail(path, "%q is not an absolute path: a program is never looked up in PATH, so that this file alone says what runs", name)
		return
	}
	fi, err := os.Stat(name)
	switch {
	case err != nil:
		c.fail(path, "%s", describeStat(err))
	case fi.IsDir():
		c.fail(path, "%s is a directory, not a program", name)
	case fi.Mode()&0o111 == 0:
		c.fail(path, "%s is not executable", name)
	}
}

func describeStat(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		switch {
		case errors.Is(err, os.ErrNotExist):
			return pe.Path + " does not exist"
		case errors.Is(err, os.ErrPermission):
			return pe.Path + " cannot be read by the agent (permission denied)"
		}
	}
	return err.Error()
}

// http checks an HTTP job and builds it; nil when the job has a problem.
func (c *checker) http(path string, j Job, params []jobs.Param, before int) *builtin.HTTPRequest {
	for _, f := range []struct {
		field string
		set   bool
	}{{"dir", j.Dir != ""}, {"env", j.Env != nil}, {"killGrace", j.KillGrace != ""}} {
		if f.set {
			c.fail(path+"."+f.field, "is for command jobs only")
		}
	}
	spec := builtin.HTTPRequestSpec{
		Method: j.HTTP.Method, URL: j.HTTP.URL, Headers: j.HTTP.Headers, Body: j.HTTP.Body, ExpectStatus: j.HTTP.ExpectStatus,
	}
	if j.HTTP.Timeout != "" {
		d, err := time.ParseDuration(j.HTTP.Timeout)
		if err != nil {
			c.fail(path+".http.timeout", "%q is not a duration (e.g. 30s)", j.HTTP.Timeout)
		}
		spec.Timeout = d
	}
	if len(c.problems) > before {
		return nil
	}
	req, err := builtin.NewHTTPRequest(j.ID, j.Description, spec, params, c.opts.Egress)
	var de *builtin.DeclarationError
	switch {
	case errors.As(err, &de):
		for _, p := range de.Problems {
			c.fail(c.fieldPath(path, j, p.Field), "%s", p.Reason)
		}
		return nil
	case err != nil:
		c.fail(path, "%s", err)
		return nil
	}
	return req
}

// fieldPath is the file's path of a builtin.DeclarationProblem's field.
func (c *checker) fieldPath(path string, j Job, field string) string {
	if name, ok := strings.CutPrefix(field, "params."); ok {
		for k, p := range j.Params {
			if p.Name == name {
				return fmt.Sprintf("%s.params[%d]", path, k)
			}
		}
		return path + ".params"
	}
	if field == "id" {
		return path + ".id"
	}
	return path + ".http." + field
}
