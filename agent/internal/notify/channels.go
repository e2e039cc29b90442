package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	mail "github.com/wneessen/go-mail"
)

// CheckSMTPTLS says whether tls is one of EmailConfig.TLS's values (empty
// is the default).
func CheckSMTPTLS(tls string) error {
	switch tls {
	case "", "none", "starttls", "tls":
		return nil
	}
	return fmt.Errorf("%q is not none, starttls or tls", tls)
}

// DefaultSMTPTLS is EmailConfig.TLS when none is given.
const DefaultSMTPTLS = "starttls"

// EmailConfig configures the email channel.
type EmailConfig struct {
	Addr     string   // SMTP server, host:port
	From     string   // sender address
	To       []string // recipients
	Username string   // optional SMTP authentication
	Password string
	// TLS is "starttls" (DefaultSMTPTLS: upgrade the connection, refuse if
	// the server cannot), "tls" (implicit TLS, port 465 style) or "none".
	TLS string
	// TLSConfig overrides the TLS settings (tests give their own CA).
	TLSConfig *tls.Config
}

// String describes the configuration without the password, so printing it
// (%v, %+v, %#v) cannot leak it.
func (c EmailConfig) String() string {
	pw := ""
	if c.Password != "" {
		pw = " password " + masked
	}
	return fmt.Sprintf("smtp %s tls %q user %q%s from %q to %q", c.Addr, c.TLS, c.Username, pw, c.From, c.To)
}

// GoString is String, for %#v.
func (c EmailConfig) GoString() string { return c.String() }

// Email sends messages over SMTP with go-mail.
type Email struct {
	cfg  EmailConfig
	host string
	port int
}

// NewEmail checks the configuration and returns the channel.
func NewEmail(cfg EmailConfig) (*Email, error) {
	host, portStr, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("JOBBRIDGE_NOTIFY_SMTP_ADDR: %q is not host:port", cfg.Addr)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("JOBBRIDGE_NOTIFY_SMTP_ADDR: %q has no numeric port", cfg.Addr)
	}
	if cfg.From == "" || len(cfg.To) == 0 {
		return nil, fmt.Errorf("email notifications need JOBBRIDGE_NOTIFY_SMTP_FROM and JOBBRIDGE_NOTIFY_EMAIL_TO")
	}
	if cfg.TLS == "" {
		cfg.TLS = DefaultSMTPTLS
	}
	if err := CheckSMTPTLS(cfg.TLS); err != nil {
		return nil, fmt.Errorf("JOBBRIDGE_NOTIFY_SMTP_TLS: %w", err)
	}
	e := &Email{cfg: cfg, host: host, port: port}
	if _, err := e.message(Message{}); err != nil {
		return nil, err
	}
	return e, nil
}

// Name implements Notifier.
func (*Email) Name() string { return "email" }

// String describes the channel safely: "email via smtp.example.com:587".
func (e *Email) String() string { return "email via " + e.cfg.Addr }

// GoString is String, so %#v does not print the configuration.
func (e *Email) GoString() string { return e.String() }

// secrets are the password and the forms AUTH sends it in; the username
// alone is not secret and tells an operator which account failed.
func (e *Email) secrets() []string {
	if e.cfg.Username == "" && e.cfg.Password == "" {
		return nil
	}
	return append([]string{e.cfg.Password}, base64Forms(e.cfg.Username, e.cfg.Password)...)
}

func (e *Email) message(m Message) (*mail.Msg, error) {
	msg := mail.NewMsg()
	if err := msg.From(e.cfg.From); err != nil {
		return nil, fmt.Errorf("JOBBRIDGE_NOTIFY_SMTP_FROM: %w", err)
	}
	if err := msg.To(e.cfg.To...); err != nil {
		return nil, fmt.Errorf("JOBBRIDGE_NOTIFY_EMAIL_TO: %w", err)
	}
	msg.Subject(m.Subject())
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(mail.TypeTextPlain, m.Text())
	return msg, nil
}

