package builtin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/egress"
)

// httpLoggedBody is how much of a response body goes into the run's log
// when the rule asks for it (log_body).
const httpLoggedBody = 4 << 10

// httpCountedBody is how much of a response body is read to report its
// size; a longer body is reported as longer and not read further.
const httpCountedBody = 16 << 20

// DefaultHTTPTimeout bounds every request the http job makes; a run's own
// timeout parameter can only shorten it.
const DefaultHTTPTimeout = 5 * time.Minute

// HTTP is a job that makes one HTTP request and fails unless the response
// has the expected status. It connects only where its egress policy allows,
// and takes credentials only in secret parameters.
type HTTP struct {
	httpCore
}

// httpCore is what the http job and the HTTPRequest jobs share: the egress
// policy, the client that follows it, and how a checked call is made.
type httpCore struct {
	policy *egress.Policy
	client *http.Client
}

func newHTTPCore(policy *egress.Policy, opts []HTTPOption) httpCore {
	client := policy.Client(DefaultHTTPTimeout)
	for _, opt := range opts {
		opt(client.Transport.(*http.Transport))
	}
	return httpCore{policy: policy, client: client}
}

// HTTPOption configures the http job.
type HTTPOption func(*http.Transport)

// WithTLSConfig makes the http job's requests with this TLS configuration,
// to trust a private CA for instance. The egress policy still applies.
func WithTLSConfig(cfg *tls.Config) HTTPOption {
	return func(t *http.Transport) { t.TLSClientConfig = cfg.Clone() }
}

// NewHTTP returns the http job. Every connection it makes, redirects
// included, must pass policy (nil allows public addresses only).
func NewHTTP(policy *egress.Policy, opts ...HTTPOption) *HTTP {
	return &HTTP{newHTTPCore(policy, opts)}
}

// ID implements jobs.Job.
func (*HTTP) ID() string { return "http" }

// Description implements jobs.Job.
func (*HTTP) Description() string {
	return "Makes one HTTP request, where the agent's egress policy allows, and fails unless the response has the expected status."
}

// Params implements jobs.Job. The destinations are where the request goes
// (url; method and header, a Host line among them, change what it does
// there) and log_body, which sends the response to every viewer of the run.
func (*HTTP) Params() []jobs.Param {
	return []jobs.Param{
		{Name: "url", Required: true, Destination: true, Description: "The http:// or https:// URL to request, without a user name or password (see basic_auth)."},
		{Name: "method", Destination: true, Type: jobs.TypeEnum, Choices: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}, Default: "GET", Description: "The HTTP method."},
		{Name: "body", Description: "The request body; none when empty."},
		{Name: "content_type", Description: "The body's Content-Type; application/json when a body is given and no type is."},
		{Name: "header", Destination: true, Description: "Extra request headers, one \"Name: value\" per line. Shown to viewers: headers carrying credentials go in secret_header."},
		{Name: "expect_status", Default: "2xx", Description: "The status that counts as success: a code such as 204 or a class such as 2xx."},
		{Name: "timeout", Type: jobs.TypeDuration, Default: "30s", Description: "How long to wait for the whole response."},
		{Name: "log_body", Destination: true, Type: jobs.TypeBool, Default: "false", Description: "Whether the start of the response body (4 KiB) goes into the run log, which every viewer reads; otherwise only its size and type."},
		{Name: "bearer_token", Secret: true, Description: "A token sent as \"Authorization: Bearer TOKEN\"."},
		{Name: "basic_auth", Secret: true, Description: "A user name and password, \"user:password\", sent as HTTP basic authentication."},
		{Name: "secret_header", Secret: true, Description: "Extra request headers carrying credentials (Authorization, Cookie, X-Api-Key, ...), one \"Name: value\" per line; never shown."},
	}
}

// Validate implements jobs.Validator, so bad values are refused when a
// rule is saved or a run triggered.
func (j *HTTP) Validate(params jobs.Params) []jobs.FieldError {
	_, problems := j.parse(params)
	return problems
}

// Run implements jobs.Job.
func (j *HTTP) Run(ctx context.Context, params jobs.Params) error {
	call, problems := j.parse(params)
	if len(problems) > 0 {
		return fmt.Errorf("http: %w", &jobs.ValidationError{Job: j.ID(), Fields: problems})
	}
	return j.do(ctx, call)
}

