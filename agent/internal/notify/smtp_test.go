package notify_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/jobbridge/jobbridge/agent/internal/notify"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/testcert"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// mailServer is a real SMTP server (emersion/go-smtp) on loopback that
// keeps what it receives.
type mailServer struct {
	addr string
	cert testcert.Cert

	mu       sync.Mutex
	mails    []receivedMail
	authUser string
	refuse   bool // answer every RCPT with a permanent error
	echoAuth bool // refuse AUTH with a reply that echoes what the client sent
	attempts int
}

type receivedMail struct {
	from string
	to   []string
	data string
	tls  bool
	user string
}

type session struct {
	srv  *mailServer
	conn *smtp.Conn
	m    receivedMail
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.srv.mu.Lock()
		echo := s.srv.echoAuth
		s.srv.mu.Unlock()
		if echo {
			sent := base64.StdEncoding.EncodeToString([]byte(identity + "\x00" + username + "\x00" + password))
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8},
				Message: "AUTH PLAIN " + sent + " refused: user " + username + " password " + password}
		}
		if username != "jobbridge" || password != "s3cret" {
			return errors.New("invalid credentials")
		}
		s.m.user = username
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.srv.mu.Lock()
	s.srv.attempts++
	s.srv.mu.Unlock()
	if s.srv.authUser != "" && s.m.user == "" {
		return &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	}
	s.m.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.srv.mu.Lock()
	refuse := s.srv.refuse
	s.srv.mu.Unlock()
	if refuse {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	s.m.to = append(s.m.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.data = string(b)
	_, s.m.tls = s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	s.srv.mails = append(s.srv.mails, s.m)
	s.srv.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.m = receivedMail{user: s.m.user} }
func (s *session) Logout() error { return nil }

// startMailServer serves SMTP on loopback: with implicit TLS, or plain
// with STARTTLS offered.
func startMailServer(t *testing.T, implicitTLS bool, authUser string) *mailServer {
	t.Helper()
	ms := &mailServer{cert: testcert.New(t), authUser: authUser}
	be := smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &session{srv: ms, conn: c}, nil })
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{ms.cert.TLS}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if implicitTLS {
		l = tls.NewListener(l, srv.TLSConfig)
	}
	ms.addr = l.Addr().String()
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })
	return ms
}

func (ms *mailServer) received() []receivedMail {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	return append([]receivedMail(nil), ms.mails...)
}

func sampleMessage() notify.Message {
	now := time.Date(2026, 11, 27, 3, 0, 42, 0, time.UTC)
	return notify.Message{
		Kind: notify.Failed, Rule: "nightly-export", Job: "http", RunID: "0190d1a8-0000-7000-8000-0000deadbeef",
		Status: api.StatusFailed, Error: "POST https://example.com/export: status 503, want 2xx",
		Started: now.Add(-90 * time.Second), Finished: now, Node: "agent-1", Count: 1,
		Link: "https://jobs.example.com/api/v1/runs/0190d1a8-0000-7000-8000-0000deadbeef",
	}
}

