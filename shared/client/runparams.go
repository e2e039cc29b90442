package client

import (
	"context"
	"net/http"
	"net/url"

	"github.com/jobbridge/jobbridge/shared/api"
)

// TriggerRuleWith runs a rule now with p: parameter overrides (may be
// nil) and Force, which starts the run while maintenance mode is on (the
// agent answers 409 without it).
func (c *Client) TriggerRuleWith(ctx context.Context, name string, p api.RunParams) (api.Run, error) {
	var r api.Run
	err := c.do(ctx, http.MethodPost, "/rules/"+url.PathEscape(name)+"/trigger", nil, p, &r)
	return r, err
}

// RestartRunWith starts a new run like an earlier one with p, as
// TriggerRuleWith does.
func (c *Client) RestartRunWith(ctx context.Context, id string, p api.RunParams) (api.Run, error) {
	var r api.Run
	err := c.do(ctx, http.MethodPost, "/runs/"+url.PathEscape(id)+"/restart", nil, p, &r)
	return r, err
}
