package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// RunJSON returns GET /runs/{id} as the agent answered it: every field,
// those this client's api.Run does not know included, secrets masked as
// the agent masks them for the token's role.
func (c *Client) RunJSON(ctx context.Context, id string) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.do(ctx, http.MethodGet, "/runs/"+url.PathEscape(id), nil, nil, &raw)
	return raw, err
}

// RuleJSON returns GET /rules/{name} as the agent answered it, like
// RunJSON.
func (c *Client) RuleJSON(ctx context.Context, name string) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.do(ctx, http.MethodGet, "/rules/"+url.PathEscape(name), nil, nil, &raw)
	return raw, err
}
