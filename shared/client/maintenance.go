package client

import (
	"context"
	"net/http"

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
