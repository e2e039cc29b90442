package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/internal/yamlfile"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
	"github.com/jobbridge/jobbridge/shared/localagent"
)

// rulesFile is what `rules export` writes and `rules apply` reads.
type rulesFile struct {
	Rules []api.RuleInput `json:"rules"`
}

// The agent the rules commands talk to: --agent and --token (or
// JOBBRIDGE_AGENT_URL and JOBBRIDGE_TOKEN), else the agent running on this
// machine, found in its data dir as the console finds it. They always go
// through the admin API, so they work against a remote agent too.
type agentTarget struct {
	url, token string
	cfg        agent.Config // the local agent's data dir
	getenv     func(string) string
	resolve    func() error
}

func bindAgentTarget(cmd *cobra.Command, getenv func(string) string) *agentTarget {
	t := &agentTarget{getenv: getenv}
	cmd.Flags().StringVar(&t.url, "agent", "", "the agent's base URL, e.g. https://jobs.example:8080 (default: the agent running on this machine) [$JOBBRIDGE_AGENT_URL]")
	cmd.Flags().StringVar(&t.token, "token", "", "an admin API token (default: the local agent's admin token) [$JOBBRIDGE_TOKEN]")
	resolve := bindSettings(cmd, getenv, &t.cfg, "data-dir")
	t.resolve = func() error {
		if err := resolve(); err != nil {
			return err
		}
		if t.url == "" {
			t.url = getenv("JOBBRIDGE_AGENT_URL")
		}
		if t.token == "" {
			t.token = getenv("JOBBRIDGE_TOKEN")
		}
		return nil
	}
	return t
}

// client resolves the target to a client.
func (t *agentTarget) client() (*client.Client, error) {
	if err := t.resolve(); err != nil {
		return nil, err
	}
	if t.url != "" && t.token != "" {
		return client.New(t.url, t.token), nil
	}
	dir := t.cfg.DataDir
	if dir == "" {
		dir = agent.DefaultDataDir()
	}
	local, err := localagent.Find(func(k string) string {
		if k == localagent.DataDirEnv {
			return dir
		}
		return ""
	})
	if err != nil {
		return nil, err
	}
	url, token := t.url, t.token
	if url == "" {
		if local.URL == "" {
			return nil, usageErrorf("no agent to talk to: give --agent URL (or JOBBRIDGE_AGENT_URL), or start an agent on this machine (no %s yet)", filepath.Join(dir, localagent.URLFile))
		}
		url = local.URL
	}
	if token == "" && url == local.URL {
		// The admin token on file belongs to the local agent only; one
		// that JOBBRIDGE_ADMIN_TOKEN fixes is not on file.
		token = t.getenv("JOBBRIDGE_ADMIN_TOKEN")
		if token == "" {
			token = local.Token
		}
	}
	if token == "" {
		return nil, usageErrorf("no token: give --token (or JOBBRIDGE_TOKEN), an admin token; `agent token create --name NAME --role admin` makes one")
	}
	return client.New(url, token), nil
}

func newRulesCmd(getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "export the agent's rules to a file and make them match one (rules as code)",
		RunE:  groupCommand,
	}
	cmd.AddCommand(newRulesExportCmd(getenv), newRulesApplyCmd(getenv))
	return cmd
}

func newRulesExportCmd(getenv func(string) string) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "export [--format yaml|json]",
		Short: "print every rule as a rules file for `rules apply`, secrets as ${env:NAME} references",
		Args:  noArgs,
	}
	target := bindAgentTarget(cmd, getenv)
	cmd.Flags().StringVar(&format, "format", "yaml", "yaml or json")
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if format != "yaml" && format != "json" {
			return usageErrorf("--format %q is not yaml or json", format)
		}
		ctx := c.Context()
		cl, secrets, err := target.clientAndSecrets(ctx)
		if err != nil {
			return err
		}
		rules, err := cl.Rules(ctx)
		if err != nil {
			return fmt.Errorf("list the rules: %w", err)
		}
		file, vars := exportRules(rules, secrets)
		out, err := encodeRules(file, format)
		if err != nil {
			return err
		}
		if _, err := c.OutOrStdout().Write(out); err != nil {
			return err
		}
		if len(vars) > 0 {
			w := c.ErrOrStderr()
			fmt.Fprintln(w, "secret parameters are written as references; `rules apply` needs these variables set:")
			for _, v := range vars {
				fmt.Fprintf(w, "  %s (rule %s, parameter %s)\n", v.name, v.rule, v.param)
			}
		}
		return nil
	}
	return cmd
}

