// Package ebtest is a recording stand-in for EventBridge for tests: an
// httptest server that speaks EventBridge's JSON 1.1 protocol and
// EventBridge Scheduler's REST JSON protocol to the real SDK clients,
// records every request (the operation and its body) and answers like AWS
// from a small in-memory model. It also answers the two query-API calls
// `agent aws doctor` makes (STS GetCallerIdentity, IAM GetRole). Tests
// queue errors and partial failures per operation.
package ebtest

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Fake is the recording EventBridge. Its zero value is not usable; call
// NewFake.
type Fake struct {
	srv *httptest.Server

	mu           sync.Mutex
	calls        []Call
	connections  map[string]map[string]any // name → described connection
	destinations map[string]map[string]any
	rules        map[string]map[string]any    // name → rule as ListRules answers it
	tags         map[string]map[string]string // rule ARN → tags
	targets      map[string][]map[string]any  // rule name → targets as put
	failures     map[string][]Failure         // op → answers to give before the model's
	roles        map[string]string            // IAM role name → trust policy JSON
	buses        map[string]bool              // event bus names
	groups       map[string]map[string]any    // schedule group name → as GetScheduleGroup answers it
	groupTags    map[string]map[string]string // schedule group ARN → tags
	schedules    map[string]map[string]any    // "group/name" → schedule as GetSchedule answers it
	seq          int
}

// Call is one recorded request.
type Call struct {
	Op   string         // the X-Amz-Target operation, e.g. "PutRule"
	Body map[string]any // the JSON request
	At   time.Time
}

// Failure is an answer to give instead of the model's: an AWS error
// (Code set) or, for PutTargets, a 200 with failed entries (Entries set).
type Failure struct {
	Status  int
	Code    string
	Message string
	Entries []map[string]any
}

// The account and region of the ARNs the fake makes.
const (
	Account = "123456789012"
	Region  = "eu-west-1"
)

// NewFake starts a fake EventBridge, stopped when the test ends.
func NewFake(t testing.TB) *Fake {
	t.Helper()
	f := &Fake{
		connections:  make(map[string]map[string]any),
		destinations: make(map[string]map[string]any),
		rules:        make(map[string]map[string]any),
		tags:         make(map[string]map[string]string),
		targets:      make(map[string][]map[string]any),
		failures:     make(map[string][]Failure),
		roles:        make(map[string]string),
		buses:        map[string]bool{"default": true},
		groups:       make(map[string]map[string]any),
		groupTags:    make(map[string]map[string]string),
		schedules:    make(map[string]map[string]any),
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// AWSConfig points the real SDK at the fake, with the SDK's own retries
// off so every request the backend makes is one recorded call.
func (f *Fake) AWSConfig() aws.Config {
	return aws.Config{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(f.srv.URL),
		HTTPClient:   f.srv.Client(),
		Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
	}
}

// FailNext makes the next calls of op answer the failures, in order.
func (f *Fake) FailNext(op string, failures ...Failure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[op] = append(f.failures[op], failures...)
}

// Reset forgets the recorded calls.
func (f *Fake) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = nil
}

// Ops lists the recorded operations in order.
func (f *Fake) Ops() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	ops := make([]string, len(f.calls))
	for i, c := range f.calls {
		ops[i] = c.Op
	}
	return ops
}

// CallsOf returns the recorded calls of op, of every operation if op is "".
func (f *Fake) CallsOf(op string) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Call
	for _, c := range f.calls {
		if op == "" || c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Writes lists the recorded operations that change something in AWS.
// (Reads are Describe*, List* and Get*.)
func (f *Fake) Writes() []string {
	var w []string
	for _, op := range f.Ops() {
		if !strings.HasPrefix(op, "Describe") && !strings.HasPrefix(op, "List") && !strings.HasPrefix(op, "Get") {
			w = append(w, op)
		}
	}
	return w
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		f.serveQuery(w, r)
		return
	}
	if r.Header.Get("X-Amz-Target") == "" {
		f.serveScheduler(w, r)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AWSEvents.")
	if !ok || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" || r.Header.Get("Authorization") == "" {
		http.Error(w, "not a signed EventBridge JSON 1.1 request: "+target, http.StatusBadRequest)
		return
	}
	raw, _ := io.ReadAll(r.Body)
	body := map[string]any{}
	if err := json.Unmarshal(raw, &body); err != nil {
		http.Error(w, "bad JSON", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Op: op, Body: body, At: time.Now()})
	if q := f.failures[op]; len(q) > 0 {
		fail := q[0]
		f.failures[op] = q[1:]
		if fail.Entries != nil {
			answer(w, map[string]any{"FailedEntryCount": len(fail.Entries), "FailedEntries": fail.Entries})
			return
		}
		awsError(w, fail.Status, fail.Code, fail.Message)
		return
	}
	f.model(w, op, body)
}

