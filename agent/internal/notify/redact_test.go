package notify_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/jobbridge/jobbridge/agent/internal/notify"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
)

// failOnce makes one run fail, waits until the dispatcher has given up
// on the one channel it has, and returns everything a failure is shown
// in: the channel's status, the dispatcher's log and the audit trail.
func failOnce(t *testing.T, n notify.Notifier) (notify.ChannelStatus, string) {
	t.Helper()
	e := newEnvWith(t, time.Minute, n)
	e.run(t, e.rule(t, "r", store.NotifyPolicy{}), "fail")
	var st notify.ChannelStatus
	wait.Poll(t, 10*time.Second, func() (bool, string) {
		st = e.disp.Status()[0]
		return st.Failed == 1, ""
	})
	if st.Failed != 1 || st.LastError == "" {
		t.Fatalf("the channel did not fail: %+v", st)
	}
	t.Logf("last error: %s", st.LastError)
	var audit []store.AuditEntry
	wait.Poll(t, 5*time.Second, func() (bool, string) {
		audit, _, _ = e.store.AuditList(context.Background(), store.AuditFilter{Actor: "notify"})
		return len(audit) > 0, ""
	})
	if len(audit) == 0 {
		t.Fatal("no audit entry for the failure")
	}
	return st, fmt.Sprintf("status: %+v\nlog:\n%s\naudit: %+v", st, e.logs, audit)
}

// noneOf fails for each secret found in shown.
func noneOf(t *testing.T, shown string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(shown, s) {
			t.Errorf("%q is shown:\n%s", s, shown)
		}
	}
}

// The path of a Slack-style hook is its credential; the test's URL also
// has userinfo and a token in the query.
const hookPath = "/services/T000/B000/XXXXSECRET"

var hookSecrets = []string{"T000", "B000", "XXXXSECRET", "/services", "QUERYSECRET", "hookuser", "HOOKPASS",
	base64.StdEncoding.EncodeToString([]byte("hookuser:HOOKPASS"))}

func hookURL(srv *httptest.Server) string {
	return strings.Replace(srv.URL, "http://", "http://hookuser:HOOKPASS@", 1) + hookPath + "?token=QUERYSECRET"
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestAFailingChatWebhookNeverShowsItsURL(t *testing.T) {
	t.Parallel()
	bad := closedPort(t)
	for _, tt := range []struct {
		name    string
		handler http.HandlerFunc
		timeout time.Duration
		want    string // what the error still tells an operator
	}{
		{"answers 500 echoing the request", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "no route for POST "+r.URL.RequestURI()+" (Authorization: "+r.Header.Get("Authorization")+")", http.StatusInternalServerError)
		}, 0, "answered 500: no route for POST ********"},
		{"closes the connection", func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, 0, `: Post "http://127.0.0.1:`},
		{"does not answer in time", func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body) // so the server notices the client leave
			<-r.Context().Done()
		}, 200 * time.Millisecond, "Client.Timeout exceeded"},
		{"redirects to an address nothing listens on", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://"+bad+r.URL.RequestURI(), http.StatusTemporaryRedirect)
		}, 0, `Post "http://` + bad + `": dial tcp ` + bad},
		{"redirects in a loop", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, r.URL.RequestURI(), http.StatusTemporaryRedirect)
		}, 0, "stopped after 10 redirects"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(tt.handler)
			defer srv.Close()
			var client *http.Client
			if tt.timeout > 0 {
				client = &http.Client{Timeout: tt.timeout}
			}
			st, shown := failOnce(t, notify.NewWebhook(hookURL(srv), client))
			noneOf(t, shown, hookSecrets...)
			host := strings.TrimPrefix(srv.URL, "http://")
			if !strings.Contains(st.LastError, "chat webhook "+host) || !strings.Contains(st.LastError, tt.want) {
				t.Errorf("last error %q does not name the webhook's host %s and say %q", st.LastError, host, tt.want)
			}
		})
	}
}

