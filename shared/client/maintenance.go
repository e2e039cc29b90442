package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/jobbridge/jobbridge/shared/api"
)

// Maintenance returns the agent's maintenance mode.
func (c *Client) Maintenance(ctx context.Context) (api.Maintenance, error) {
	var m api.Maintenance
	err := c.do(ctx, http.MethodGet, "/maintenance", nil, nil, &m)
	return m, err
}

// SetMaintenance turns maintenance mode on (with an optional end time and
// reason) or off (admin). While it is on, scheduled fires are recorded
// skipped and manual runs need force.
func (c *Client) SetMaintenance(ctx context.Context, m api.Maintenance) (api.Maintenance, error) {
	var out api.Maintenance
	err := c.do(ctx, http.MethodPut, "/maintenance", nil, m, &out)
	return out, err
}

// TriggerRuleWith runs a rule now with p's parameter overrides; p.Force
// starts it while maintenance is on (else the agent answers 409).
func (c *Client) TriggerRuleWith(ctx context.Context, name string, p api.RunParams) (api.Run, error) {
	var r api.Run
	err := c.do(ctx, http.MethodPost, "/rules/"+url.PathEscape(name)+"/trigger", nil, p, &r)
	return r, err
}

// RestartRunWith starts a new run like an earlier one with p's parameter
// overrides; p.Force starts it while maintenance is on.
func (c *Client) RestartRunWith(ctx context.Context, id string, p api.RunParams) (api.Run, error) {
	var r api.Run
	err := c.do(ctx, http.MethodPost, "/runs/"+url.PathEscape(id)+"/restart", nil, p, &r)
	return r, err
}
