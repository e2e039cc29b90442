package safe

import (
	"context"
	"encoding/json"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// Client is the console's way to the agent: the calls of client.Client that
// the console makes, each reply and error cleaned by Value and Error, and
// the event stream cleaned event by event. What is sent is not touched.
type Client struct {
	c *client.Client
}

// NewClient wraps c.
func NewClient(c *client.Client) *Client { return &Client{c: c} }

// reply cleans what a call answered.
func reply[T any](v T, err error) (T, error) { return Value(v), Error(err) }

// BaseURL is the agent's address. It may come from the local agent's data
// dir, which the agent wrote, so it is cleaned too.
func (c *Client) BaseURL() string { return Text(c.c.BaseURL()) }

// Status returns the agent's status.
func (c *Client) Status(ctx context.Context) (api.Status, error) { return reply(c.c.Status(ctx)) }

// Jobs lists the jobs the agent offers.
func (c *Client) Jobs(ctx context.Context) ([]api.Job, error) { return reply(c.c.Jobs(ctx)) }

// Job returns one job.
func (c *Client) Job(ctx context.Context, id string) (api.Job, error) {
	return reply(c.c.Job(ctx, id))
}

// Rules lists every rule.
func (c *Client) Rules(ctx context.Context) ([]api.Rule, error) { return reply(c.c.Rules(ctx)) }

// Rule returns one rule.
func (c *Client) Rule(ctx context.Context, name string) (api.Rule, error) {
	return reply(c.c.Rule(ctx, name))
}

// CreateRule creates a rule.
func (c *Client) CreateRule(ctx context.Context, in api.RuleInput) (api.Rule, error) {
	return reply(c.c.CreateRule(ctx, in))
}

// ReplaceRule replaces the rule called name.
func (c *Client) ReplaceRule(ctx context.Context, name string, in api.RuleInput) (api.Rule, error) {
	return reply(c.c.ReplaceRule(ctx, name, in))
}

// ReplaceRuleIf replaces the rule called name if it is still at version
// (errors.Is client.ErrStale otherwise; 0: whatever version).
func (c *Client) ReplaceRuleIf(ctx context.Context, name string, in api.RuleInput, version int64) (api.Rule, error) {
	return reply(c.c.ReplaceRuleIf(ctx, name, in, version))
}

// DeleteRule deletes a rule.
func (c *Client) DeleteRule(ctx context.Context, name string) error {
	return Error(c.c.DeleteRule(ctx, name))
}

// SetRuleEnabled enables or disables a rule.
func (c *Client) SetRuleEnabled(ctx context.Context, name string, enabled bool) (api.Rule, error) {
	return reply(c.c.SetRuleEnabled(ctx, name, enabled))
}

// TriggerRule runs a rule now, with parameter overrides (may be nil).
func (c *Client) TriggerRule(ctx context.Context, name string, overrides map[string]string) (api.Run, error) {
	return reply(c.c.TriggerRule(ctx, name, overrides))
}

// TriggerRuleWith runs a rule now with overrides and, with p.Force, while
// maintenance mode is on.
func (c *Client) TriggerRuleWith(ctx context.Context, name string, p api.RunParams) (api.Run, error) {
	return reply(c.c.TriggerRuleWith(ctx, name, p))
}

// RestartRunWith restarts a run with overrides and, with p.Force, while
// maintenance mode is on.
func (c *Client) RestartRunWith(ctx context.Context, id string, p api.RunParams) (api.Run, error) {
	return reply(c.c.RestartRunWith(ctx, id, p))
}

// RunCounts counts the runs q selects per status (see client.RunCounts).
func (c *Client) RunCounts(ctx context.Context, q api.RunQuery) (api.RunCounts, error) {
	return reply(c.c.RunCounts(ctx, q))
}

// Runs lists runs, newest first, one page at a time.
func (c *Client) Runs(ctx context.Context, q api.RunQuery) (api.Page[api.Run], error) {
	return reply(c.c.Runs(ctx, q))
}

// Run returns one run.
func (c *Client) Run(ctx context.Context, id string) (api.Run, error) {
	return reply(c.c.Run(ctx, id))
}

// RunLog returns up to limit lines of a run's log after sequence number
// after.
func (c *Client) RunLog(ctx context.Context, id string, after int64, limit int) ([]api.LogLine, error) {
	return reply(c.c.RunLog(ctx, id, after, limit))
}

// RunLogPage returns a page of a run's log; NextCursor is set when more
// lines exist beyond it.
func (c *Client) RunLogPage(ctx context.Context, id string, q api.LogQuery) (api.Page[api.LogLine], error) {
	return reply(c.c.RunLogPage(ctx, id, q))
}

// CancelRun asks a run to stop.
func (c *Client) CancelRun(ctx context.Context, id, reason string) (api.Run, error) {
	return reply(c.c.CancelRun(ctx, id, reason))
}

// RestartRun starts a new run like an earlier one, with parameter
// overrides (may be nil).
func (c *Client) RestartRun(ctx context.Context, id string, overrides map[string]string) (api.Run, error) {
	return reply(c.c.RestartRun(ctx, id, overrides))
}

// Audit lists the audit trail, newest first.
func (c *Client) Audit(ctx context.Context, limit int, cursor string) (api.Page[api.AuditEntry], error) {
	return reply(c.c.Audit(ctx, limit, cursor))
}

// AuditWith lists the audit entries q selects, newest first.
func (c *Client) AuditWith(ctx context.Context, q api.AuditQuery) (api.Page[api.AuditEntry], error) {
	return reply(c.c.AuditWith(ctx, q))
}

// Tokens lists the API tokens, without their secrets (admin).
func (c *Client) Tokens(ctx context.Context) ([]api.Token, error) { return reply(c.c.Tokens(ctx)) }

// CreateToken creates an API token; the answer holds its secret, which the
// agent never shows again (admin).
func (c *Client) CreateToken(ctx context.Context, in api.TokenInput) (api.NewToken, error) {
	return reply(c.c.CreateToken(ctx, in))
}

// RevokeToken deletes a token: its clients are refused from then on (admin).
func (c *Client) RevokeToken(ctx context.Context, name string) error {
	return Error(c.c.RevokeToken(ctx, name))
}

// StreamOpened is client.Client.StreamOpened with each event cleaned
// before handle sees it, and the error it stops with cleaned.
func (c *Client) StreamOpened(ctx context.Context, lastEventID string, opened func(), handle func(api.Event) error) error {
	return Error(c.c.StreamOpened(ctx, lastEventID, opened, func(ev api.Event) error {
		return handle(Value(ev))
	}))
}

// RunJSON returns a run as the agent's JSON, cleaned by JSON: still the
// same JSON value, with nothing in it that acts on a terminal.
func (c *Client) RunJSON(ctx context.Context, id string) (json.RawMessage, error) {
	raw, err := c.c.RunJSON(ctx, id)
	return JSON(raw), Error(err)
}

// RuleJSON returns a rule as the agent's JSON, cleaned like RunJSON.
func (c *Client) RuleJSON(ctx context.Context, name string) (json.RawMessage, error) {
	raw, err := c.c.RuleJSON(ctx, name)
	return JSON(raw), Error(err)
}
