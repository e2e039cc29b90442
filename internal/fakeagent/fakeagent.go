// Package fakeagent is an agent for the console's tests: an HTTP server that
// answers the admin API the console uses (jobs, rules, runs, logs, status
// and the event stream) from memory, with shared/api types. Tests set its
// state, make runs progress and finish, and stop and restart it to see how
// the console copes.
package fakeagent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
)

// Tokens the fake agent accepts, one per role.
const (
	AdminToken    = "admin-secret-token"
	OperatorToken = "operator-secret-token"
	ViewerToken   = "viewer-secret-token"
)

// Agent is a fake agent. Its methods are safe for concurrent use.
type Agent struct {
	mu     sync.Mutex
	addr   string
	srv    *http.Server
	status api.Status
	jobs   []api.Job
	rules  map[string]*api.Rule
	runs   []*api.Run // newest first
	byID   map[string]*api.Run
	logs   map[string][]api.LogLine
	// unflushed are lines published but not stored yet (LogLater).
	unflushed map[string][]api.LogLine
	events    []api.Event
	epoch     int64 // event ids start here; a restart moves it on
	nextEv    int64
	subs      map[chan api.Event]struct{}
	nextRun   int
	now       func() time.Time
	// CancelDelay is how long a cancelled run stays cancelling.
	CancelDelay time.Duration
	// Requests counts requests per "METHOD /path" (path without query).
	Requests map[string]int
}

// New returns a fake agent with the demo jobs, listening on a free port of
// 127.0.0.1. now is its clock (nil: time.Now). Stop it with Close.
func New(now func() time.Time) (*Agent, error) {
	if now == nil {
		now = time.Now
	}
	a := &Agent{
		rules:       map[string]*api.Rule{},
		byID:        map[string]*api.Run{},
		logs:        map[string][]api.LogLine{},
		subs:        map[chan api.Event]struct{}{},
		epoch:       1_000_000,
		now:         now,
		CancelDelay: 20 * time.Millisecond,
		Requests:    map[string]int{},
		status: api.Status{
			Version: "test", Node: "node-1", Store: "sqlite", Scheduler: "local",
			StartedAt: now().UTC(), Webhook: false,
		},
		jobs: DemoJobs(),
	}
	a.nextEv = a.epoch
	if err := a.Start(); err != nil {
		return nil, err
	}
	return a, nil
}

// DemoJobs are the jobs a fake agent offers.
func DemoJobs() []api.Job {
	return []api.Job{
		{ID: "demo", Description: "Sleeps, reporting progress; fails on request.", Parameters: []api.Param{
			{Name: "duration", Description: "how long to run", Type: "duration", Default: "10s"},
			{Name: "fail", Description: "fail at the end", Type: "bool", Default: "false"},
		}},
		{ID: "http.request", Description: "Sends an HTTP request.", Parameters: []api.Param{
			{Name: "url", Description: "where to send it", Required: true, Type: "string"},
			{Name: "method", Description: "HTTP method", Type: "enum", Default: "GET", Choices: []string{"GET", "POST", "PUT", "DELETE"}},
			{Name: "token", Description: "bearer token", Type: "string", Secret: true},
			{Name: "retries", Description: "attempts after the first", Type: "int", Default: "0"},
		}},
		{ID: "orders.increment", Description: "Adds a number to a column of the orders table.", Parameters: []api.Param{
			{Name: "by", Description: "how much to add", Required: true, Type: "int"},
		}},
	}
}

// Start listens (again, on the same address after Stop) and serves.
func (a *Agent) Start() error {
	a.mu.Lock()
	addr := a.addr
	a.mu.Unlock()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var l net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port may linger briefly after Stop
		if l, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("fake agent: listen: %w", err)
	}
	srv := &http.Server{Handler: a.routes()}
	a.mu.Lock()
	a.addr = l.Addr().String()
	a.srv = srv
	a.mu.Unlock()
	go func() { _ = srv.Serve(l) }()
	return nil
}

// Stop closes the listener and every connection, event streams included,
// as an agent that goes away does.
func (a *Agent) Stop() {
	a.mu.Lock()
	srv := a.srv
	a.srv = nil
	for ch := range a.subs {
		close(ch)
		delete(a.subs, ch)
	}
	a.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// Restart stops the agent and starts it again as a new process would: the
// events it sent before are forgotten, so a client resuming the stream gets
// a reset.
func (a *Agent) Restart() error {
	a.Stop()
	a.mu.Lock()
	a.epoch = a.nextEv + 1_000_000
	a.nextEv = a.epoch
	a.events = nil
	a.mu.Unlock()
	return a.Start()
}

// Close stops the agent for good.
func (a *Agent) Close() { a.Stop() }

// URL is the agent's base URL.
func (a *Agent) URL() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return "http://" + a.addr
}

