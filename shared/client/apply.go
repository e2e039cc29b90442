package client

import (
	"context"
	"net/http"

	"github.com/jobbridge/jobbridge/shared/api"
)

// ApplyRules makes the agent's rules match in.Rules (admin) and returns
// the plan: what it did, or with in.DryRun what it would do. A set the
// agent refuses is an *Error with status 400 listing each problem at
// body.rules[i].FIELD; nothing is changed then.
func (c *Client) ApplyRules(ctx context.Context, in api.RulesApply) (api.RulesPlan, error) {
	var out api.RulesPlan
	err := c.do(ctx, http.MethodPost, "/rules/apply", nil, in, &out)
	return out, err
}