func answer(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	json.NewEncoder(w).Encode(v)
}

func awsError(w http.ResponseWriter, status int, code, msg string) {
	if status == 0 {
		status = http.StatusBadRequest
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"__type": code, "message": msg})
}

func str(m map[string]any, k string) string { s, _ := m[k].(string); return s }

// busOf is the event bus a request names, the default one if none.
func busOf(in map[string]any) string {
	if b := str(in, "EventBusName"); b != "" {
		return b
	}
	return "default"
}

// model answers op like EventBridge does. Called with f.mu held.
func (f *Fake) model(w http.ResponseWriter, op string, in map[string]any) {
	arn := func(kind, name string) string {
		return fmt.Sprintf("arn:aws:events:%s:%s:%s/%s", Region, Account, kind, name)
	}
	notFound := func(what string) { awsError(w, 400, "ResourceNotFoundException", what+" does not exist.") }
	name := str(in, "Name")
	switch op {
	case "DescribeConnection":
		c, ok := f.connections[name]
		if !ok {
			notFound("Connection '" + name + "'")
			return
		}
		answer(w, c)
	case "CreateConnection", "UpdateConnection":
		c, exists := f.connections[name]
		if op == "CreateConnection" && exists {
			awsError(w, 400, "ResourceAlreadyExistsException", "Connection "+name+" already exists.")
			return
		}
		if op == "UpdateConnection" && !exists {
			notFound("Connection '" + name + "'")
			return
		}
		if !exists {
			f.seq++
			c = map[string]any{"Name": name, "ConnectionArn": arn("connection", fmt.Sprintf("%s/%08d-0000-4000-8000-000000000000", name, f.seq))}
			f.connections[name] = c
		}
		auth, _ := in["AuthParameters"].(map[string]any)
		key, _ := auth["ApiKeyAuthParameters"].(map[string]any)
		c["AuthorizationType"] = in["AuthorizationType"]
		c["AuthParameters"] = map[string]any{"ApiKeyAuthParameters": map[string]any{"ApiKeyName": key["ApiKeyName"]}}
		c["ConnectionState"] = "AUTHORIZED"
		answer(w, map[string]any{"ConnectionArn": c["ConnectionArn"], "ConnectionState": "AUTHORIZED"})
	case "DescribeApiDestination":
		d, ok := f.destinations[name]
		if !ok {
			notFound("ApiDestination '" + name + "'")
			return
		}
		answer(w, d)
	case "CreateApiDestination", "UpdateApiDestination":
		d, exists := f.destinations[name]
		if op == "CreateApiDestination" && exists {
			awsError(w, 400, "ResourceAlreadyExistsException", "ApiDestination "+name+" already exists.")
			return
		}
		if op == "UpdateApiDestination" && !exists {
			notFound("ApiDestination '" + name + "'")
			return
		}
		if !exists {
			f.seq++
			d = map[string]any{"Name": name, "ApiDestinationArn": arn("api-destination", fmt.Sprintf("%s/%08d-0000-4000-8000-000000000000", name, f.seq)), "ApiDestinationState": "ACTIVE"}
			f.destinations[name] = d
		}
		for _, k := range []string{"ConnectionArn", "InvocationEndpoint", "HttpMethod", "InvocationRateLimitPerSecond"} {
			if v, ok := in[k]; ok {
				d[k] = v
			}
		}
		answer(w, map[string]any{"ApiDestinationArn": d["ApiDestinationArn"], "ApiDestinationState": "ACTIVE"})
	case "DescribeEventBus":
		bus := name
		if bus == "" {
			bus = "default"
		}
		if !f.buses[bus] {
			notFound("Event bus " + bus)
			return
		}
		answer(w, map[string]any{"Name": bus, "Arn": arn("event-bus", bus)})
	case "DescribeRule":
		r, ok := f.rules[name]
		if !ok || str(r, "EventBusName") != busOf(in) {
			notFound("Rule " + name)
			return
		}
		answer(w, r)
	case "PutRule":
		bus := busOf(in)
		if !f.buses[bus] {
			notFound("Event bus " + bus)
			return
		}
		r, exists := f.rules[name]
		ruleARN := arn("rule", name)
		if bus != "default" {
			ruleARN = arn("rule", bus+"/"+name)
		}
		if !exists {
			r = map[string]any{"Name": name, "Arn": ruleARN, "EventBusName": bus}
			f.rules[name] = r
			// Like AWS, tags count only when the rule is created.
			tags := map[string]string{}
			for _, t := range in["Tags"].([]any) {
				tm := t.(map[string]any)
				tags[str(tm, "Key")] = str(tm, "Value")
			}
			f.tags[ruleARN] = tags
		}
		for _, k := range []string{"ScheduleExpression", "EventPattern", "State", "Description"} {
			if v, ok := in[k]; ok {
				r[k] = v
			} else {
				delete(r, k)
			}
		}
		answer(w, map[string]any{"RuleArn": ruleARN})
	case "PutTargets":
		rule := str(in, "Rule")
		if _, ok := f.rules[rule]; !ok {
			notFound("Rule " + rule)
			return
		}
		for _, t := range in["Targets"].([]any) {
			tm := t.(map[string]any)
			f.targets[rule] = slices.DeleteFunc(f.targets[rule], func(old map[string]any) bool { return old["Id"] == tm["Id"] })
			f.targets[rule] = append(f.targets[rule], tm)
		}
		answer(w, map[string]any{"FailedEntryCount": 0, "FailedEntries": []any{}})
	case "ListTargetsByRule":
		rule := str(in, "Rule")
		if _, ok := f.rules[rule]; !ok {
			notFound("Rule " + rule)
			return
		}
		answer(w, map[string]any{"Targets": f.targets[rule]})
	case "RemoveTargets":
		rule := str(in, "Rule")
		if _, ok := f.rules[rule]; !ok {
			notFound("Rule " + rule)
			return
		}
		for _, id := range in["Ids"].([]any) {
			f.targets[rule] = slices.DeleteFunc(f.targets[rule], func(t map[string]any) bool { return t["Id"] == id })
		}
		answer(w, map[string]any{"FailedEntryCount": 0, "FailedEntries": []any{}})
	case "DeleteRule":
		if _, ok := f.rules[name]; !ok {
			notFound("Rule " + name)
			return
		}
		if len(f.targets[name]) > 0 {
			awsError(w, 400, "ValidationException", "Rule can't be deleted since it has targets.")
			return
		}
		delete(f.tags, str(f.rules[name], "Arn"))
		delete(f.rules, name)
		answer(w, map[string]any{})
	case "ListRules":
		prefix := str(in, "NamePrefix")
		var names []string
		for n, r := range f.rules {
			if strings.HasPrefix(n, prefix) && str(r, "EventBusName") == busOf(in) {
				names = append(names, n)
			}
		}
		slices.Sort(names)
		// Pages of 2 so the backend's paging is exercised.
		start := 0
		if tok := str(in, "NextToken"); tok != "" {
			fmt.Sscanf(tok, "page-%d", &start)
		}
		end := min(start+2, len(names))
		out := map[string]any{}
		var page []any
		for _, n := range names[start:end] {
			page = append(page, f.rules[n])
		}
		out["Rules"] = page
		if end < len(names) {
			out["NextToken"] = fmt.Sprintf("page-%d", end)
		}
		answer(w, out)
	case "ListTagsForResource":
		var tags []any
		for k, v := range f.tags[str(in, "ResourceARN")] {
			tags = append(tags, map[string]any{"Key": k, "Value": v})
		}
		answer(w, map[string]any{"Tags": tags})
	default:
		awsError(w, 400, "UnknownOperationException", "the fake does not know "+op)
	}
}

