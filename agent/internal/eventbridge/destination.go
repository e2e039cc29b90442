package eventbridge

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// ensureConnection makes the connection carry the configured API key in the
// configured header, and returns its ARN. It writes to AWS only when the
// connection is missing, is not an API_KEY connection under the configured
// header, has lost its authorization, or was last given another key (the
// state file's hash says so).
func (b *Backend) ensureConnection(ctx context.Context) (string, error) {
	s := b.cfg.Settings
	hash := authHash(s.AuthHeader, s.APIKey)
	out, err := b.client.DescribeConnection(ctx, &eventbridge.DescribeConnectionInput{Name: aws.String(s.ConnectionName)})
	if isNotFound(err) {
		created, err := b.client.CreateConnection(ctx, &eventbridge.CreateConnectionInput{
			Name:              aws.String(s.ConnectionName),
			Description:       aws.String("jobbridge: API key for the agent's webhook"),
			AuthorizationType: types.ConnectionAuthorizationTypeApiKey,
			AuthParameters: &types.CreateConnectionAuthRequestParameters{
				ApiKeyAuthParameters: &types.CreateConnectionApiKeyAuthRequestParameters{
					ApiKeyName:  aws.String(s.AuthHeader),
					ApiKeyValue: aws.String(s.APIKey),
				},
			},
		})
		if err != nil {
			return "", fmt.Errorf("create connection %q: %w", s.ConnectionName, err)
		}
		arn := aws.ToString(created.ConnectionArn)
		b.log.Info("eventbridge: created the connection", "connection", s.ConnectionName, "arn", arn)
		return arn, b.state.setConnection(arn, hash)
	}
	if err != nil {
		return "", fmt.Errorf("describe connection %q: %w", s.ConnectionName, err)
	}
	arn := aws.ToString(out.ConnectionArn)
	var why string
	st := b.state.get()
	switch {
	case out.AuthorizationType != types.ConnectionAuthorizationTypeApiKey:
		why = fmt.Sprintf("its authorization is %s, not API_KEY", out.AuthorizationType)
	case out.AuthParameters != nil && out.AuthParameters.ApiKeyAuthParameters != nil &&
		aws.ToString(out.AuthParameters.ApiKeyAuthParameters.ApiKeyName) != s.AuthHeader:
		// Changed behind the agent's back. (When AWS does not say, the
		// state file's hash, which covers the header, decides.)
		why = "its API key header is not " + s.AuthHeader
	case out.ConnectionState == types.ConnectionStateDeauthorized:
		why = "it is deauthorized: " + aws.ToString(out.StateReason)
	case st.ConnectionARN != arn:
		why = "this agent has not set its key yet"
	case st.AuthHash != hash:
		why = "the API key changed"
	}
	if why == "" {
		return arn, nil
	}
	updated, err := b.client.UpdateConnection(ctx, &eventbridge.UpdateConnectionInput{
		Name:              aws.String(s.ConnectionName),
		AuthorizationType: types.ConnectionAuthorizationTypeApiKey,
		AuthParameters: &types.UpdateConnectionAuthRequestParameters{
			ApiKeyAuthParameters: &types.UpdateConnectionApiKeyAuthRequestParameters{
				ApiKeyName:  aws.String(s.AuthHeader),
				ApiKeyValue: aws.String(s.APIKey),
			},
		},
	})
	if err != nil {
		return "", fmt.Errorf("update connection %q (%s): %w", s.ConnectionName, why, err)
	}
	if a := aws.ToString(updated.ConnectionArn); a != "" {
		arn = a
	}
	b.log.Info("eventbridge: updated the connection", "connection", s.ConnectionName, "why", why)
	return arn, b.state.setConnection(arn, hash)
}

