// Package client is a Go client of the jobbridge agent's JSON API, with its
// event stream. The console uses it, and so can users' scripts and tools.
//
//	c := client.New("http://127.0.0.1:8080", token)
//	runs, err := c.Runs(ctx, api.RunQuery{Statuses: []api.RunStatus{api.StatusFailed}})
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
)

// Client calls one agent. It is safe for concurrent use.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client use hc (for TLS settings, say). Its
// Timeout must be zero for the event stream to stay open; per-call
// deadlines come from the contexts.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a client of the agent at baseURL (http://host:port) that
// authenticates with token.
func New(baseURL, token string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(baseURL, "/"), token: token, http: &http.Client{}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// BaseURL is the agent's address.
func (c *Client) BaseURL() string { return c.base }

// Error is an answer other than 2xx.
type Error struct {
	Status  int
	Problem api.Problem
}

func (e *Error) Error() string {
	msg := e.Problem.Detail
	if msg == "" {
		msg = e.Problem.Title
	}
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if len(e.Problem.Errors) > 0 {
		parts := make([]string, len(e.Problem.Errors))
		for i, fe := range e.Problem.Errors {
			parts[i] = fe.Location + ": " + fe.Message
			if fe.Location == "" {
				parts[i] = fe.Message
			}
		}
		msg += " (" + strings.Join(parts, "; ") + ")"
	}
	return fmt.Sprintf("agent answered %d: %s", e.Status, msg)
}

// ProblemTypeOf returns the problem type of an *Error in err's chain
// (api.ProblemMaintenance, say), or "".
func ProblemTypeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Problem.Type
	}
	return ""
}

// StatusOf returns the HTTP status of an *Error in err's chain, or 0.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// do sends a request and decodes a JSON answer into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) error {
	return c.doHeader(ctx, method, path, query, nil, body, out)
}

// doHeader is do with request headers (which replace do's own).
func (c *Client) doHeader(ctx context.Context, method, path string, query url.Values, header http.Header, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + "/api/v1" + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		return decodeError(resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

func decodeError(resp *http.Response) error {
	e := &Error{Status: resp.StatusCode}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err := json.Unmarshal(b, &e.Problem); err != nil {
		e.Problem.Detail = strings.TrimSpace(string(b))
	}
	return e
}

// Jobs lists the jobs the agent offers.
func (c *Client) Jobs(ctx context.Context) ([]api.Job, error) {
	var p api.Page[api.Job]
	err := c.do(ctx, http.MethodGet, "/jobs", nil, nil, &p)
	return p.Items, err
}

// Job returns one job.
func (c *Client) Job(ctx context.Context, id string) (api.Job, error) {
	var j api.Job
	err := c.do(ctx, http.MethodGet, "/jobs/"+url.PathEscape(id), nil, nil, &j)
	return j, err
}

// Rules lists every rule.
func (c *Client) Rules(ctx context.Context) ([]api.Rule, error) {
	var p api.Page[api.Rule]
	err := c.do(ctx, http.MethodGet, "/rules", nil, nil, &p)
	return p.Items, err
}

// Rule returns one rule.
func (c *Client) Rule(ctx context.Context, name string) (api.Rule, error) {
	var r api.Rule
	err := c.do(ctx, http.MethodGet, "/rules/"+url.PathEscape(name), nil, nil, &r)
	return r, err
}

// CreateRule creates a rule.
func (c *Client) CreateRule(ctx context.Context, in api.RuleInput) (api.Rule, error) {
	var r api.Rule
	err := c.do(ctx, http.MethodPost, "/rules", nil, in, &r)
	return r, err
}

// ReplaceRule replaces the rule called name.
func (c *Client) ReplaceRule(ctx context.Context, name string, in api.RuleInput) (api.Rule, error) {
	var r api.Rule
	err := c.do(ctx, http.MethodPut, "/rules/"+url.PathEscape(name), nil, in, &r)
	return r, err
}

// DeleteRule deletes a rule.
func (c *Client) DeleteRule(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/rules/"+url.PathEscape(name), nil, nil, nil)
}

// SetRuleEnabled enables or disables a rule.
func (c *Client) SetRuleEnabled(ctx context.Context, name string, enabled bool) (api.Rule, error) {
	action := "/disable"
	if enabled {
		action = "/enable"
	}
	var r api.Rule
	err := c.do(ctx, http.MethodPost, "/rules/"+url.PathEscape(name)+action, nil, nil, &r)
	return r, err
}

// TriggerRule runs a rule now, with parameter overrides (may be nil).
func (c *Client) TriggerRule(ctx context.Context, name string, overrides map[string]string) (api.Run, error) {
	var r api.Run
	err := c.do(ctx, http.MethodPost, "/rules/"+url.PathEscape(name)+"/trigger", nil, api.RunParams{Parameters: overrides}, &r)
	return r, err
}

// RunCounts counts the runs q selects per status, in one request: q's
// Job, Rule, Trigger, Since and Until count; its statuses, series, parent,
// limit and cursor do not.
func (c *Client) RunCounts(ctx context.Context, q api.RunQuery) (api.RunCounts, error) {
	v := url.Values{}
	setCommon(v, q)
	var counts api.RunCounts
	err := c.do(ctx, http.MethodGet, "/runs/counts", v, nil, &counts)
	return counts, err
}

// setCommon sets what GET /runs and GET /runs/counts both take: the job,
// rule and trigger, and the time range.
func setCommon(v url.Values, q api.RunQuery) {
	setIf(v, "job", q.Job)
	setIf(v, "rule", q.Rule)
	setIf(v, "trigger", string(q.Trigger))
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339Nano))
	}
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format(time.RFC3339Nano))
	}
}