// Addr is the agent's host:port.
func (a *Agent) Addr() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.addr
}

// HTTPClient returns an HTTP client that reaches the agent whatever host
// a URL names, so tests can use a fixed URL (http://agent.test) and golden
// files do not depend on the port.
func (a *Agent) HTTPClient() *http.Client {
	d := &net.Dialer{}
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, a.Addr())
		},
	}}
}

// SetStatus replaces the status GET /status answers (Role is set per token).
func (a *Agent) SetStatus(s api.Status) {
	a.mu.Lock()
	a.status = s
	a.mu.Unlock()
}

// Requested returns how many times "METHOD /api/v1/..." was called.
func (a *Agent) Requested(route string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.Requests[route]
}

// PutRule adds or replaces a rule as is (no validation, no event).
func (a *Agent) PutRule(r api.Rule) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if r.Parameters == nil {
		r.Parameters = map[string]string{}
	}
	a.rules[r.Name] = &r
}

// Rule returns a rule as stored (secrets unmasked).
func (a *Agent) Rule(name string) (api.Rule, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.rules[name]
	if !ok {
		return api.Rule{}, false
	}
	return *r, true
}

// AddRuns adds runs as they are (no events), keeping newest first.
func (a *Agent) AddRuns(runs ...api.Run) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range runs {
		r := runs[i]
		a.runs = append(a.runs, &r)
		a.byID[r.ID] = &r
	}
	sort.SliceStable(a.runs, func(i, j int) bool { return a.runs[i].ID > a.runs[j].ID })
}

// Run returns a run.
func (a *Agent) Run(id string) (api.Run, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.byID[id]
	if !ok {
		return api.Run{}, false
	}
	return *r, true
}

// Runs returns every run, newest first.
func (a *Agent) Runs() []api.Run {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]api.Run, len(a.runs))
	for i, r := range a.runs {
		out[i] = *r
	}
	return out
}

// StartRun records a new running run of rule and publishes run.started.
func (a *Agent) StartRun(rule string, trigger api.Trigger, params map[string]string) api.Run {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.startLocked(rule, trigger, params, "")
}

func (a *Agent) startLocked(rule string, trigger api.Trigger, params map[string]string, restartOf string) api.Run {
	a.nextRun++
	now := a.now().UTC()
	job := ""
	if r, ok := a.rules[rule]; ok {
		job = r.Job
		merged := map[string]string{}
		for k, v := range r.Parameters {
			merged[k] = v
		}
		for k, v := range params {
			merged[k] = v
		}
		params = merged
	}
	run := &api.Run{
		ID:   fmt.Sprintf("run-%s-%06d", now.Format("20060102T150405"), a.nextRun),
		Rule: rule, Job: job, Status: api.StatusRunning, Trigger: trigger,
		Parameters: a.maskLocked(job, params), RestartOf: restartOf, TriggeredBy: "console",
		CreatedAt: now, StartedAt: &now, Node: "node-1",
	}
	a.runs = append([]*api.Run{run}, a.runs...)
	a.byID[run.ID] = run
	if r, ok := a.rules[rule]; ok {
		r.LastRun = &api.RunSummary{ID: run.ID, Status: run.Status, CreatedAt: run.CreatedAt}
	}
	a.publishLocked(api.Event{Type: api.EventRunStarted, RuleName: rule, Run: copyRun(run)})
	return *run
}

// Progress records a run's progress and publishes run.progress.
func (a *Agent) Progress(id string, percent int, message string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.byID[id]
	r.Progress = api.Progress{Percent: percent, Message: message}
	a.publishLocked(api.Event{Type: api.EventRunProgress, RuleName: r.Rule, Run: copyRun(r)})
}

// Log appends a line to a run's log and publishes run.log.
func (a *Agent) Log(id, level, message string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.logs[id] = append(a.logs[id], a.unflushed[id]...)
	delete(a.unflushed, id)
	lines := a.logs[id]
	line := api.LogLine{Seq: int64(len(lines) + 1), Time: a.now().UTC(), Level: level, Message: message}
	a.logs[id] = append(lines, line)
	r := a.byID[id]
	a.publishLocked(api.Event{Type: api.EventRunLog, RuleName: r.Rule, Run: copyRun(r), Log: &line})
}