// ensureDestination makes the API destination POST to the webhook through
// the connection at the configured rate, and returns its ARN.
func (b *Backend) ensureDestination(ctx context.Context, connectionARN string) (string, error) {
	s := b.cfg.Settings
	endpoint := s.Endpoint()
	out, err := b.client.DescribeApiDestination(ctx, &eventbridge.DescribeApiDestinationInput{Name: aws.String(s.DestinationName)})
	if isNotFound(err) {
		created, err := b.client.CreateApiDestination(ctx, &eventbridge.CreateApiDestinationInput{
			Name:                         aws.String(s.DestinationName),
			Description:                  aws.String("jobbridge: the agent's webhook"),
			ConnectionArn:                aws.String(connectionARN),
			InvocationEndpoint:           aws.String(endpoint),
			HttpMethod:                   types.ApiDestinationHttpMethodPost,
			InvocationRateLimitPerSecond: aws.Int32(int32(s.InvocationRate)),
		})
		if err != nil {
			return "", fmt.Errorf("create API destination %q: %w", s.DestinationName, err)
		}
		arn := aws.ToString(created.ApiDestinationArn)
		b.log.Info("eventbridge: created the API destination", "destination", s.DestinationName, "endpoint", endpoint, "arn", arn)
		return arn, nil
	}
	if err != nil {
		return "", fmt.Errorf("describe API destination %q: %w", s.DestinationName, err)
	}
	arn := aws.ToString(out.ApiDestinationArn)
	var why string
	switch {
	case aws.ToString(out.InvocationEndpoint) != endpoint:
		why = fmt.Sprintf("its endpoint is %s, not %s", aws.ToString(out.InvocationEndpoint), endpoint)
	case aws.ToString(out.ConnectionArn) != connectionARN:
		why = "it uses another connection"
	case out.HttpMethod != types.ApiDestinationHttpMethodPost:
		why = fmt.Sprintf("its method is %s, not POST", out.HttpMethod)
	case int(aws.ToInt32(out.InvocationRateLimitPerSecond)) != s.InvocationRate:
		why = fmt.Sprintf("its rate limit is %d/s, not %d/s", aws.ToInt32(out.InvocationRateLimitPerSecond), s.InvocationRate)
	}
	if why == "" {
		return arn, nil
	}
	updated, err := b.client.UpdateApiDestination(ctx, &eventbridge.UpdateApiDestinationInput{
		Name:                         aws.String(s.DestinationName),
		ConnectionArn:                aws.String(connectionARN),
		InvocationEndpoint:           aws.String(endpoint),
		HttpMethod:                   types.ApiDestinationHttpMethodPost,
		InvocationRateLimitPerSecond: aws.Int32(int32(s.InvocationRate)),
	})
	if err != nil {
		return "", fmt.Errorf("update API destination %q (%s): %w", s.DestinationName, why, err)
	}
	if a := aws.ToString(updated.ApiDestinationArn); a != "" {
		arn = a
	}
	b.log.Info("eventbridge: updated the API destination", "destination", s.DestinationName, "why", why)
	return arn, nil
}

// wiring is what setup found or made in AWS: what the rules and schedules
// point at.
type wiring struct {
	destinationARN string // the API destination
	busARN         string // scheduler mode: the bus the schedules put events on
}

// setup ensures what the rules need once (the connection and the
// destination; in scheduler mode also the bus, the schedule group and the
// relay rule); later calls return what was found then.
func (b *Backend) setup(ctx context.Context) (wiring, error) {
	b.setupMu.Lock()
	defer b.setupMu.Unlock()
	if b.wired.destinationARN != "" {
		return b.wired, nil
	}
	return b.ensureLocked(ctx)
}

// ensure checks all of it again (reads only, when nothing changed).
func (b *Backend) ensure(ctx context.Context) (wiring, error) {
	b.setupMu.Lock()
	defer b.setupMu.Unlock()
	return b.ensureLocked(ctx)
}

func (b *Backend) ensureLocked(ctx context.Context) (wiring, error) {
	conn, err := b.ensureConnection(ctx)
	if err != nil {
		return wiring{}, err
	}
	w := wiring{}
	if w.destinationARN, err = b.ensureDestination(ctx, conn); err != nil {
		return wiring{}, err
	}
	if b.cfg.Mode == ModeScheduler {
		if w.busARN, err = b.describeBus(ctx); err != nil {
			return wiring{}, err
		}
		if err := b.ensureGroup(ctx); err != nil {
			return wiring{}, err
		}
		if err := b.ensureRelay(ctx, w.destinationARN); err != nil {
			return wiring{}, err
		}
	}
	b.wired = w
	return w, nil
}