// Notify implements Notifier: one SMTP exchange per message. Its error
// holds none of the channel's secrets.
func (e *Email) Notify(ctx context.Context, m Message) error {
	return scrub(e, e.send(ctx, m))
}

func (e *Email) send(ctx context.Context, m Message) error {
	msg, err := e.message(m)
	if err != nil {
		return err
	}
	opts := []mail.Option{mail.WithPort(e.port), mail.WithTimeout(30 * time.Second)}
	switch e.cfg.TLS {
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if e.cfg.TLSConfig != nil {
		opts = append(opts, mail.WithTLSConfig(e.cfg.TLSConfig))
	}
	if e.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(e.cfg.Username), mail.WithPassword(e.cfg.Password))
	}
	c, err := mail.NewClient(e.host, opts...)
	if err != nil {
		return fmt.Errorf("%s: %w", e, err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("%s: %w", e, err)
	}
	return nil
}

// Webhook posts a short message to a chat webhook (Slack-compatible JSON:
// {"text": ...}; Mattermost, Rocket.Chat and others take the same). Its
// URL is a credential: only its host is ever shown.
type Webhook struct {
	url    string
	client *http.Client
}

// NewWebhook returns the chat channel; client nil means a 30s timeout one.
func NewWebhook(url string, client *http.Client) *Webhook {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return &Webhook{url: url, client: client}
}

// Name implements Notifier.
func (*Webhook) Name() string { return "webhook" }

// String describes the channel safely: "chat webhook hooks.slack.com".
func (w *Webhook) String() string {
	host := "(bad URL)"
	if u, err := url.Parse(w.url); err == nil && u.Host != "" {
		host = u.Host
	}
	return "chat webhook " + host
}

// GoString is String, so %#v does not print the URL.
func (w *Webhook) GoString() string { return w.String() }

func (w *Webhook) secrets() []string { return urlSecrets(w.url) }

// Notify implements Notifier. Its error holds none of the URL but its
// scheme and host.
func (w *Webhook) Notify(ctx context.Context, m Message) error {
	return scrub(w, w.post(ctx, m))
}

func (w *Webhook) post(ctx context.Context, m Message) error {
	text := m.Subject()
	if m.Error != "" {
		text += "\n> " + firstLines(m.Error, 3)
	}
	if m.Console != "" {
		text += "\n" + m.Console
	}
	body, _ := json.Marshal(map[string]string{"text": text})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: %w", w, err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", w, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("%s answered %d: %s", w, resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

// SNSPublisher is the part of the SNS client the channel uses.
type SNSPublisher interface {
	Publish(ctx context.Context, in *sns.PublishInput, opts ...func(*sns.Options)) (*sns.PublishOutput, error)
}

// SNS publishes messages to a topic.
type SNS struct {
	client SNSPublisher
	topic  string
}

// NewSNS returns the SNS channel.
func NewSNS(client SNSPublisher, topicARN string) *SNS { return &SNS{client: client, topic: topicARN} }

// Name implements Notifier.
func (*SNS) Name() string { return "sns" }

// String describes the channel: the topic's ARN is not secret.
func (s *SNS) String() string { return "sns topic " + s.topic }

// GoString is String, for %#v.
func (s *SNS) GoString() string { return s.String() }

// Notify implements Notifier. The SNS channel holds no secret of its own
// (credentials come from the SDK), but AWS may echo a signed request in
// an error, which scrub masks.
func (s *SNS) Notify(ctx context.Context, m Message) error {
	return scrub(s, s.publish(ctx, m))
}

func (s *SNS) publish(ctx context.Context, m Message) error {
	subject := m.Subject()
	if len(subject) > 100 { // SNS's limit for email subscribers
		subject = subject[:97] + "..."
	}
	_, err := s.client.Publish(ctx, &sns.PublishInput{
		TopicArn: aws.String(s.topic),
		Subject:  aws.String(subject),
		Message:  aws.String(m.Text()),
	})
	if err != nil {
		return fmt.Errorf("%s: publish: %w", s, err)
	}
	return nil
}