// clientAndSecrets is the agent's client and, by job, the parameters its
// jobs keep secret: what export and apply both start from.
func (t *agentTarget) clientAndSecrets(ctx context.Context) (*client.Client, map[string]map[string]bool, error) {
	cl, err := t.client()
	if err != nil {
		return nil, nil, err
	}
	secrets, err := jobSecrets(ctx, cl)
	if err != nil {
		return nil, nil, err
	}
	return cl, secrets, nil
}

// jobSecrets is, per job of the agent, its secret parameters.
func jobSecrets(ctx context.Context, cl *client.Client) (map[string]map[string]bool, error) {
	js, err := cl.Jobs(ctx)
	if err != nil {
		return nil, fmt.Errorf("list the jobs: %w", err)
	}
	out := make(map[string]map[string]bool, len(js))
	for _, j := range js {
		out[j.ID] = map[string]bool{}
		for _, p := range j.Parameters {
			if p.Secret {
				out[j.ID][p.Name] = true
			}
		}
	}
	return out, nil
}

// secretVar is an environment variable an exported file refers to.
type secretVar struct{ name, rule, param string }

// exportRules turns the agent's rules into a rules file: by name, with
// only what api.RuleInput takes and what differs from its defaults, each
// secret parameter (which the agent shows masked) as a reference to an
// environment variable named after the rule and the parameter.
func exportRules(rules []api.Rule, secrets map[string]map[string]bool) (rulesFile, []secretVar) {
	rules = slices.Clone(rules)
	slices.SortFunc(rules, func(a, b api.Rule) int { return strings.Compare(a.Name, b.Name) })
	file := rulesFile{Rules: make([]api.RuleInput, 0, len(rules))}
	var vars []secretVar
	used := map[string]bool{}
	for _, r := range rules {
		in := api.RuleInput{
			Name: r.Name, Job: r.Job, Schedule: r.Schedule, StartDate: r.StartDate, EndDate: r.EndDate,
			FlexibleWindow: shortDuration(r.FlexibleWindow), Description: r.Description,
			Timeout: shortDuration(r.Timeout), Chains: r.Chains, RunPolicy: r.RunPolicy,
		}
		if r.Timezone != "UTC" {
			in.Timezone = r.Timezone
		}
		if !r.Enabled {
			in.Enabled = new(bool)
		}
		if r.Overlap != api.OverlapAllow {
			in.Overlap = r.Overlap
		}
		if len(r.Notify.On) > 0 || len(r.Notify.Channels) > 0 {
			in.Notify = &api.NotifyPolicy{On: r.Notify.On, Channels: r.Notify.Channels}
		}
		omitPolicyDefaults(&in.RunPolicy)
		jobSecret, known := secrets[r.Job]
		for _, k := range slices.Sorted(maps.Keys(r.Parameters)) {
			if in.Parameters == nil {
				in.Parameters = map[string]string{}
			}
			v := r.Parameters[k]
			if jobSecret[k] || (!known && v == api.MaskedValue) {
				name := secretVarName(r.Name, k)
				for n := 2; used[name]; n++ {
					name = fmt.Sprintf("%s_%d", secretVarName(r.Name, k), n)
				}
				used[name] = true
				vars = append(vars, secretVar{name: name, rule: r.Name, param: k})
				v = "${env:" + name + "}"
			} else {
				v = strings.ReplaceAll(v, "${", "$${") // a plain value's ${ is literal
			}
			in.Parameters[k] = v
		}
		file.Rules = append(file.Rules, in)
	}
	return file, vars
}