func TestAMailServerEchoingTheCredentialsDoesNotLeakThem(t *testing.T) {
	t.Parallel()
	ms := startMailServer(t, false, "jobbridge")
	ms.mu.Lock()
	ms.echoAuth = true
	ms.mu.Unlock()
	email, err := notify.NewEmail(notify.EmailConfig{
		Addr: ms.addr, From: "jobbridge@example.com", To: []string{"ops@example.com"},
		Username: "jobbridge", Password: "s3cret-pw", TLS: "starttls",
		TLSConfig: &tls.Config{RootCAs: ms.cert.Pool, ServerName: "127.0.0.1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	st, shown := failOnce(t, email)
	plain := base64.StdEncoding.EncodeToString([]byte("\x00jobbridge\x00s3cret-pw"))
	noneOf(t, shown, "s3cret-pw", plain, strings.TrimRight(plain, "="))
	if !strings.Contains(st.LastError, "email via "+ms.addr) || !strings.Contains(st.LastError, "535") {
		t.Errorf("last error %q does not say the server refused the login", st.LastError)
	}
}

// snsRefusingSignatures answers every request as AWS does a bad
// signature: with the request it received, session token and all.
func snsRefusingSignatures(w http.ResponseWriter, r *http.Request) {
	var echo strings.Builder
	_ = xml.EscapeText(&echo, []byte("The request signature we calculated does not match the signature you provided. "+
		"The Canonical String for this request should have been 'POST\n/\n\nhost:"+r.Host+"\n"+
		"x-amz-security-token:"+r.Header.Get("X-Amz-Security-Token")+"\n' "+
		"Authorization: "+r.Header.Get("Authorization")))
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintf(w, `<ErrorResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <Error><Type>Sender</Type><Code>SignatureDoesNotMatch</Code><Message>%s</Message></Error>
  <RequestId>f187a3c1-376f-11df-8963-01868b7c937a</RequestId>
</ErrorResponse>`, echo.String())
}

func TestAnSNSErrorDoesNotShowTheSignedRequest(t *testing.T) {
	t.Parallel()
	signatures := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, sig, _ := strings.Cut(r.Header.Get("Authorization"), "Signature=")
		select {
		case signatures <- sig:
		default:
		}
		snsRefusingSignatures(w, r)
	}))
	defer srv.Close()
	client := sns.New(sns.Options{
		Region: "eu-west-1", BaseEndpoint: aws.String(srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "SECRETACCESSKEY", "SESSIONTOKENSECRET"),
	})
	topic := "arn:aws:sns:eu-west-1:123456789012:jobbridge-alerts"
	st, shown := failOnce(t, notify.NewSNS(client, topic))
	sig := <-signatures
	if sig == "" {
		t.Fatal("the request was not signed")
	}
	noneOf(t, shown, "SESSIONTOKENSECRET", "SECRETACCESSKEY", sig)
	if !strings.Contains(st.LastError, "sns topic "+topic) || !strings.Contains(st.LastError, "SignatureDoesNotMatch") {
		t.Errorf("last error %q does not say which topic refused what", st.LastError)
	}
}

func TestChannelsPrintWithoutTheirSecrets(t *testing.T) {
	t.Parallel()
	cfg := notify.EmailConfig{Addr: "smtp.example.com:587", From: "a@example.com", To: []string{"b@example.com"}, Username: "jobbridge", Password: "s3cret-pw"}
	email, err := notify.NewEmail(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hook := notify.NewWebhook("https://hooks.slack.com"+hookPath, nil)
	for _, v := range []any{cfg, email, hook} {
		shown := fmt.Sprintf("%v %+v %#v %s", v, v, v, v)
		noneOf(t, shown, "s3cret-pw", "T000", "B000", "XXXXSECRET")
	}
	if got := fmt.Sprint(hook); got != "chat webhook hooks.slack.com" {
		t.Errorf("the webhook prints as %q", got)
	}
	if got := fmt.Sprint(email); got != "email via smtp.example.com:587" {
		t.Errorf("the email channel prints as %q", got)
	}
}

// ownHook is a program's own channel that returns the HTTP client's error
// as it is, URL and all.
type ownHook struct{ url string }

func (ownHook) Name() string { return "own-hook" }
func (h ownHook) Notify(ctx context.Context, _ notify.Message) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return fmt.Errorf("answered %s", resp.Status)
}

func TestTheDispatcherScrubsAProgramsOwnChannelToo(t *testing.T) {
	t.Parallel()
	bad := closedPort(t)
	st, shown := failOnce(t, ownHook{url: "http://" + bad + hookPath})
	noneOf(t, shown, "T000", "B000", "XXXXSECRET", "/services")
	if want := `Post "http://` + bad + `": dial tcp`; !strings.Contains(st.LastError, want) {
		t.Errorf("last error %q does not say %q", st.LastError, want)
	}
}