// do makes the checked call and fails unless its response has the
// expected status.
func (j *httpCore) do(ctx context.Context, call *httpCall) error {
	req, err := call.request()
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	log := jobs.Logger(ctx)
	if j.client.Timeout > 0 && call.timeout > j.client.Timeout {
		log.Warn(fmt.Sprintf("http: timeout %s is longer than the HTTP client's own %s; the shorter applies", call.timeout, j.client.Timeout))
	}
	reqCtx, cancel := context.WithTimeout(ctx, call.timeout)
	defer cancel()
	req = req.WithContext(reqCtx)
	target := req.Method + " " + req.URL.Redacted()
	// Say so when our own timeout, not the run's context, ended the request.
	explain := func(err error) error {
		if ctx.Err() == nil && reqCtx.Err() != nil {
			return fmt.Errorf("no complete response within the timeout of %s: %w", call.timeout, err)
		}
		return err
	}

	if req.URL.Scheme == "http" && call.credentials {
		log.Warn("http: sending credentials over plain http, unencrypted")
	}
	log.Info("http: request", "method", req.Method, "url", req.URL.Redacted())
	start := time.Now()
	resp, err := j.clientFor(call).Do(req)
	if err != nil {
		return fmt.Errorf("http: %s: %w", target, explain(err))
	}
	defer resp.Body.Close()

	head := &headWriter{}
	if call.logBody {
		head.keep = httpLoggedBody + 1
	}
	size, err := io.Copy(head, io.LimitReader(resp.Body, httpCountedBody+1))
	if err != nil {
		return fmt.Errorf("http: %s: read the response body: %w", target, explain(err))
	}
	sizeText := strconv.FormatInt(size, 10)
	if size > httpCountedBody {
		sizeText = fmt.Sprintf("more than %d (not read further)", httpCountedBody)
	}
	contentType := resp.Header.Get("Content-Type")
	log.Info("http: response", "status", resp.Status, "duration", time.Since(start).Round(time.Millisecond),
		"size", sizeText, "content_type", contentType)
	if call.logBody {
		logBody(ctx, contentType, head.head)
	}

	if !call.expect.matches(resp.StatusCode) {
		return fmt.Errorf("http: %s: got status %s, expected %s", target, resp.Status, call.expect)
	}
	jobs.Progress(ctx, 100, resp.Status)
	return nil
}

// clientFor returns the client for one call: the job's, and when the call
// carries credentials, one that drops its secret headers on a redirect to
// another host (the client itself drops Authorization and Cookie there, not
// custom headers such as X-Api-Key) and refuses a redirect from https to
// http, which would send them unencrypted.
func (j *httpCore) clientFor(call *httpCall) *http.Client {
	if !call.credentials {
		return j.client
	}
	c := *j.client
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := j.policy.CheckRedirect(req, via); err != nil {
			return err
		}
		if via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme == "http" {
			return errors.New("refused a redirect from https to http: it would send the request's credentials unencrypted")
		}
		if req.URL.Hostname() != via[0].URL.Hostname() {
			if call.secretBody {
				return errors.New("refused a redirect to another host: the request's body carries a secret")
			}
			for name := range call.secretHeader {
				req.Header.Del(name)
			}
		}
		return nil
	}
	return &c
}

// headWriter keeps the first keep bytes written to it and discards the rest.
type headWriter struct {
	keep int
	head []byte
}

func (w *headWriter) Write(p []byte) (int, error) {
	if n := min(len(p), w.keep-len(w.head)); n > 0 {
		w.head = append(w.head, p[:n]...)
	}
	return len(p), nil
}

// httpCall is one request as the parameters describe it, checked.
type httpCall struct {
	url          *url.URL
	method, body string
	header       http.Header // from header, content_type and the credentials
	secretHeader http.Header // from secret_header alone
	host         string      // a Host header line: the request's Host
	expect       statusExpectation
	timeout      time.Duration
	logBody      bool
	credentials  bool // whether the request carries any secret
	secretBody   bool // whether the body carries a secret: not sent to another host
}

