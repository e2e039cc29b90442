package builtin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jobbridge/jobbridge/jobs"
)

// httpLoggedBody is how much of a response body goes into the run's log.
const httpLoggedBody = 4 << 10

// DefaultHTTPTimeout bounds every request made by the client NewHTTP builds
// when given none; a run's own timeout parameter can only shorten it.
const DefaultHTTPTimeout = 5 * time.Minute

// HTTP is a job that makes one HTTP request and fails unless the response
// has the expected status.
type HTTP struct {
	client *http.Client
}

// NewHTTP returns the http job, which makes its requests with client; nil
// means a client with the default transport and DefaultHTTPTimeout.
func NewHTTP(client *http.Client) *HTTP {
	if client == nil {
		client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	return &HTTP{client: client}
}

// ID implements jobs.Job.
func (*HTTP) ID() string { return "http" }

// Description implements jobs.Job.
func (*HTTP) Description() string {
	return "Makes one HTTP request and fails unless the response has the expected status."
}

// Params implements jobs.Job.
func (*HTTP) Params() []jobs.Param {
	return []jobs.Param{
		{Name: "url", Required: true, Description: "The http:// or https:// URL to request."},
		{Name: "method", Type: jobs.TypeEnum, Choices: []string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"}, Default: "GET", Description: "The HTTP method."},
		{Name: "body", Description: "The request body; none when empty."},
		{Name: "content_type", Description: "The body's Content-Type; application/json when a body is given and no type is."},
		{Name: "header", Description: "Extra request headers, one \"Name: value\" per line."},
		{Name: "expect_status", Default: "2xx", Description: "The status that counts as success: a code such as 204 or a class such as 2xx."},
		{Name: "timeout", Type: jobs.TypeDuration, Default: "30s", Description: "How long to wait for the whole response."},
		{Name: "bearer_token", Secret: true, Description: "A token sent as \"Authorization: Bearer TOKEN\"."},
	}
}

// Run implements jobs.Job.
func (j *HTTP) Run(ctx context.Context, params jobs.Params) error {
	req, expect, timeout, err := newHTTPRequest(params)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	log := jobs.Logger(ctx)
	if j.client.Timeout > 0 && timeout > j.client.Timeout {
		log.Warn(fmt.Sprintf("http: timeout %s is longer than the HTTP client's own %s; the shorter applies", timeout, j.client.Timeout))
	}
	reqCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req = req.WithContext(reqCtx)
	target := req.Method + " " + req.URL.Redacted()
	// Say so when our own timeout, not the run's context, ended the request.
	explain := func(err error) error {
		if ctx.Err() == nil && reqCtx.Err() != nil {
			return fmt.Errorf("no complete response within the timeout of %s: %w", timeout, err)
		}
		return err
	}

	if req.URL.Scheme == "http" && req.Header.Get("Authorization") != "" {
		log.Warn("http: sending credentials over plain http, unencrypted")
	}
	log.Info("http: request", "method", req.Method, "url", req.URL.Redacted())
	start := time.Now()
	resp, err := j.client.Do(req)
	if err != nil {
		return fmt.Errorf("http: %s: %w", target, explain(err))
	}
	defer resp.Body.Close()
	log.Info("http: response", "status", resp.Status, "duration", time.Since(start).Round(time.Millisecond))

	body, err := io.ReadAll(io.LimitReader(resp.Body, httpLoggedBody+1))
	if err != nil {
		return fmt.Errorf("http: %s: read the response body: %w", target, explain(err))
	}
	logBody(ctx, resp.Header.Get("Content-Type"), body)

	if !expect.matches(resp.StatusCode) {
		return fmt.Errorf("http: %s: got status %s, expected %s", target, resp.Status, expect)
	}
	jobs.Progress(ctx, 100, resp.Status)
	return nil
}

// newHTTPRequest builds the request the parameters describe, without a
// context, and checks everything that can be checked before sending it.
func newHTTPRequest(params jobs.Params) (*http.Request, statusExpectation, time.Duration, error) {
	var errs []error
	u, err := parseHTTPURL(params.String("url"))
	if err != nil {
		errs = append(errs, err)
	}
	expect, err := parseStatusExpectation(params.String("expect_status"))
	if err != nil {
		errs = append(errs, err)
	}
	timeout, err := params.Duration("timeout")
	if err != nil {
		errs = append(errs, err)
	} else if timeout <= 0 {
		errs = append(errs, fmt.Errorf("timeout: %s is not positive", timeout))
	}
	header, err := parseHeaderLines(params.String("header"))
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, "", 0, errors.Join(errs...)
	}

	method := params.String("method")
	if method == "" {
		method = http.MethodGet
	}
	body := params.String("body")
	req, err := http.NewRequest(method, u.String(), strings.NewReader(body))
	if err != nil {
		return nil, "", 0, fmt.Errorf("build the request: %w", err)
	}
	if body == "" {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	req.Header.Set("User-Agent", "jobbridge")
	for name, values := range header {
		if name == "Host" {
			req.Host = values[len(values)-1]
			continue
		}
		req.Header[name] = values
	}
	if ct := params.String("content_type"); ct != "" {
		req.Header.Set("Content-Type", ct)
	} else if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token := params.String("bearer_token"); token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return req, expect, timeout, nil
}

func parseHTTPURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("url: %w", jobs.ErrMissing)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url: %q is not an http:// or https:// URL", u.Redacted())
	}
	if u.Host == "" {
		return nil, fmt.Errorf("url: %q has no host", u.Redacted())
	}
	return u, nil
}

// parseHeaderLines reads "Name: value" lines; blank lines are skipped.
func parseHeaderLines(text string) (http.Header, error) {
	header := http.Header{}
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || !isHeaderName(name) {
			return nil, fmt.Errorf("header: line %d: %q is not \"Name: value\"", i+1, line)
		}
		header.Add(name, strings.TrimSpace(value))
	}
	return header, nil
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
	return "", fmt.Errorf("expect_status: %q is not a status code such as 204 or a class such as 2xx", s)
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