// PutForeignRule adds a rule to the model as if someone else had made it.
func (f *Fake) PutForeignRule(name, schedule string, tags map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ruleARN := fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", Region, Account, name)
	f.rules[name] = map[string]any{"Name": name, "Arn": ruleARN, "EventBusName": "default", "ScheduleExpression": schedule, "State": "ENABLED"}
	f.tags[ruleARN] = tags
}

// AddEventBus adds a custom event bus to the model.
func (f *Fake) AddEventBus(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.buses[name] = true
}

// Rule returns a copy of a rule as DescribeRule answers it, nil if there is
// none.
func (f *Fake) Rule(name string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return clone(f.rules[name])
}

// RuleNames lists the rules in the model.
func (f *Fake) RuleNames() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for n := range f.rules {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// RuleField reads a field of a rule in the model.
func (f *Fake) RuleField(name, field string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return str(f.rules[name], field)
}

// URL is the fake's endpoint, for AWS_ENDPOINT_URL_EVENTBRIDGE.
func (f *Fake) URL() string { return f.srv.URL }

// Connection returns a copy of the connection as DescribeConnection
// answers it, nil if there is none.
func (f *Fake) Connection(name string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return clone(f.connections[name])
}

// Destination returns a copy of the API destination as
// DescribeApiDestination answers it, nil if there is none.
func (f *Fake) Destination(name string) map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return clone(f.destinations[name])
}