// parse checks the parameters and describes the request they ask for. A
// problem never quotes a secret parameter, nor a credential found in a
// parameter that should not hold one.
func (j *HTTP) parse(params jobs.Params) (*httpCall, []jobs.FieldError) {
	var problems []jobs.FieldError
	problem := func(param, format string, args ...any) {
		problems = append(problems, jobs.FieldError{Param: param, Reason: fmt.Sprintf(format, args...)})
	}
	call := &httpCall{method: params.String("method"), body: params.String("body"), header: http.Header{}}
	if call.method == "" {
		call.method = http.MethodGet
	}

	u, reason := parseHTTPURL(params.String("url"))
	if reason == "" {
		if err := j.policy.CheckURL(u); err != nil {
			reason = err.Error()
		}
	}
	if reason != "" {
		problem("url", "%s", reason)
	}
	call.url = u

	var err error
	if call.expect, err = parseStatusExpectation(params.String("expect_status")); err != nil {
		problem("expect_status", "%s", err)
	}
	if call.timeout, err = params.Duration("timeout"); err != nil {
		problem("timeout", "%s", err)
	} else if call.timeout <= 0 {
		problem("timeout", "%s is not positive", call.timeout)
	}
	if call.logBody, err = params.Bool("log_body"); err != nil {
		problem("log_body", "%s", err)
	}

	header, lineProblems := parseHeaderLines(params.String("header"))
	for _, p := range lineProblems {
		problem("header", "%s", p)
	}
	for _, name := range slices.Sorted(maps.Keys(header)) {
		if isCredentialHeader(name) {
			problem("header", "%s carries a credential, and header is shown to every viewer: give it in secret_header instead (or bearer_token, basic_auth)", name)
		}
	}
	secretHeader := http.Header{}
	addCredentials(params, secretHeader, "", problem)
	if len(problems) > 0 {
		return nil, problems
	}

	if hosts := header.Values("Host"); len(hosts) > 0 {
		call.host = hosts[len(hosts)-1]
		header.Del("Host")
	}
	call.header = header
	call.header.Set("User-Agent", "jobbridge")
	if ct := params.String("content_type"); ct != "" {
		call.header.Set("Content-Type", ct)
	} else if call.body != "" && call.header.Get("Content-Type") == "" {
		call.header.Set("Content-Type", "application/json")
	}
	call.setSecretHeader(secretHeader)
	return call, nil
}

// setSecretHeader makes secretHeader the call's credentials; a Host line
// among them is dropped (a Host goes in the headers that are shown).
func (c *httpCall) setSecretHeader(secretHeader http.Header) {
	secretHeader.Del("Host")
	c.secretHeader = secretHeader
	c.credentials = len(secretHeader) > 0
}

// addCredentials adds to secretHeader the credentials the secret
// parameters give: secret_header's lines, bearer_token and basic_auth. An
// Authorization may come from one place only; preset names where one
// already in secretHeader came from ("" when secretHeader is empty).
func addCredentials(params jobs.Params, secretHeader http.Header, preset string, problem func(param, format string, args ...any)) {
	lines, lineProblems := parseHeaderLines(params.String("secret_header"))
	for _, p := range lineProblems {
		problem("secret_header", "%s (the value is secret, so it is not shown)", p)
	}
	var authorizedBy []string
	if preset != "" && secretHeader.Get("Authorization") != "" {
		authorizedBy = append(authorizedBy, preset)
	}
	if lines.Get("Authorization") != "" {
		authorizedBy = append(authorizedBy, "secret_header")
	}
	for name, values := range lines {
		for _, v := range values {
			secretHeader.Add(name, v)
		}
	}
	if token := params.String("bearer_token"); token != "" {
		authorizedBy = append(authorizedBy, "bearer_token")
		secretHeader.Set("Authorization", "Bearer "+token)
	}
	if userPass := params.String("basic_auth"); userPass != "" {
		authorizedBy = append(authorizedBy, "basic_auth")
		user, pass, ok := strings.Cut(userPass, ":")
		if !ok {
			problem("basic_auth", `is not "user:password" (the value is secret, so it is not shown)`)
		}
		r := http.Request{Header: http.Header{}}
		r.SetBasicAuth(user, pass)
		secretHeader.Set("Authorization", r.Header.Get("Authorization"))
	}
	if len(authorizedBy) > 1 {
		problem(authorizedBy[len(authorizedBy)-1], "sets Authorization, and so does %s: give only one", strings.Join(authorizedBy[:len(authorizedBy)-1], " and "))
	}
}