// LogLater publishes a run.log event for a line it does not store until
// FlushLogs, as the real agent, which stores lines in batches, may.
func (a *Agent) LogLater(id, level, message string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	seq := int64(len(a.logs[id]) + len(a.unflushed[id]) + 1)
	line := api.LogLine{Seq: seq, Time: a.now().UTC(), Level: level, Message: message}
	if a.unflushed == nil {
		a.unflushed = map[string][]api.LogLine{}
	}
	a.unflushed[id] = append(a.unflushed[id], line)
	r := a.byID[id]
	a.publishLocked(api.Event{Type: api.EventRunLog, RuleName: r.Rule, Run: copyRun(r), Log: &line})
}

// FlushLogs stores the lines LogLater held back.
func (a *Agent) FlushLogs() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, lines := range a.unflushed {
		a.logs[id] = append(a.logs[id], lines...)
	}
	a.unflushed = nil
}

// Finish ends a run and publishes run.finished.
func (a *Agent) Finish(id string, status api.RunStatus, errText string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.finishLocked(id, status, errText)
}

func (a *Agent) finishLocked(id string, status api.RunStatus, errText string) {
	r := a.byID[id]
	if r == nil || r.Status.Terminal() {
		return
	}
	now := a.now().UTC()
	r.Status, r.Error, r.FinishedAt = status, errText, &now
	if status == api.StatusSucceeded {
		r.Progress.Percent = 100
	}
	if rule, ok := a.rules[r.Rule]; ok && rule.LastRun != nil && rule.LastRun.ID == id {
		rule.LastRun.Status, rule.LastRun.FinishedAt = status, &now
	}
	a.publishLocked(api.Event{Type: api.EventRunFinished, RuleName: r.Rule, Run: copyRun(r)})
}

// Publish sends an event to every stream (its ID and Time are set).
func (a *Agent) Publish(ev api.Event) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.publishLocked(ev)
}

func (a *Agent) publishLocked(ev api.Event) {
	a.nextEv++
	ev.ID = strconv.FormatInt(a.nextEv, 10)
	ev.Time = a.now().UTC()
	a.events = append(a.events, ev)
	for ch := range a.subs {
		select {
		case ch <- ev:
		default: // a slow stream is dropped; it resumes with Last-Event-ID
			close(ch)
			delete(a.subs, ch)
		}
	}
}

func copyRun(r *api.Run) *api.Run {
	c := *r
	c.Parameters = make(map[string]string, len(r.Parameters))
	for k, v := range r.Parameters {
		c.Parameters[k] = v
	}
	return &c
}

func (a *Agent) jobLocked(id string) (api.Job, bool) {
	for _, j := range a.jobs {
		if j.ID == id {
			return j, true
		}
	}
	return api.Job{}, false
}

func (a *Agent) maskLocked(job string, params map[string]string) map[string]string {
	out := make(map[string]string, len(params))
	j, _ := a.jobLocked(job)
	for k, v := range params {
		out[k] = v
		for _, p := range j.Parameters {
			if p.Name == k && p.Secret {
				out[k] = api.MaskedValue
			}
		}
	}
	return out
}

func (a *Agent) ruleOut(r *api.Rule) api.Rule {
	c := *r
	c.Parameters = a.maskLocked(r.Job, r.Parameters)
	return c
}

// ---- HTTP ----

type handler func(w http.ResponseWriter, r *http.Request, role string)

