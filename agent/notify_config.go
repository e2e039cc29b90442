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
	// interrupted, timeout, recovered, comma-separated. Default failed,
	// interrupted, timeout and recovered.
	On string
	// EmailTo are the recipients, comma-separated; with SMTPAddr and
	// SMTPFrom they turn email on.
	EmailTo      string
	SMTPAddr     string // host:port
	SMTPFrom     string
	SMTPUsername string
	SMTPPassword string
	SMTPTLS      string // none, starttls or tls; default DefaultNotifySMTPTLS
	// WebhookURL turns chat messages (Slack-compatible JSON) on.
	WebhookURL string
	// SNSTopicARN turns SNS on (credentials from the AWS SDK's chain).
	SNSTopicARN string
	// FoldWindow folds repeated outcomes of a rule. Default
	// DefaultNotifyFoldWindow.
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

// validate checks what no notification setting can check alone; each
// setting checks itself (see Settings).
func (c NotifyConfig) validate() error {
	email := c.EmailTo != "" || c.SMTPAddr != "" || c.SMTPFrom != ""
	if email && (c.EmailTo == "" || c.SMTPAddr == "" || c.SMTPFrom == "") {
		return errors.New("email notifications need JOBBRIDGE_NOTIFY_EMAIL_TO, JOBBRIDGE_NOTIFY_SMTP_ADDR and JOBBRIDGE_NOTIFY_SMTP_FROM together")
	}
	return nil
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