// request builds the call's request, without a context.
func (c *httpCall) request() (*http.Request, error) {
	req, err := http.NewRequest(c.method, c.url.String(), strings.NewReader(c.body))
	if err != nil {
		return nil, fmt.Errorf("build the request: %w", err)
	}
	if c.body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	if c.host != "" {
		req.Host = c.host
	}
	for name, values := range c.header {
		req.Header[name] = values
	}
	for name, values := range c.secretHeader {
		req.Header[name] = values
	}
	return req, nil
}

// parseHTTPURL returns the URL raw names, or why it is refused. The reason
// never quotes the URL: it could hold a password.
func parseHTTPURL(raw string) (*url.URL, string) {
	if raw == "" {
		return nil, jobs.ErrMissing.Error()
	}
	if hasUserinfo(raw) {
		return nil, "has a user name or password in it, and a URL is shown to every viewer: give them in basic_auth instead (a secret parameter)"
	}
	u, err := url.Parse(raw)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // without the URL it quotes
		}
		return nil, fmt.Sprintf("is not a URL: %s", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, "is not an http:// or https:// URL" // the "scheme" may be a user name
	}
	if u.Host == "" {
		return nil, "has no host"
	}
	return u, ""
}

// hasUserinfo reports whether the authority of raw ("//authority/...")
// holds a user name or password, before "@". It looks at the raw text, so
// that a URL that does not parse is refused without quoting its password.
func hasUserinfo(raw string) bool {
	_, rest, ok := strings.Cut(raw, "//")
	if !ok {
		return false // no authority: refused for want of a host
	}
	authority, _, _ := strings.Cut(rest, "/")
	authority, _, _ = strings.Cut(authority, "?")
	authority, _, _ = strings.Cut(authority, "#")
	return strings.Contains(authority, "@")
}

// parseHeaderLines reads "Name: value" lines; blank lines are skipped. A
// problem names the line by its number, never by its text.
func parseHeaderLines(text string) (http.Header, []string) {
	header := http.Header{}
	var problems []string
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || !isHeaderName(name) {
			problems = append(problems, fmt.Sprintf(`line %d is not "Name: value"`, i+1))
			continue
		}
		header.Add(name, strings.TrimSpace(value))
	}
	return header, problems
}

// isCredentialHeader reports whether a header of this name (canonical)
// carries a credential: Authorization, Proxy-Authorization, Cookie, or a
// name whose last word is Key, Token, Secret or Password (X-Api-Key,
// X-Auth-Token, Private-Token, X-Client-Secret).
func isCredentialHeader(name string) bool {
	name = strings.ToLower(name)
	switch name {
	case "authorization", "proxy-authorization", "cookie":
		return true
	}
	last := name[strings.LastIndexAny(name, "-_")+1:]
	switch last {
	case "key", "apikey", "token", "secret", "password":
		return true
	}
	return false
}

// isHeaderName reports whether s is an HTTP token (RFC 9110, section 5.6.2).
func isHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	return true
}

// statusExpectation is a status code ("204") or a class ("2xx").
type statusExpectation string

func parseStatusExpectation(s string) (statusExpectation, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		s = "2xx"
	}
	if len(s) == 3 && '1' <= s[0] && s[0] <= '5' {
		if s[1:] == "xx" {
			return statusExpectation(s), nil
		}
		if n, err := strconv.Atoi(s); err == nil && n >= 100 {
			return statusExpectation(s), nil
		}
	}
	return "", fmt.Errorf("%q is not a status code such as 204 or a class such as 2xx", s)
}

func (e statusExpectation) matches(code int) bool {
	if e[1:] == "xx" {
		return code/100 == int(e[0]-'0')
	}
	return strconv.Itoa(code) == string(e)
}

// logBody logs the start of a response body: text as it is, anything else
// as a size.
func logBody(ctx context.Context, contentType string, body []byte) {
	log := jobs.Logger(ctx)
	if len(body) == 0 {
		return
	}
	truncated := len(body) > httpLoggedBody
	if truncated {
		body = body[:httpLoggedBody]
		// Do not split the last character in two.
		for i := 0; i < utf8.UTFMax && len(body) > 0 && !utf8.Valid(body); i++ {
			body = body[:len(body)-1]
		}
	}
	if !utf8.Valid(body) {
		log.Info(fmt.Sprintf("http: response body: binary (%s), not logged", contentType))
		return
	}
	msg := "http: response body: " + string(body)
	if truncated {
		msg += fmt.Sprintf(" [truncated to the first %d bytes]", httpLoggedBody)
	}
	log.Info(msg)
}
