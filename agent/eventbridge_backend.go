package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/jobbridge/jobbridge/agent/internal/eventbridge"
)

// EventBridgeStateFile is the file in the data dir where the eventbridge
// backend keeps the hash of the API key last applied and the deletes not
// yet applied.
const EventBridgeStateFile = "eventbridge-state.json"

// EventBridgeSettings returns the eventbridge package's view of the
// settings in c.
func EventBridgeSettings(c EventBridgeConfig) eventbridge.Settings {
	return eventbridge.Settings{
		APIKey:              c.APIKey,
		AuthHeader:          c.AuthHeader,
		TargetRoleARN:       c.TargetRoleARN,
		ConnectionName:      c.ConnectionName,
		DestinationName:     c.DestinationName,
		TargetURL:           c.TargetURL,
		RulePrefix:          c.RulePrefix,
		EventBus:            c.EventBus,
		DLQARN:              c.DLQARN,
		InvocationRateLimit: int32(c.InvocationRate),
	}
}

// LoadAWSConfig loads the AWS SDK's configuration from its standard chain
// (AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_EVENTBRIDGE, ...). It reads
// the environment and the AWS config files; it calls no AWS API.
func LoadAWSConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load the AWS configuration: %w", err)
	}
	return cfg, nil
}

func newEventBridge(ctx context.Context, cfg Config, st eventbridge.Store, log *slog.Logger, leader func(context.Context) (bool, error)) (*eventbridge.Backend, error) {
	awsCfg, err := LoadAWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	b, err := eventbridge.New(eventbridge.Config{
		Settings:          EventBridgeSettings(cfg.EventBridge),
		AWS:               awsCfg,
		Store:             st,
		StatePath:         filepath.Join(cfg.DataDir, EventBridgeStateFile),
		Logger:            log,
		ReconcileInterval: cfg.EventBridge.ReconcileInterval,
		Leader:            leader,
	})
	if err != nil {
		return nil, fmt.Errorf("eventbridge scheduler: %w", err)
	}
	return b, nil
}

// OpenEventBridge opens the store cfg names and builds the eventbridge
// backend on it without running it, for commands such as `agent aws prune`.
// close releases the store. On SQLite it fails with a *sqlite.InUseError
// while an agent runs on the file.
func OpenEventBridge(ctx context.Context, cfg Config, log *slog.Logger) (b *eventbridge.Backend, close func(), err error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, fmt.Errorf("configuration:\n%w", err)
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	b, err = newEventBridge(ctx, cfg, st, log, nil)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	return b, func() { st.Close() }, nil
}

// validateEventBridge checks the eventbridge settings when that backend
// will run; missing settings are reported by Validate itself.
func (c *Config) validateEventBridge() error {
	var errs []error
	if c.EventBridge.ReconcileInterval != 0 && c.EventBridge.ReconcileInterval < 30*time.Second {
		errs = append(errs, fmt.Errorf("JOBBRIDGE_EB_RECONCILE_INTERVAL: %s is too short (at least 30s)", c.EventBridge.ReconcileInterval))
	}
	if c.EventBridge.InvocationRate < 0 {
		errs = append(errs, fmt.Errorf("JOBBRIDGE_EB_INVOCATION_RATE: %d is negative", c.EventBridge.InvocationRate))
	}
	if c.schedulerMode() == SchedulerEventBridge && c.EventBridge.complete() {
		if err := EventBridgeSettings(c.EventBridge).Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
