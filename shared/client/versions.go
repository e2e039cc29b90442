package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/jobbridge/jobbridge/shared/api"
)

// ErrStale matches (errors.Is) the error of a change refused because the
// rule is no longer at the version it named: someone changed it since it
// was read (412, api.ProblemStale). Read the rule again, or send the change
// without a version to overwrite.
var ErrStale = errors.New("the rule has changed since it was read")

// Is makes an answer 412 with the stale-version problem match ErrStale.
func (e *Error) Is(target error) bool {
	return target == ErrStale && e.Status == http.StatusPreconditionFailed && e.Problem.Type == api.ProblemStale
}

// ETag is the ETag of a rule at version, as If-Match takes it ("3").
func ETag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// ifMatch is the If-Match header for version; none for 0 (any version).
func ifMatch(version int64) http.Header {
	if version == 0 {
		return nil
	}
	return http.Header{"If-Match": {ETag(version)}}
}

// ReplaceRuleIf replaces the rule called name if it is still at version
// (its Version as read; 0 replaces whatever version is stored). A rule
// changed since is refused with an error matching ErrStale.
func (c *Client) ReplaceRuleIf(ctx context.Context, name string, in api.RuleInput, version int64) (api.Rule, error) {
	var r api.Rule
	err := c.doHeader(ctx, http.MethodPut, "/rules/"+url.PathEscape(name), nil, ifMatch(version), in, &r)
	return r, err
}

// PatchRule changes some fields of the rule called name: patch is a JSON
// merge patch (RFC 7396) of the rule, given as anything that encodes to a
// JSON object (a map, a json.RawMessage): its fields replace the rule's,
// null resets a field, and parameters merge by name (null removes one).
// With version not 0 the rule must still be at it (ErrStale otherwise).
func (c *Client) PatchRule(ctx context.Context, name string, patch any, version int64) (api.Rule, error) {
	b, err := json.Marshal(patch)
	if err != nil {
		return api.Rule{}, fmt.Errorf("patch rule %q: encode the patch: %w", name, err)
	}
	h := ifMatch(version)
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/merge-patch+json")
	var r api.Rule
	err = c.doHeader(ctx, http.MethodPatch, "/rules/"+url.PathEscape(name), nil, h, json.RawMessage(b), &r)
	return r, err
}

// DeleteRuleIf deletes the rule called name if it is still at version (any
// when 0; ErrStale otherwise).
func (c *Client) DeleteRuleIf(ctx context.Context, name string, version int64) error {
	return c.doHeader(ctx, http.MethodDelete, "/rules/"+url.PathEscape(name), nil, ifMatch(version), nil, nil)
}

// SetRuleEnabledIf enables or disables the rule called name if it is still
// at version (any when 0; ErrStale otherwise).
func (c *Client) SetRuleEnabledIf(ctx context.Context, name string, enabled bool, version int64) (api.Rule, error) {
	action := "/disable"
	if enabled {
		action = "/enable"
	}
	var r api.Rule
	err := c.doHeader(ctx, http.MethodPost, "/rules/"+url.PathEscape(name)+action, nil, ifMatch(version), nil, &r)
	return r, err
}