func TestEmailOverSTARTTLSWithAuthentication(t *testing.T) {
	t.Parallel()
	ms := startMailServer(t, false, "jobbridge")
	e, err := notify.NewEmail(notify.EmailConfig{
		Addr: ms.addr, From: "jobbridge@example.com", To: []string{"ops@example.com", "oncall@example.com"},
		Username: "jobbridge", Password: "s3cret", TLS: "starttls",
		TLSConfig: &tls.Config{RootCAs: ms.cert.Pool, ServerName: "127.0.0.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Notify(context.Background(), sampleMessage()); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	mails := ms.received()
	if len(mails) != 1 {
		t.Fatalf("server received %d mails, want 1", len(mails))
	}
	m := mails[0]
	if !m.tls || m.user != "jobbridge" || m.from != "jobbridge@example.com" || strings.Join(m.to, ",") != "ops@example.com,oncall@example.com" {
		t.Errorf("envelope: tls %v user %q from %q to %v", m.tls, m.user, m.from, m.to)
	}
	for _, want := range []string{
		"Subject: [jobbridge] nightly-export failed (run deadbeef)",
		"To: <ops@example.com>, <oncall@example.com>",
		"Rule:     nightly-export", "Job:      http", "Run:      0190d1a8-0000-7000-8000-0000deadbeef",
		"Duration: 1m30s", "status 503, want 2xx", "https://jobs.example.com/api/v1/runs/",
	} {
		if !strings.Contains(m.data, want) {
			t.Errorf("mail lacks %q:\n%s", want, m.data)
		}
	}
}

func TestEmailOverImplicitTLS(t *testing.T) {
	t.Parallel()
	ms := startMailServer(t, true, "")
	e, err := notify.NewEmail(notify.EmailConfig{
		Addr: ms.addr, From: "jobbridge@example.com", To: []string{"ops@example.com"}, TLS: "tls",
		TLSConfig: &tls.Config{RootCAs: ms.cert.Pool, ServerName: "127.0.0.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Notify(context.Background(), sampleMessage()); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	if mails := ms.received(); len(mails) != 1 || !mails[0].tls {
		t.Errorf("mails %+v, want one over TLS", mails)
	}
}

func TestEmailRefusesPlainTextWhenSTARTTLSIsRequiredButMissing(t *testing.T) {
	t.Parallel()
	ms := startMailServer(t, false, "")
	e, err := notify.NewEmail(notify.EmailConfig{
		Addr: ms.addr, From: "jobbridge@example.com", To: []string{"ops@example.com"}, TLS: "starttls",
		TLSConfig: &tls.Config{RootCAs: nil, ServerName: "127.0.0.1"}, // the server's CA is not trusted
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Notify(context.Background(), sampleMessage()); err == nil {
		t.Error("sent over a TLS connection to an untrusted certificate")
	}
	if len(ms.received()) != 0 {
		t.Error("the mail arrived anyway")
	}
}

func TestEmailConfigurationErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cfg  notify.EmailConfig
		want string
	}{
		{notify.EmailConfig{Addr: "mail.example.com", From: "a@b.c", To: []string{"d@e.f"}}, "is not host:port"},
		{notify.EmailConfig{Addr: "mail.example.com:25", To: []string{"d@e.f"}}, "need JOBBRIDGE_NOTIFY_SMTP_FROM"},
		{notify.EmailConfig{Addr: "mail.example.com:25", From: "a@b.c", To: []string{"d@e.f"}, TLS: "ssl"}, `"ssl" is not none, starttls or tls`},
		{notify.EmailConfig{Addr: "mail.example.com:25", From: "not an address", To: []string{"d@e.f"}}, "JOBBRIDGE_NOTIFY_SMTP_FROM"},
	} {
		if _, err := notify.NewEmail(tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewEmail(%+v) = %v, want an error with %q", tt.cfg, err, tt.want)
		}
	}
}

func TestARefusingMailServerIsRetriedThenRecordedAsFailed(t *testing.T) {
	t.Parallel()
	ms := startMailServer(t, false, "")
	ms.mu.Lock()
	ms.refuse = true
	ms.mu.Unlock()
	email, err := notify.NewEmail(notify.EmailConfig{
		Addr: ms.addr, From: "jobbridge@example.com", To: []string{"ops@example.com"},
		TLSConfig: &tls.Config{RootCAs: ms.cert.Pool, ServerName: "127.0.0.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, time.Minute, email)
	r := e.rule(t, "r", store.NotifyPolicy{})
	run := e.run(t, r, "fail")
	var st []notify.ChannelStatus
	wait.Poll(t, 10*time.Second, func() (bool, string) {
		st = e.disp.Status()
		return st[0].Failed == 1, ""
	})
	if st[0].Healthy || st[0].Failed != 1 || !strings.Contains(st[0].LastError, "gave up after 3 attempts") || !strings.Contains(st[0].LastError, "no such mailbox") {
		t.Errorf("email status = %+v", st[0])
	}
	ms.mu.Lock()
	attempts := ms.attempts
	ms.mu.Unlock()
	if attempts != 3 {
		t.Errorf("the server saw %d attempts, want 3", attempts)
	}
	if got, _ := e.store.RunGet(context.Background(), run.ID); got.Status != api.StatusFailed || got.Error != "disk full\nsecond line" {
		t.Errorf("the run changed: %+v", got)
	}
}
