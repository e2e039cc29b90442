package builtin

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/egress"
)

// DefaultHTTPRequestTimeout is how long an HTTPRequest job waits for the
// whole response when its spec gives no timeout.
const DefaultHTTPRequestTimeout = 30 * time.Second

// The parameters an HTTPRequest job may declare that keep the http job's
// meaning: credentials sent without a ${param.NAME} placeholder. Each must
// be declared secret.
var httpCredentialParams = []string{"bearer_token", "basic_auth", "secret_header"}

// HTTPRequestSpec is the request an HTTPRequest job makes, fixed when the
// job is built.
type HTTPRequestSpec struct {
	// Method is GET, POST, PUT, PATCH, DELETE or HEAD. Default GET.
	Method string
	// URL is the http:// or https:// URL to call, without a user name or
	// password. Placeholders may stand in its query's values only, never
	// in its scheme, host, port, path or a query's name, so parameters
	// never choose where the request goes; their values are percent-encoded.
	URL string
	// Headers are extra request headers; their values may hold
	// placeholders. A header whose name carries a credential
	// (Authorization, X-Api-Key, ...) takes secret parameters only, and
	// such a header or one whose value takes a secret parameter is
	// treated as the http job's secret_header: dropped on a redirect to
	// another host, never sent after a redirect to http.
	Headers map[string]string
	// Body is the request body, none when empty. It may hold placeholders
	// when its Content-Type (which takes none) says how to escape them:
	// JSON (application/json, the default when a body is given, or
	// */*+json), a value escaped as inside a JSON string, so a placeholder
	// must be between quotes, {"target": "${param.target}"}, and the body
	// JSON (a number or a boolean goes in as a string too);
	// application/x-www-form-urlencoded, a value percent-encoded, and a
	// placeholder only in a field's value (target=${param.target});
	// text/plain, a value as it is.
	Body string
	// ExpectStatus is the status that counts as success: a code such as
	// 204 or a class such as 2xx. Default 2xx.
	ExpectStatus string
	// Timeout bounds the wait for the whole response. Default
	// DefaultHTTPRequestTimeout; at most DefaultHTTPTimeout.
	Timeout time.Duration
}

// HTTPRequest is a job that makes one HTTP request fixed by its
// HTTPRequestSpec and fails unless the response has the expected status,
// like the http job but with nothing of the request left to the rule but
// its parameters' values. Those reach the request only where the spec puts
// a ${param.NAME} placeholder (a query value, a header value, the body), or,
// for the parameters bearer_token, basic_auth and secret_header, as the
// http job sends them. It connects only where its egress policy allows.
type HTTPRequest struct {
	httpCore
	id, description string
	params          []jobs.Param
	method          string
	url             *url.URL
	query           []queryPart // the URL's query, by name=value pair
	header          []headerTemplate
	body            template
	bodyKind        bodyKind
	secretBody      bool
	expect          statusExpectation
	timeout         time.Duration
}

// bodyKind is how a body's placeholders are escaped, by its Content-Type.
type bodyKind int

const (
	bodyOther bodyKind = iota // no placeholder allowed: no escaping known
	bodyJSON                  // inside a JSON string
	bodyForm                  // percent-encoded, in a field's value
	bodyText                  // text/plain: as it is
)

type queryPart struct {
	name  string // as written, with its "=" when it has one
	value template
}

type headerTemplate struct {
	name   string // canonical
	value  template
	secret bool
}

// DeclarationProblem is what is wrong with one field of a job's
// declaration.
type DeclarationProblem struct {
	// Field names the field: method, url, headers.NAME, body,
	// expectStatus, timeout, or params.NAME for a declared parameter.
	Field  string
	Reason string
}

// DeclarationError lists every problem of a job's declaration.
type DeclarationError struct {
	Job      string
	Problems []DeclarationProblem
}

func (e *DeclarationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Reason
	}
	return fmt.Sprintf("job %q: %s", e.Job, strings.Join(parts, "; "))
}