func (a *Agent) routes() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern, least string, h handler) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			a.mu.Lock()
			a.Requests[r.Method+" "+r.URL.Path]++
			a.mu.Unlock()
			role := roleOf(r.Header.Get("Authorization"))
			if role == "" {
				problem(w, http.StatusUnauthorized, "missing or unknown token")
				return
			}
			if rank(role) < rank(least) {
				problem(w, http.StatusForbidden, "a "+role+" token may not do this")
				return
			}
			h(w, r, role)
		})
	}
	v := api.RoleViewer
	route("GET /api/v1/status", v, a.getStatus)
	route("GET /api/v1/jobs", v, a.listJobs)
	route("GET /api/v1/jobs/{id}", v, a.getJob)
	route("GET /api/v1/rules", v, a.listRules)
	route("GET /api/v1/rules/{name}", v, a.getRule)
	route("POST /api/v1/rules", api.RoleAdmin, a.createRule)
	route("PUT /api/v1/rules/{name}", api.RoleAdmin, a.replaceRule)
	route("DELETE /api/v1/rules/{name}", api.RoleAdmin, a.deleteRule)
	route("POST /api/v1/rules/{name}/enable", api.RoleAdmin, a.enable(true))
	route("POST /api/v1/rules/{name}/disable", api.RoleAdmin, a.enable(false))
	route("POST /api/v1/rules/{name}/trigger", api.RoleOperator, a.trigger)
	route("GET /api/v1/runs", v, a.listRuns)
	route("GET /api/v1/runs/{id}", v, a.getRun)
	route("GET /api/v1/runs/{id}/log", v, a.getLog)
	route("POST /api/v1/runs/{id}/cancel", api.RoleOperator, a.cancel)
	route("POST /api/v1/runs/{id}/restart", api.RoleOperator, a.restart)
	route("GET /api/v1/events", v, a.stream)
	return mux
}

func roleOf(auth string) string {
	switch strings.TrimPrefix(auth, "Bearer ") {
	case AdminToken:
		return api.RoleAdmin
	case OperatorToken:
		return api.RoleOperator
	case ViewerToken:
		return api.RoleViewer
	}
	return ""
}

