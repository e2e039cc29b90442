package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/jobbridge/jobbridge/agent/internal/notify"
	"github.com/jobbridge/jobbridge/shared/api"
)

// NotifyConfig holds the notification settings (JOBBRIDGE_NOTIFY_*).
type NotifyConfig struct {
	// On lists what notifies when a rule does not say: failed, cancelled,
	// interrupted, timeout, recovered. Default failed, interrupted,
	// timeout, recovered.
	On string
	// EmailTo are the recipients, comma-separated; with SMTPAddr and
	// SMTPFrom they turn email on.
	EmailTo      string
	SMTPAddr     string // host:port
	SMTPFrom     string
	SMTPUsername string
	SMTPPassword string
	SMTPTLS      string // none, starttls (default) or tls
	// WebhookURL turns chat messages (Slack-compatible JSON) on.
	WebhookURL string
	// SNSTopicARN turns SNS on (credentials from the AWS SDK's chain).
	SNSTopicARN string
	// FoldWindow folds repeated outcomes of a rule. Default 10m.
	FoldWindow time.Duration
}

// String shows the settings with the SMTP password and the webhook URL
// (a credential for Slack-style hooks) masked, so printing the agent's
// configuration (%v, %+v, %#v) cannot leak them.
func (c NotifyConfig) String() string {
	hide := func(s string) string {
		if s == "" {
			return ""
		}
		return api.MaskedValue
	}
	return fmt.Sprintf("{On:%q EmailTo:%q SMTPAddr:%q SMTPFrom:%q SMTPUsername:%q SMTPPassword:%q SMTPTLS:%q WebhookURL:%q SNSTopicARN:%q FoldWindow:%s}",
		c.On, c.EmailTo, c.SMTPAddr, c.SMTPFrom, c.SMTPUsername, hide(c.SMTPPassword), c.SMTPTLS, hide(c.WebhookURL), c.SNSTopicARN, c.FoldWindow)
}

// GoString is String, for %#v.
func (c NotifyConfig) GoString() string { return c.String() }

// kinds parses On.
func (c NotifyConfig) kinds() ([]notify.Kind, error) {
	if strings.TrimSpace(c.On) == "" {
		return notify.DefaultOn, nil
	}
	k, err := api.ParseNotifyKinds(c.On)
	if err != nil {
		return nil, fmt.Errorf("JOBBRIDGE_NOTIFY_ON: %w", err)
	}
	return k, nil
}

func (c NotifyConfig) validate() error {
	var errs []error
	if _, err := c.kinds(); err != nil {
		errs = append(errs, err)
	}
	email := c.EmailTo != "" || c.SMTPAddr != "" || c.SMTPFrom != ""
	if email && (c.EmailTo == "" || c.SMTPAddr == "" || c.SMTPFrom == "") {
		errs = append(errs, errors.New("email notifications need JOBBRIDGE_NOTIFY_EMAIL_TO, JOBBRIDGE_NOTIFY_SMTP_ADDR and JOBBRIDGE_NOTIFY_SMTP_FROM together"))
	}
	if c.WebhookURL != "" && !strings.HasPrefix(c.WebhookURL, "https://") && !strings.HasPrefix(c.WebhookURL, "http://") {
		errs = append(errs, errors.New("JOBBRIDGE_NOTIFY_WEBHOOK_URL: want an http(s) URL"))
	}
	if c.SNSTopicARN != "" && !strings.HasPrefix(c.SNSTopicARN, "arn:") {
		errs = append(errs, fmt.Errorf("JOBBRIDGE_NOTIFY_SNS_TOPIC_ARN: %q is not an ARN", c.SNSTopicARN))
	}
	if c.FoldWindow < 0 {
		errs = append(errs, errors.New("JOBBRIDGE_NOTIFY_FOLD_WINDOW: negative"))
	}
	return errors.Join(errs...)
}

// notifiers builds the configured channels.
func (c NotifyConfig) notifiers(ctx context.Context) ([]notify.Notifier, error) {
	var out []notify.Notifier
	if c.SMTPAddr != "" {
		var to []string
		for _, addr := range strings.Split(c.EmailTo, ",") {
			if a := strings.TrimSpace(addr); a != "" {
				to = append(to, a)
			}
		}
		e, err := notify.NewEmail(notify.EmailConfig{
			Addr: c.SMTPAddr, From: c.SMTPFrom, To: to,
			Username: c.SMTPUsername, Password: c.SMTPPassword, TLS: c.SMTPTLS,
		})
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if c.WebhookURL != "" {
		out = append(out, notify.NewWebhook(c.WebhookURL, nil))
	}
	if c.SNSTopicARN != "" {
		awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("SNS notifications: load AWS configuration: %w", err)
		}
		out = append(out, notify.NewSNS(sns.NewFromConfig(awsCfg), c.SNSTopicARN))
	}
	return out, nil
}