// secretVarName is JOBBRIDGE_SECRET_RULE_PARAM, upper case, every
// character but letters and digits as "_".
func secretVarName(rule, param string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToUpper("JOBBRIDGE_SECRET_"+rule+"_"+param))
}

// shortDuration writes a duration the agent shows ("30m0s") without its
// zero parts ("30m").
func shortDuration(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil || d == 0 {
		return s
	}
	return api.FormatDuration(d)
}

// The agent's defaults of a run policy (agent/internal/service), left out
// of an exported file.
const (
	defaultRetryBackoff    = 30 * time.Second
	defaultRetryMaxBackoff = time.Hour
	defaultCatchUpWindow   = time.Hour
)

func omitPolicyDefaults(p *api.RunPolicy) {
	is := func(s string, d time.Duration) bool {
		v, err := time.ParseDuration(s)
		return err == nil && v == d
	}
	if r := p.Retry; r != nil {
		backoff := defaultRetryBackoff
		if r.Backoff != "" {
			backoff, _ = time.ParseDuration(r.Backoff)
		}
		if is(r.MaxBackoff, max(defaultRetryMaxBackoff, backoff)) {
			r.MaxBackoff = ""
		}
		if is(r.Backoff, defaultRetryBackoff) {
			r.Backoff = ""
		}
	}
	if p.CatchUp == api.CatchUpNone {
		p.CatchUp = ""
	}
	if p.CatchUp != "" && is(p.CatchUpWindow, defaultCatchUpWindow) {
		p.CatchUpWindow = ""
	}
}

// encodeRules writes the file as JSON or YAML, in api.RuleInput's field
// order with map keys sorted, so that two exports differ only where the
// rules do.
func encodeRules(file rulesFile, format string) ([]byte, error) {
	js, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode the rules: %w", err)
	}
	if format == "json" {
		return append(js, '\n'), nil
	}
	// JSON is YAML: read it as a YAML tree, which keeps the order, and
	// write that in block style.
	var doc yaml.Node
	if err := yaml.Unmarshal(js, &doc); err != nil {
		return nil, fmt.Errorf("encode the rules as YAML: %w", err)
	}
	var restyle func(n *yaml.Node)
	restyle = func(n *yaml.Node) {
		n.Style = 0
		// YAML 1.1 readers take these for booleans: quote them for them.
		if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && slices.Contains(yaml11Bools, strings.ToLower(n.Value)) {
			n.Style = yaml.DoubleQuotedStyle
		}
		for _, c := range n.Content {
			restyle(c)
		}
	}
	restyle(&doc)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("encode the rules as YAML: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode the rules as YAML: %w", err)
	}
	return b.Bytes(), nil
}

var yaml11Bools = []string{"y", "n", "yes", "no", "on", "off"}