func rank(role string) int {
	return slices.Index([]string{api.RoleViewer, api.RoleOperator, api.RoleAdmin}, role)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func problem(w http.ResponseWriter, status int, detail string, errs ...api.ErrorDetail) {
	w.Header().Set("Content-Type", api.ProblemContentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(api.Problem{Title: http.StatusText(status), Status: status, Detail: detail, Errors: errs})
}

func (a *Agent) getStatus(w http.ResponseWriter, _ *http.Request, role string) {
	a.mu.Lock()
	s := a.status
	s.Jobs, s.Rules = len(a.jobs), len(a.rules)
	a.mu.Unlock()
	s.Role = role
	writeJSON(w, http.StatusOK, s)
}

func (a *Agent) listJobs(w http.ResponseWriter, _ *http.Request, _ string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	writeJSON(w, http.StatusOK, api.Page[api.Job]{Items: a.jobs})
}

func (a *Agent) getJob(w http.ResponseWriter, r *http.Request, _ string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	j, ok := a.jobLocked(r.PathValue("id"))
	if !ok {
		problem(w, http.StatusNotFound, "no such job")
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (a *Agent) listRules(w http.ResponseWriter, _ *http.Request, _ string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	names := make([]string, 0, len(a.rules))
	for n := range a.rules {
		names = append(names, n)
	}
	sort.Strings(names)
	items := make([]api.Rule, len(names))
	for i, n := range names {
		items[i] = a.ruleOut(a.rules[n])
	}
	writeJSON(w, http.StatusOK, api.Page[api.Rule]{Items: items})
}

func (a *Agent) getRule(w http.ResponseWriter, r *http.Request, _ string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	rule, ok := a.rules[r.PathValue("name")]
	if !ok {
		problem(w, http.StatusNotFound, "no such rule")
		return
	}
	writeJSON(w, http.StatusOK, a.ruleOut(rule))
}

func (a *Agent) checkRuleLocked(in api.RuleInput) []api.ErrorDetail {
	var errs []api.ErrorDetail
	j, ok := a.jobLocked(in.Job)
	if !ok {
		errs = append(errs, api.ErrorDetail{Location: "body.job", Message: fmt.Sprintf("%q is not a job of this agent", in.Job)})
	}
	if !strings.HasPrefix(in.Schedule, "cron(") && !strings.HasPrefix(in.Schedule, "rate(") {
		errs = append(errs, api.ErrorDetail{Location: "body.schedule", Message: "want cron(...) or rate(...)"})
	}
	for _, p := range j.Parameters {
		if p.Required && in.Parameters[p.Name] == "" {
			errs = append(errs, api.ErrorDetail{Location: "body.parameters." + p.Name, Message: "is required"})
		}
	}
	return errs
}

func (a *Agent) saveRuleLocked(in api.RuleInput, existing *api.Rule) *api.Rule {
	now := a.now().UTC()
	r := &api.Rule{Name: in.Name, CreatedAt: now, Sync: api.Sync{State: "local"}}
	if existing != nil {
		c := *existing
		r = &c
	}
	params := map[string]string{}
	for k, v := range in.Parameters {
		if v == api.MaskedValue && existing != nil {
			v = existing.Parameters[k]
		}
		params[k] = v
	}
	r.Job, r.Schedule, r.Parameters, r.Description = in.Job, in.Schedule, params, in.Description
	r.Timeout, r.Overlap, r.UpdatedAt = in.Timeout, in.Overlap, now
	r.Enabled = in.Enabled == nil || *in.Enabled
	r.ScheduleText = "as " + in.Schedule
	a.rules[r.Name] = r
	return r
}

func (a *Agent) createRule(w http.ResponseWriter, r *http.Request, _ string) {
	var in api.RuleInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	errs := a.checkRuleLocked(in)
	if in.Name == "" {
		errs = append(errs, api.ErrorDetail{Location: "body.name", Message: "is required"})
	}
	if len(errs) > 0 {
		problem(w, http.StatusBadRequest, "the rule is not valid", errs...)
		return
	}
	if _, ok := a.rules[in.Name]; ok {
		problem(w, http.StatusConflict, "a rule with this name exists")
		return
	}
	rule := a.saveRuleLocked(in, nil)
	out := a.ruleOut(rule)
	a.publishLocked(api.Event{Type: api.EventRuleCreated, RuleName: rule.Name, Rule: &out})
	writeJSON(w, http.StatusCreated, out)
}

func (a *Agent) replaceRule(w http.ResponseWriter, r *http.Request, _ string) {
	var in api.RuleInput
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, "bad JSON: "+err.Error())
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	name := r.PathValue("name")
	existing, ok := a.rules[name]
	if !ok {
		problem(w, http.StatusNotFound, "no such rule")
		return
	}
	in.Name = name
	if errs := a.checkRuleLocked(in); len(errs) > 0 {
		problem(w, http.StatusBadRequest, "the rule is not valid", errs...)
		return
	}
	rule := a.saveRuleLocked(in, existing)
	out := a.ruleOut(rule)
	a.publishLocked(api.Event{Type: api.EventRuleChanged, RuleName: name, Rule: &out})
	writeJSON(w, http.StatusOK, out)
}

func (a *Agent) deleteRule(w http.ResponseWriter, r *http.Request, _ string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	name := r.PathValue("name")
	if _, ok := a.rules[name]; !ok {
		problem(w, http.StatusNotFound, "no such rule")
		return
	}
	delete(a.rules, name)
	a.publishLocked(api.Event{Type: api.EventRuleDeleted, RuleName: name})
	w.WriteHeader(http.StatusNoContent)
}

func (a *Agent) enable(on bool) handler {
	return func(w http.ResponseWriter, r *http.Request, _ string) {
		a.mu.Lock()
		defer a.mu.Unlock()
		rule, ok := a.rules[r.PathValue("name")]
		if !ok {
			problem(w, http.StatusNotFound, "no such rule")
			return
		}
		rule.Enabled = on
		out := a.ruleOut(rule)
		a.publishLocked(api.Event{Type: api.EventRuleChanged, RuleName: rule.Name, Rule: &out})
		writeJSON(w, http.StatusOK, out)
	}
}

func (a *Agent) trigger(w http.ResponseWriter, r *http.Request, _ string) {
	var in api.RunParams
	_ = json.NewDecoder(r.Body).Decode(&in)
	a.mu.Lock()
	defer a.mu.Unlock()
	name := r.PathValue("name")
	if _, ok := a.rules[name]; !ok {
		problem(w, http.StatusNotFound, "no such rule")
		return
	}
	run := a.startLocked(name, api.TriggerManual, in.Parameters, "")
	writeJSON(w, http.StatusCreated, run)
}

func (a *Agent) listRuns(w http.ResponseWriter, r *http.Request, _ string) {
	q := r.URL.Query()
	var statuses []api.RunStatus
	if s := q.Get("status"); s != "" {
		for _, p := range strings.Split(s, ",") {
			statuses = append(statuses, api.RunStatus(p))
		}
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	offset, _ := strconv.Atoi(q.Get("cursor"))
	a.mu.Lock()
	defer a.mu.Unlock()
	var items []api.Run
	next := ""
	seen := 0
	for _, run := range a.runs {
		if len(statuses) > 0 && !slices.Contains(statuses, run.Status) ||
			q.Get("rule") != "" && run.Rule != q.Get("rule") ||
			q.Get("job") != "" && run.Job != q.Get("job") {
			continue
		}
		seen++
		if seen <= offset {
			continue
		}
		if len(items) == limit {
			next = strconv.Itoa(offset + limit)
			break
		}
		items = append(items, *copyRun(run))
	}
	if items == nil {
		items = []api.Run{}
	}
	writeJSON(w, http.StatusOK, api.Page[api.Run]{Items: items, NextCursor: next})
}

func (a *Agent) getRun(w http.ResponseWriter, r *http.Request, _ string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	run, ok := a.byID[r.PathValue("id")]
	if !ok {
		problem(w, http.StatusNotFound, "no such run")
		return
	}
	writeJSON(w, http.StatusOK, copyRun(run))
}

func (a *Agent) getLog(w http.ResponseWriter, r *http.Request, _ string) {
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 {
		limit = 1000
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	items := []api.LogLine{}
	for _, l := range a.logs[r.PathValue("id")] {
		if l.Seq > after && len(items) < limit {
			items = append(items, l)
		}
	}
	writeJSON(w, http.StatusOK, api.Page[api.LogLine]{Items: items})
}

func (a *Agent) cancel(w http.ResponseWriter, r *http.Request, _ string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	id := r.PathValue("id")
	run, ok := a.byID[id]
	if !ok {
		problem(w, http.StatusNotFound, "no such run")
		return
	}
	if !run.Status.Active() {
		problem(w, http.StatusConflict, "the run has finished")
		return
	}
	run.Status, run.CancelledBy = api.StatusCancelling, "console"
	a.publishLocked(api.Event{Type: api.EventRunCancelling, RuleName: run.Rule, Run: copyRun(run)})
	out := copyRun(run)
	time.AfterFunc(a.CancelDelay, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.finishLocked(id, api.StatusCancelled, "cancelled by console")
	})
	writeJSON(w, http.StatusOK, out)
}

func (a *Agent) restart(w http.ResponseWriter, r *http.Request, _ string) {
	var in api.RunParams
	_ = json.NewDecoder(r.Body).Decode(&in)
	a.mu.Lock()
	defer a.mu.Unlock()
	old, ok := a.byID[r.PathValue("id")]
	if !ok {
		problem(w, http.StatusNotFound, "no such run")
		return
	}
	params := map[string]string{}
	for k, v := range old.Parameters {
		if v != api.MaskedValue {
			params[k] = v
		}
	}
	for k, v := range in.Parameters {
		params[k] = v
	}
	run := a.startLocked(old.Rule, api.TriggerRestart, params, old.ID)
	writeJSON(w, http.StatusCreated, run)
}

// stream serves GET /events: the events after Last-Event-ID (or a reset
// when they are gone), then each new one, with a heartbeat comment.
func (a *Agent) stream(w http.ResponseWriter, r *http.Request, _ string) {
	fl, ok := w.(http.Flusher)
	if !ok {
		problem(w, http.StatusInternalServerError, "no flusher")
		return
	}
	ch := make(chan api.Event, 4096)
	a.mu.Lock()
	var backlog []api.Event
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		n, err := strconv.ParseInt(last, 10, 64)
		if err != nil || n < a.epoch {
			backlog = []api.Event{{Type: api.EventReset, Time: a.now().UTC()}}
		} else {
			for _, ev := range a.events {
				if id, _ := strconv.ParseInt(ev.ID, 10, 64); id > n {
					backlog = append(backlog, ev)
				}
			}
		}
	}
	a.subs[ch] = struct{}{}
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		if _, ok := a.subs[ch]; ok {
			delete(a.subs, ch)
		}
		a.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, ": hello\n\n")
	fl.Flush()
	for _, ev := range backlog {
		if err := writeEvent(w, ev); err != nil {
			return
		}
	}
	fl.Flush()
	tick := time.NewTicker(15 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			_, _ = fmt.Fprint(w, ": ping\n\n")
			fl.Flush()
		case ev, ok := <-ch:
			if !ok {
				return
			}
			if err := writeEvent(w, ev); err != nil {
				return
			}
			fl.Flush()
		}
	}
}

func writeEvent(w http.ResponseWriter, ev api.Event) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return errors.New("encode event")
	}
	if ev.ID != "" {
		if _, err := fmt.Fprintf(w, "id: %s\n", ev.ID); err != nil {
			return err
		}
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, b)
	return err
}