// Targets returns a copy of the targets of a rule.
func (f *Fake) Targets(rule string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []map[string]any
	for _, t := range f.targets[rule] {
		out = append(out, clone(t))
	}
	return out
}

// DropRule deletes a rule and its targets behind the agent's back, as
// someone in the console would.
func (f *Fake) DropRule(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.tags, str(f.rules[name], "Arn"))
	delete(f.rules, name)
	delete(f.targets, name)
}

// SetRuleField changes a field of a rule behind the agent's back.
func (f *Fake) SetRuleField(name, field, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules[name][field] = value
}

// SetTargetField changes a field of a rule's i-th target behind the agent's
// back.
func (f *Fake) SetTargetField(rule string, i int, field string, value any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.targets[rule][i][field] = value
}

func clone(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	b, _ := json.Marshal(m)
	var out map[string]any
	json.Unmarshal(b, &out)
	return out
}

// SetRole adds an IAM role with the given trust policy (JSON) for GetRole.
func (f *Fake) SetRole(name, trustPolicy string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.roles[name] = trustPolicy
}

// serveQuery answers the AWS query-protocol calls the doctor makes: STS
// GetCallerIdentity and IAM GetRole, in XML as AWS does. The recorded
// body holds the form's values.
func (f *Fake) serveQuery(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") == "" {
		http.Error(w, "unsigned request", http.StatusBadRequest)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	op := r.PostForm.Get("Action")
	body := map[string]any{}
	for k, v := range r.PostForm {
		body[k] = v[0]
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, Call{Op: op, Body: body, At: time.Now()})
	xmlError := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fake</RequestId></ErrorResponse>", esc(code), esc(msg))
	}
	if q := f.failures[op]; len(q) > 0 {
		fail := q[0]
		f.failures[op] = q[1:]
		status := fail.Status
		if status == 0 {
			status = http.StatusForbidden
		}
		xmlError(status, fail.Code, fail.Message)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	switch op {
	case "GetCallerIdentity":
		fmt.Fprintf(w, "<GetCallerIdentityResponse><GetCallerIdentityResult><Account>%s</Account><Arn>arn:aws:iam::%s:user/jobbridge-agent</Arn><UserId>AIDATEST</UserId></GetCallerIdentityResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetCallerIdentityResponse>", Account, Account)
	case "GetRole":
		name := r.PostForm.Get("RoleName")
		trust, ok := f.roles[name]
		if !ok {
			xmlError(http.StatusNotFound, "NoSuchEntity", "The role with name "+name+" cannot be found.")
			return
		}
		fmt.Fprintf(w, "<GetRoleResponse><GetRoleResult><Role><Path>/</Path><AssumeRolePolicyDocument>%s</AssumeRolePolicyDocument><RoleId>AROATEST</RoleId><RoleName>%s</RoleName><Arn>arn:aws:iam::%s:role/%s</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate></Role></GetRoleResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetRoleResponse>",
			esc(url.PathEscape(trust)), esc(name), Account, esc(name))
	default:
		xmlError(http.StatusBadRequest, "InvalidAction", "the fake does not know "+op)
	}
}

func esc(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// SetConnectionField changes a field of a connection as DescribeConnection
// answers it, behind the agent's back.
func (f *Fake) SetConnectionField(name, field string, value any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.connections[name][field] = value
}

// DropAPIDestination deletes an API destination behind the agent's back.
func (f *Fake) DropAPIDestination(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.destinations, name)
}
