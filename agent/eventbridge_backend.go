package agent

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/jobbridge/jobbridge/agent/internal/eventbridge"
	"github.com/jobbridge/jobbridge/shared/localagent"
)

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

// newEventBridge builds the eventbridge backend, in scheduler mode when the
// configuration asks for the scheduler backend.
func newEventBridge(ctx context.Context, cfg Config, st eventbridge.Store, log *slog.Logger, leader func(context.Context) (bool, error)) (*eventbridge.Backend, error) {
	awsCfg, err := LoadAWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	sm, mode := cfg.schedulerMode(), eventbridge.ModeRules
	if sm == SchedulerScheduler {
		mode = eventbridge.ModeScheduler
	}
	b, err := eventbridge.New(eventbridge.Config{
		Mode:      mode,
		Unused:    sm == SchedulerLocal || sm == SchedulerOff,
		Settings:  cfg.EventBridge,
		AWS:       awsCfg,
		Store:     st,
		StatePath: filepath.Join(cfg.DataDir, localagent.EventBridgeStateFile),
		Logger:    log,
		Leader:    leader,
	})
	if err != nil {
		return nil, fmt.Errorf("%s scheduler: %w", mode, err)
	}
	return b, nil
}

// OpenEventBridge opens the store cfg names and builds the eventbridge
// backend on it without running it, for commands such as `agent aws prune`:
// in scheduler mode when cfg's scheduler is scheduler, else in eventbridge
// (rules) mode; when it is local or off, marked Unused, so that prune
// counts everything the agent made in AWS.
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