// NewHTTPRequest returns a job with the given id that makes the request
// spec describes, declaring params, connecting only where policy allows
// (nil: public addresses only). It refuses, in a *DeclarationError listing
// every problem, a spec the http job would refuse as parameters, a
// placeholder outside a query value, a header value or the body, one
// naming an undeclared parameter or a secret one in the URL (a URL is
// logged) or a non-secret one in a header carrying a credential
// (Authorization, X-Api-Key, ...), one outside a string of a JSON body or a field's value of a
// form body, one in a body of another type or in the Content-Type header,
// a header given twice, a declared parameter the request never uses, and a
// credential parameter (bearer_token, basic_auth, secret_header) not
// declared secret.
func NewHTTPRequest(id, description string, spec HTTPRequestSpec, params []jobs.Param, policy *egress.Policy, opts ...HTTPOption) (*HTTPRequest, error) {
	j := &HTTPRequest{
		httpCore: newHTTPCore(policy, opts), id: id, description: description,
		params: slices.Clone(params), method: strings.ToUpper(spec.Method), timeout: spec.Timeout,
	}
	var problems []DeclarationProblem
	problem := func(field, format string, args ...any) {
		problems = append(problems, DeclarationProblem{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if err := jobs.ValidateID(id); err != nil {
		problem("id", "%s", err)
	}
	declared := make(map[string]jobs.Param, len(params))
	for _, p := range params {
		declared[p.Name] = p
	}
	used := map[string]bool{}
	// use checks the placeholders of t, found in field.
	use := func(field string, t template, secretOK bool) {
		for _, name := range t.params() {
			p, ok := declared[name]
			switch {
			case !ok:
				problem(field, "${param.%s} names no declared parameter (declared: %s)", name, jobs.ParamNames(params))
			case slices.Contains(httpCredentialParams, name):
				problem(field, "${param.%s}: %s is sent as the http job sends it, not through a placeholder", name, name)
			case p.Secret && !secretOK:
				problem(field, "${param.%s} is secret, and a URL is logged and shown: send it in a header or the body", name)
			}
			used[name] = true
		}
	}

	if j.method == "" {
		j.method = http.MethodGet
	}
	if !slices.Contains(httpMethods, j.method) {
		problem("method", "%q is not one of %s", spec.Method, strings.Join(httpMethods, ", "))
	}

	if reason := j.parseURL(spec.URL, use); reason != "" {
		problem("url", "%s", reason)
		for _, m := range placeholder.FindAllStringSubmatch(spec.URL, -1) {
			used[m[1]] = true // misplaced, said once
		}
	} else if err := j.policy.CheckURL(j.url); err != nil {
		problem("url", "%s", err)
	}

	secretParam := func(t template) bool {
		for _, name := range t.params() {
			if declared[name].Secret {
				return true
			}
		}
		return false
	}
	var contentType string
	seenHeader := map[string]string{} // canonical name -> as written
	for _, name := range slices.Sorted(maps.Keys(spec.Headers)) {
		field := "headers." + name
		if !isHeaderName(name) {
			problem(field, "is not a header name (letters, digits and !#$%%&'*+-.^_`|~)")
			continue
		}
		t, err := parseTemplate(spec.Headers[name])
		if err != nil {
			problem(field, "%s", err)
			continue
		}
		if err := checkHeaderValue(t.literal()); err != nil {
			problem(field, "%s", err)
			continue
		}
		canonical := http.CanonicalHeaderKey(name)
		if first, dup := seenHeader[canonical]; dup {
			problem(field, "is given already, as %s (header names differ only in case)", first)
			continue
		}
		seenHeader[canonical] = name
		if canonical == "Host" && len(t.params()) > 0 {
			problem(field, "takes a parameter, and the Host header chooses where the request goes: parameters never do")
			continue
		}
		if canonical == "Content-Type" && len(t.params()) > 0 {
			problem(field, "takes a parameter, and the Content-Type says how the body's values are escaped: parameters never choose it")
			for _, name := range t.params() {
				used[name] = true // misplaced, said once
			}
			continue
		}
		if isCredentialHeader(canonical) {
			for _, name := range t.params() {
				if p, ok := declared[name]; ok && !p.Secret && !slices.Contains(httpCredentialParams, name) {
					problem(field, "${param.%s} is not secret, and %s carries a credential: declare %s secret, or its value shows to every viewer of the rule and its runs", name, canonical, name)
				}
			}
		}
		use(field, t, true)
		if canonical == "Content-Type" {
			contentType = t.literal()
		}
		j.header = append(j.header, headerTemplate{name: canonical, value: t, secret: isCredentialHeader(canonical) || secretParam(t)})
	}

	if t, err := parseTemplate(spec.Body); err != nil {
		problem("body", "%s", err)
	} else {
		use("body", t, true)
		j.body, j.secretBody = t, secretParam(t)
		if spec.Body != "" && contentType == "" {
			contentType = "application/json"
		}
		mediaType, _, _ := mime.ParseMediaType(contentType)
		switch {
		case mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"):
			j.bodyKind = bodyJSON
		case mediaType == "application/x-www-form-urlencoded":
			j.bodyKind = bodyForm
		case mediaType == "text/plain":
			j.bodyKind = bodyText
		}
		if len(t.params()) > 0 {
			var reason string
			switch j.bodyKind {
			case bodyJSON:
				reason = checkJSONBody(t)
			case bodyForm:
				reason = checkFormBody(t)
			case bodyOther:
				reason = fmt.Sprintf("takes a parameter, and a body of Content-Type %q has no escaping the job knows: placeholders go only in an application/json (the default), application/x-www-form-urlencoded or text/plain body", contentType)
			}
			if reason != "" {
				problem("body", "%s", reason)
			}
		}
	}

	var err error
	if j.expect, err = parseStatusExpectation(spec.ExpectStatus); err != nil {
		problem("expectStatus", "%s", err)
	}
	switch {
	case j.timeout == 0:
		j.timeout = DefaultHTTPRequestTimeout
	case j.timeout < 0:
		problem("timeout", "%s is negative", j.timeout)
	case j.timeout > DefaultHTTPTimeout:
		problem("timeout", "%s is longer than the longest an HTTP request may take, %s", j.timeout, DefaultHTTPTimeout)
	}

	for _, p := range params {
		field := "params." + p.Name
		switch {
		case slices.Contains(httpCredentialParams, p.Name):
			if !p.Secret {
				problem(field, "%s carries a credential: declare it secret", p.Name)
			}
		case !used[p.Name]:
			problem(field, "the request never uses it: put ${param.%s} in a query value of the url, a header's value or the body", p.Name)
		}
	}
	if len(problems) > 0 {
		return nil, &DeclarationError{Job: id, Problems: problems}
	}
	return j, nil
}

var httpMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}

// parseURL reads raw into j.url and j.query, or says why it is refused.
// The reason never quotes the URL: it could hold a password.
func (j *HTTPRequest) parseURL(raw string, use func(field string, t template, secretOK bool)) string {
	before, query, _ := strings.Cut(raw, "?")
	if strings.Contains(before, "${") {
		return "has a placeholder outside its query: parameters never choose the scheme, host, port or path"
	}
	u, reason := parseHTTPURL(raw)
	if reason != "" {
		return reason
	}
	if strings.Contains(raw, "#") {
		return "has a #fragment, which is never sent"
	}
	if query != "" {
		for pair := range strings.SplitSeq(query, "&") {
			name, value, hasValue := strings.Cut(pair, "=")
			if strings.Contains(name, "${") {
				return "has a placeholder in a query name: only a query's values may take parameters"
			}
			t, err := parseTemplate(value)
			if err != nil {
				return err.Error()
			}
			if hasValue {
				name += "="
			}
			j.query = append(j.query, queryPart{name: name, value: t})
		}
	}
	for _, q := range j.query {
		use("url", q.value, false)
	}
	j.url = u
	return ""
}

// ID implements jobs.Job.
func (j *HTTPRequest) ID() string { return j.id }

// Description implements jobs.Job.
func (j *HTTPRequest) Description() string { return j.description }

// Params implements jobs.Job.
func (j *HTTPRequest) Params() []jobs.Param { return slices.Clone(j.params) }

// Validate implements jobs.Validator: the credential parameters as the
// http job checks them, and no header value given a line break.
func (j *HTTPRequest) Validate(params jobs.Params) []jobs.FieldError {
	_, problems := j.call(params)
	return problems
}

// Run implements jobs.Job.
func (j *HTTPRequest) Run(ctx context.Context, params jobs.Params) error {
	call, problems := j.call(params)
	if len(problems) > 0 {
		return fmt.Errorf("http: %w", &jobs.ValidationError{Job: j.id, Fields: problems})
	}
	return j.do(ctx, call)
}

// call is the request with params' values in its placeholders.
func (j *HTTPRequest) call(params jobs.Params) (*httpCall, []jobs.FieldError) {
	var problems []jobs.FieldError
	problem := func(param, format string, args ...any) {
		problems = append(problems, jobs.FieldError{Param: param, Reason: fmt.Sprintf(format, args...)})
	}
	u := *j.url
	if len(j.query) > 0 {
		pairs := make([]string, len(j.query))
		for i, q := range j.query {
			pairs[i] = q.name + q.value.expand(params, url.QueryEscape)
		}
		u.RawQuery = strings.Join(pairs, "&")
	}
	call := &httpCall{url: &u, method: j.method, header: http.Header{}, expect: j.expect, timeout: j.timeout}

	secretHeader := http.Header{}
	reported := map[string]bool{}
	for _, h := range j.header {
		for _, name := range h.value.params() {
			if err := checkHeaderValue(params.String(name)); err != nil && !reported[name] {
				reported[name] = true
				problem(name, "goes in the %s header, and %s", h.name, err)
			}
		}
		v := h.value.expand(params, nil)
		switch {
		case h.name == "Host":
			call.host = v
		case h.secret:
			secretHeader.Add(h.name, v)
		default:
			call.header.Add(h.name, v)
		}
	}
	addCredentials(params, secretHeader, "the job's own Authorization header", problem)
	if len(problems) > 0 {
		return nil, problems
	}

	var escape func(string) string
	switch j.bodyKind {
	case bodyJSON:
		escape = jsonStringContent
	case bodyForm:
		escape = url.QueryEscape
	}
	call.body = j.body.expand(params, escape)
	call.header.Set("User-Agent", "jobbridge")
	if call.body != "" && call.header.Get("Content-Type") == "" && secretHeader.Get("Content-Type") == "" {
		call.header.Set("Content-Type", "application/json")
	}
	call.setSecretHeader(secretHeader)
	call.secretBody = j.secretBody
	call.credentials = call.credentials || j.secretBody
	return call, nil
}

// checkJSONBody says why t, a JSON body with placeholders, is refused: a
// placeholder outside a string (a value is escaped for a string's content,
// so there it could make a number an object, or break the body), or a body
// that is not JSON when each placeholder stands for a string's content.
func checkJSONBody(t template) string {
	var outside []string
	inString, escaped := false, false
	var sample strings.Builder
	for _, p := range t {
		if p.param != "" {
			if (!inString || escaped) && !slices.Contains(outside, p.param) {
				outside = append(outside, p.param)
			}
			sample.WriteString("jobbridge-placeholder")
			continue
		}
		sample.WriteString(p.literal)
		for _, c := range []byte(p.literal) {
			switch {
			case escaped:
				escaped = false
			case inString && c == '\\':
				escaped = true
			case c == '"':
				inString = !inString
			}
		}
	}
	if len(outside) > 0 {
		quoted := make([]string, len(outside))
		for i, name := range outside {
			quoted[i] = fmt.Sprintf(`"${param.%s}"`, name)
		}
		return fmt.Sprintf("a placeholder in a JSON body must be inside a string, as its value is escaped for one: write %s", strings.Join(quoted, ", "))
	}
	if !json.Valid([]byte(sample.String())) {
		return "is not JSON (each placeholder standing for text inside its string)"
	}
	return ""
}

// checkFormBody says why t, a form (application/x-www-form-urlencoded)
// body with placeholders, is refused: a placeholder outside a field's
// value. A value is percent-encoded, so it cannot add a field, and placed
// only in values it cannot name one either, as in the URL's query.
func checkFormBody(t template) string {
	inValue := false
	for _, p := range t {
		if p.param != "" {
			if !inValue {
				return fmt.Sprintf("a placeholder in a form body must be in a field's value (name=${param.%s}): parameters never name a field", p.param)
			}
			continue
		}
		for _, c := range []byte(p.literal) {
			switch c {
			case '&':
				inValue = false
			case '=':
				inValue = true
			}
		}
	}
	return ""
}

// jsonStringContent is v escaped as inside a JSON string, without the
// quotes around it.
func jsonStringContent(v string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // a string always encodes
	s := strings.TrimSuffix(b.String(), "\n")
	return s[1 : len(s)-1]
}