func newRulesApplyCmd(getenv func(string) string) *cobra.Command {
	var path string
	var dryRun, prune bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE [--dry-run] [--prune]",
		Short: "make the agent's rules match a rules file (YAML or JSON): print the plan, then apply it",
		Args:  noArgs,
	}
	target := bindAgentTarget(cmd, getenv)
	cmd.Flags().StringVarP(&path, "file", "f", "", "the rules file (YAML or JSON)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete the agent's rules that the file lacks (without it they are kept)")
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		if path == "" {
			return usageErrorf("rules apply needs -f FILE")
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return &ExitError{Code: 2, Err: fmt.Errorf("read the rules file: %w", err)}
		}
		var file rulesFile
		pos, err := yamlfile.Decode(path, data, &file)
		if err != nil {
			return fileError(err)
		}
		if _, ok := pos["rules"]; !ok || file.Rules == nil {
			// An empty set with --prune deletes every rule: say it.
			return fileError(yamlfile.Problems{{File: path, Line: pos.Line(""), Msg: "the file has no rules: list (write rules: [] for none)"}})
		}
		ctx := c.Context()
		cl, secrets, err := target.clientAndSecrets(ctx)
		if err != nil {
			return err
		}
		if err := resolveReferences(path, pos, file.Rules, secrets, getenv); err != nil {
			return fileError(err)
		}
		in := api.RulesApply{Rules: file.Rules, Prune: prune, DryRun: true}
		plan, err := cl.ApplyRules(ctx, in)
		if err != nil {
			return applyError(path, pos, err)
		}
		out := c.OutOrStdout()
		printPlan(out, plan, file.Rules, secrets)
		switch {
		case plan.Create+plan.Update+plan.Delete == 0:
			fmt.Fprintln(out, "no changes")
			return nil
		case dryRun:
			fmt.Fprintln(out, "dry run: nothing changed")
			return nil
		}
		in.DryRun = false
		done, err := cl.ApplyRules(ctx, in)
		if err != nil {
			return applyError(path, pos, err)
		}
		if !done.Applied {
			fmt.Fprintln(out, "no changes (the agent had them already)")
			return nil
		}
		if !samePlan(plan, done) {
			// Someone changed the agent's rules between the plan and the
			// apply: say what was done, not only what was planned.
			fmt.Fprintln(out, "the agent's rules changed since the plan above; what was applied:")
			printPlan(out, done, file.Rules, secrets)
		}
		fmt.Fprintf(out, "applied: %d created, %d updated, %d deleted, %d unchanged\n", done.Create, done.Update, done.Delete, done.Unchanged)
		return nil
	}
	return cmd
}

// samePlan reports whether two plans list the same changes.
func samePlan(a, b api.RulesPlan) bool {
	return slices.EqualFunc(a.Changes, b.Changes, func(x, y api.RuleChange) bool {
		return x.Rule == y.Rule && x.Action == y.Action && slices.Equal(x.Fields, y.Fields)
	})
}

// fileError is a bad rules file: its problems, one a line, exit 2.
func fileError(err error) error {
	var ps yamlfile.Problems
	if errors.As(err, &ps) {
		return &ExitError{Code: 2, Err: ps}
	}
	return err
}

// applyError shows the agent's refusal of the set at the file's lines.
func applyError(path string, pos yamlfile.Positions, err error) error {
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 400 || len(ce.Problem.Errors) == 0 {
		return fmt.Errorf("apply the rules: %w", err)
	}
	ps := make(yamlfile.Problems, 0, len(ce.Problem.Errors))
	for _, e := range ce.Problem.Errors {
		field, ok := strings.CutPrefix(e.Location, "body.")
		if !ok {
			field = e.Location
		}
		line := 0
		if ok {
			line = pos.Line(field)
		}
		ps = append(ps, yamlfile.Problem{File: path, Line: line, Path: field, Msg: e.Message})
	}
	slices.SortStableFunc(ps, func(a, b yamlfile.Problem) int { return a.Line - b.Line })
	return &ExitError{Code: 2, Err: ps}
}

// reference is ${env:NAME} or ${file:PATH} in a parameter's value.
var reference = regexp.MustCompile(`\$\{(env|file):([^}]*)\}`)