// Runs lists runs, newest first, one page at a time.
func (c *Client) Runs(ctx context.Context, q api.RunQuery) (api.Page[api.Run], error) {
	v := url.Values{}
	if len(q.Statuses) > 0 {
		s := make([]string, len(q.Statuses))
		for i, st := range q.Statuses {
			s[i] = string(st)
		}
		v.Set("status", strings.Join(s, ","))
	}
	setIf(v, "series", q.Series)
	setIf(v, "idPrefix", q.IDPrefix)
	setIf(v, "idSuffix", q.IDSuffix)
	setIf(v, "parent", q.Parent)
	setCommon(v, q)
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	setIf(v, "cursor", q.Cursor)
	var p api.Page[api.Run]
	err := c.do(ctx, http.MethodGet, "/runs", v, nil, &p)
	return p, err
}

func setIf(v url.Values, k, s string) {
	if s != "" {
		v.Set(k, s)
	}
}

// Run returns one run.
func (c *Client) Run(ctx context.Context, id string) (api.Run, error) {
	var r api.Run
	err := c.do(ctx, http.MethodGet, "/runs/"+url.PathEscape(id), nil, nil, &r)
	return r, err
}

// RunLog returns up to limit lines of a run's log after sequence number
// after (0 for the start).
func (c *Client) RunLog(ctx context.Context, id string, after int64, limit int) ([]api.LogLine, error) {
	v := url.Values{}
	if after > 0 {
		v.Set("after", strconv.FormatInt(after, 10))
	}
	if limit > 0 {
		v.Set("limit", strconv.Itoa(limit))
	}
	var p api.Page[api.LogLine]
	err := c.do(ctx, http.MethodGet, "/runs/"+url.PathEscape(id)+"/log", v, nil, &p)
	return p.Items, err
}

// RunLogPage returns a page of a run's log. Its NextCursor is set when
// more lines exist beyond it: pass it back as q.Cursor for the next page.
func (c *Client) RunLogPage(ctx context.Context, id string, q api.LogQuery) (api.Page[api.LogLine], error) {
	v := url.Values{}
	if q.After > 0 {
		v.Set("after", strconv.FormatInt(q.After, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	setIf(v, "cursor", q.Cursor)
	var p api.Page[api.LogLine]
	err := c.do(ctx, http.MethodGet, "/runs/"+url.PathEscape(id)+"/log", v, nil, &p)
	return p, err
}

// CancelRun asks a run to stop.
func (c *Client) CancelRun(ctx context.Context, id, reason string) (api.Run, error) {
	var r api.Run
	err := c.do(ctx, http.MethodPost, "/runs/"+url.PathEscape(id)+"/cancel", nil, api.CancelRequest{Reason: reason}, &r)
	return r, err
}

// RestartRun starts a new run like an earlier one, with parameter
// overrides (may be nil).
func (c *Client) RestartRun(ctx context.Context, id string, overrides map[string]string) (api.Run, error) {
	var r api.Run
	err := c.do(ctx, http.MethodPost, "/runs/"+url.PathEscape(id)+"/restart", nil, api.RunParams{Parameters: overrides}, &r)
	return r, err
}

// Status returns the agent's status.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var s api.Status
	err := c.do(ctx, http.MethodGet, "/status", nil, nil, &s)
	return s, err
}

// Sync reconciles the scheduler backend with the stored rules now (admin).
func (c *Client) Sync(ctx context.Context) (api.SyncReport, error) {
	var r api.SyncReport
	err := c.do(ctx, http.MethodPost, "/sync", nil, nil, &r)
	return r, err
}

// Audit lists the audit trail, newest first.
func (c *Client) Audit(ctx context.Context, limit int, cursor string) (api.Page[api.AuditEntry], error) {
	return c.AuditWith(ctx, api.AuditQuery{Limit: limit, Cursor: cursor})
}

// AuditWith lists the audit entries q selects, newest first, one page at
// a time (q.Cursor is the page's NextCursor before).
func (c *Client) AuditWith(ctx context.Context, q api.AuditQuery) (api.Page[api.AuditEntry], error) {
	v := url.Values{}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	setIf(v, "actor", q.Actor)
	setIf(v, "action", q.Action)
	setIf(v, "target", q.Target)
	setIf(v, "cursor", q.Cursor)
	var p api.Page[api.AuditEntry]
	err := c.do(ctx, http.MethodGet, "/audit", v, nil, &p)
	return p, err
}

// CreateToken creates an API token; the answer holds the secret, shown
// only this once.
func (c *Client) CreateToken(ctx context.Context, in api.TokenInput) (api.NewToken, error) {
	var t api.NewToken
	err := c.do(ctx, http.MethodPost, "/tokens", nil, in, &t)
	return t, err
}

// Tokens lists the API tokens (without their secrets).
func (c *Client) Tokens(ctx context.Context) ([]api.Token, error) {
	var p api.Page[api.Token]
	err := c.do(ctx, http.MethodGet, "/tokens", nil, nil, &p)
	return p.Items, err
}

// RevokeToken deletes a token.
func (c *Client) RevokeToken(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, "/tokens/"+url.PathEscape(name), nil, nil, nil)
}