// resolveReferences replaces the ${env:NAME} and ${file:PATH} references
// in the rules' parameter values with what they name, and refuses a
// secret parameter given as a value: a rules file is committed, its
// secrets live elsewhere. Every problem is at its line of the file.
func resolveReferences(path string, pos yamlfile.Positions, rules []api.RuleInput, secrets map[string]map[string]bool, getenv func(string) string) error {
	dir := filepath.Dir(path)
	var ps yamlfile.Problems
	for i, r := range rules {
		for _, k := range slices.Sorted(maps.Keys(r.Parameters)) {
			v := r.Parameters[k]
			field := fmt.Sprintf("rules[%d].parameters.%s", i, k)
			fail := func(format string, args ...any) {
				ps = append(ps, yamlfile.Problem{File: path, Line: pos.Line(field), Path: field, Msg: fmt.Sprintf(format, args...)})
			}
			if !secrets[r.Job][k] {
				// Only a secret is read from elsewhere: a reference in a
				// plain value would put what it names where every viewer
				// reads it (and print it in the plan).
				if reference.MatchString(strings.ReplaceAll(v, "$${", "\x00")) { // an escaped ${ is no reference
					fail("is not secret, so it takes no ${env:…} or ${file:…}: write its value (a literal ${ as $${)")
					continue
				}
				r.Parameters[k] = strings.ReplaceAll(v, "$${", "${")
				continue
			}
			if m := reference.FindStringIndex(v); m == nil || m[0] != 0 || m[1] != len(v) {
				fail("is a secret: write it as ${env:NAME} or ${file:PATH}, not its value")
				continue
			}
			r.Parameters[k] = reference.ReplaceAllStringFunc(v, func(ref string) string {
				m := reference.FindStringSubmatch(ref)
				kind, name := m[1], m[2]
				switch {
				case name == "":
					fail("%s names no %s", ref, map[string]string{"env": "variable", "file": "file"}[kind])
				case kind == "env":
					val := getenv(name)
					if val == "" {
						fail("%s: the environment variable %s is not set (or empty)", ref, name)
					}
					return val
				default:
					p := name
					if !filepath.IsAbs(p) {
						p = filepath.Join(dir, p)
					}
					b, err := os.ReadFile(p)
					if err != nil {
						fail("%s: cannot read the file: %v", ref, unwrapPathError(err))
						break
					}
					return strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
				}
				return ref
			})
		}
	}
	if len(ps) > 0 {
		return ps
	}
	return nil
}

// unwrapPathError is err without the path that the message shows already.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// printPlan writes a plan as a person reads it: + create, ~ update with
// each field's change, - delete, then the counts of what stays.
func printPlan(w io.Writer, plan api.RulesPlan, rules []api.RuleInput, secrets map[string]map[string]bool) {
	jobOf := map[string]string{}
	for _, r := range rules {
		jobOf[r.Name] = r.Job
	}
	var kept []string
	for _, c := range plan.Changes {
		switch c.Action {
		case api.PlanCreate:
			fmt.Fprintf(w, "+ create %s\n", shown(c.Rule))
		case api.PlanDelete:
			fmt.Fprintf(w, "- delete %s\n", shown(c.Rule))
		case api.PlanKept:
			kept = append(kept, shown(c.Rule))
		case api.PlanUpdate:
			fmt.Fprintf(w, "~ update %s\n", shown(c.Rule))
			for _, f := range c.Fields {
				param, isParam := strings.CutPrefix(f.Field, "parameters.")
				if isParam && secrets[jobOf[c.Rule]][param] {
					fmt.Fprintf(w, "    %s: %s\n", shown(f.Field), secretChange(f))
					continue
				}
				fmt.Fprintf(w, "    %s: %s → %s\n", shown(f.Field), orNone(f.From), orNone(f.To))
			}
		}
	}
	if plan.Unchanged > 0 {
		fmt.Fprintf(w, "= %d unchanged\n", plan.Unchanged)
	}
	if len(kept) > 0 {
		fmt.Fprintf(w, "kept, not in the file (--prune deletes them): %s\n", strings.Join(kept, ", "))
	}
}

func secretChange(f api.FieldChange) string {
	switch {
	case f.From == "":
		return "(secret set)"
	case f.To == "":
		return "(secret removed)"
	}
	return "(secret changed)"
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return shown(s)
}

// shown is s for a terminal: quoted when it holds a control character or
// anything else not printable, so that nothing from the agent can move
// the cursor or change colours.
func shown(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) {
		return strconv.Quote(s)
	}
	return s
}
