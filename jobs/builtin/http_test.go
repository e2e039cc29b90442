package builtin_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
	"github.com/jobbridge/jobbridge/jobs/egress"
)

// seenRequest is what a test server was sent.
type seenRequest struct {
	method, path, body string
	header             http.Header
}

// httpServer answers every request with status and body, recording it.
func httpServer(t *testing.T, status int, body string) (*httptest.Server, func() []seenRequest) {
	t.Helper()
	var mu sync.Mutex
	var seen []seenRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, seenRequest{r.Method, r.URL.Path, string(b), r.Header.Clone()})
		mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() []seenRequest {
		mu.Lock()
		defer mu.Unlock()
		return append([]seenRequest(nil), seen...)
	}
}

// allowLoopback is the policy for tests whose servers listen on 127.0.0.1.
func allowLoopback(t *testing.T) *egress.Policy {
	t.Helper()
	p, err := egress.Parse("127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHTTPGetSendsHeadersAndBearerToken(t *testing.T) {
	t.Parallel()
	srv, seen := httpServer(t, http.StatusOK, `{"ok":true}`)
	ctx, _, rec := runContext(t)
	job := builtin.NewHTTP(allowLoopback(t))
	err := job.Run(ctx, resolve(t, job, map[string]string{
		"url":          srv.URL + "/ping",
		"header":       "X-Request-Id: abc-123\n\n  X-Team:  ops \nAccept: application/json",
		"bearer_token": "s3cret",
	}))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	reqs := seen()
	if len(reqs) != 1 {
		t.Fatalf("server saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	for name, want := range map[string]string{
		"X-Request-Id":  "abc-123",
		"X-Team":        "ops",
		"Accept":        "application/json",
		"Authorization": "Bearer s3cret",
		"Content-Type":  "",
	} {
		if got := r.header.Get(name); got != want {
			t.Errorf("server saw %s: %q, want %q", name, got, want)
		}
	}
	if r.method != http.MethodGet || r.path != "/ping" || r.body != "" {
		t.Errorf("server saw %s %s with body %q, want GET /ping without one", r.method, r.path, r.body)
	}
	for _, want := range []string{"http: request method=GET url=" + srv.URL + "/ping", "http: response status=\"200 OK\" duration="} {
		if !rec.hasLine(slog.LevelInfo, want) {
			t.Errorf("no INFO line containing %q in the log:%s", want, rec.dump())
		}
	}
	for _, l := range rec.Lines() {
		if strings.Contains(l.msg, "s3cret") {
			t.Errorf("the bearer token leaked into the log: %s", l)
		}
	}
	if p := rec.Progresses(); len(p) == 0 || p[len(p)-1].percent != 100 {
		t.Errorf("progress = %v, want it to end at 100", p)
	}
}

func TestHTTPPostSendsBodyAndContentType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		contentType string
		want        string
	}{
		{"json by default", "", "application/json"},
		{"as given", "text/plain; charset=utf-8", "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, seen := httpServer(t, http.StatusCreated, "")
			ctx, _, _ := runContext(t)
			job := builtin.NewHTTP(allowLoopback(t))
			err := job.Run(ctx, resolve(t, job, map[string]string{
				"url": srv.URL, "method": "POST", "body": `{"n":1}`, "content_type": tt.contentType,
			}))
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			r := seen()[0]
			if r.method != http.MethodPost || r.body != `{"n":1}` || r.header.Get("Content-Type") != tt.want {
				t.Errorf("server saw %s with body %q and Content-Type %q, want POST with {\"n\":1} as %s",
					r.method, r.body, r.header.Get("Content-Type"), tt.want)
			}
		})
	}
}

func TestHTTPChecksTheStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		status  int
		expect  string
		wantErr string // "" for success
	}{
		{"2xx accepts 204", http.StatusNoContent, "", ""},
		{"2xx refuses 500", http.StatusInternalServerError, "", "got status 500 Internal Server Error, expected 2xx"},
		{"class 4xx accepts 404", http.StatusNotFound, "4xx", ""},
		{"exact code accepts itself", http.StatusAccepted, "202", ""},
		{"exact code refuses another", http.StatusOK, "204", "got status 200 OK, expected 204"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := httpServer(t, tt.status, "oops")
			ctx, _, _ := runContext(t)
			job := builtin.NewHTTP(allowLoopback(t))
			err := job.Run(ctx, resolve(t, job, map[string]string{"url": srv.URL, "expect_status": tt.expect}))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Run: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Run error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestHTTPStopsPromptlyWhenCancelled(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done() // hang until the client goes away
	}))
	t.Cleanup(srv.Close)
	ctx, cancel, _ := runContext(t)
	job := builtin.NewHTTP(allowLoopback(t))
	done := runAsync(ctx, job, resolve(t, job, map[string]string{"url": srv.URL}))
	select {
	case <-arrived: // the request is in flight
	case err := <-done:
		t.Fatalf("Run returned before its request reached the server: %v", err)
	}
	cancel()
	cancelledAt := time.Now()
	err := waitErr(t, done, 2*time.Second)
	if took := time.Since(cancelledAt); took > 200*time.Millisecond {
		t.Errorf("Run returned %s after the cancel, want promptly", took)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run error = %v, want one wrapping context.Canceled", err)
	}
}

func TestHTTPTimeoutSaysSo(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	ctx, _, _ := runContext(t)
	job := builtin.NewHTTP(allowLoopback(t))
	err := job.Run(ctx, resolve(t, job, map[string]string{"url": srv.URL, "timeout": "50ms"}))
	if err == nil || !strings.Contains(err.Error(), "no complete response within the timeout of 50ms") ||
		!errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run error = %v, want one saying the 50ms timeout passed", err)
	}
}

func TestHTTPRefusesBadParametersWhenTheyAreResolved(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		values  map[string]string
		param   string
		wantErr string
	}{
		{"file URL", map[string]string{"url": "file:///etc/passwd"}, "url", "is not an http:// or https:// URL"},
		{"no scheme", map[string]string{"url": "example.com/x"}, "url", "is not an http:// or https:// URL"},
		{"no host", map[string]string{"url": "http:///x"}, "url", "has no host"},
		{"bad header line", map[string]string{"url": "http://example.com", "header": "X-Ok: 1\nno colon here"}, "header", `line 2 is not "Name: value"`},
		{"bad expect_status", map[string]string{"url": "http://example.com", "expect_status": "2x"}, "expect_status", `"2x" is not a status code`},
		{"zero timeout", map[string]string{"url": "http://example.com", "timeout": "0s"}, "timeout", "0s is not positive"},
		{"both bearer and basic", map[string]string{"url": "https://example.com", "bearer_token": "t", "basic_auth": "u:p"}, "basic_auth", "sets Authorization, and so does bearer_token: give only one"},
		{"secret Authorization and bearer", map[string]string{"url": "https://example.com", "secret_header": "Authorization: Token x", "bearer_token": "t"}, "bearer_token", "sets Authorization, and so does secret_header: give only one"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			job := builtin.NewHTTP(nil)
			_, err := jobs.Resolve(job, tt.values)
			if !hasFieldError(err, tt.param, tt.wantErr) {
				t.Errorf("Resolve error = %v, want %s refused: %q", err, tt.param, tt.wantErr)
			}
			// Run checks again, for values that did not go through Resolve.
			ctx, _, rec := runContext(t)
			err = job.Run(ctx, jobs.Params(tt.values))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run error = %v, want one containing %q", err, tt.wantErr)
			}
			if len(rec.Lines()) != 0 {
				t.Errorf("a refused request still logged:%s", rec.dump())
			}
		})
	}
}

// hasFieldError reports whether err is a *jobs.ValidationError holding a
// problem with param whose reason contains reason.
func hasFieldError(err error, param, reason string) bool {
	var verr *jobs.ValidationError
	if !errors.As(err, &verr) {
		return false
	}
	for _, f := range verr.Fields {
		if f.Param == param && strings.Contains(f.Reason, reason) {
			return true
		}
	}
	return false
}

func TestHTTPRefusesCredentialsOutsideSecretParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		values map[string]string
		param  string
		reason string
		secret string // must appear nowhere in the error
	}{
		{"password in the URL", map[string]string{"url": "https://alice:hunter2@example.com/x"}, "url",
			"has a user name or password in it, and a URL is shown to every viewer: give them in basic_auth instead", "hunter2"},
		{"user in the URL", map[string]string{"url": "https://alice-the-user@example.com/x"}, "url", "give them in basic_auth instead", "alice-the-user"},
		{"password in a URL that does not parse", map[string]string{"url": "https://alice:hunter%zz@exa mple.com/"}, "url", "give them in basic_auth instead", "hunter"},
		{"Authorization header", map[string]string{"header": "X-Ok: 1\nAuthorization: Basic YWxpY2U6aHVudGVyMg=="}, "header",
			"Authorization carries a credential, and header is shown to every viewer: give it in secret_header instead (or bearer_token, basic_auth)", "YWxpY2U6aHVudGVyMg"},
		{"lower-case authorization", map[string]string{"header": "authorization: Bearer abc.def"}, "header", "Authorization carries a credential", "abc.def"},
		{"Proxy-Authorization", map[string]string{"header": "Proxy-Authorization: Basic cHJveHk="}, "header", "Proxy-Authorization carries a credential", "cHJveHk="},
		{"Cookie", map[string]string{"header": "Cookie: session=s3ss10n"}, "header", "Cookie carries a credential", "s3ss10n"},
		{"an API key", map[string]string{"header": "X-Api-Key: k3y-value"}, "header", "X-Api-Key carries a credential", "k3y-value"},
		{"Api-Key", map[string]string{"header": "api-key: k3y-value"}, "header", "Api-Key carries a credential", "k3y-value"},
		{"a token", map[string]string{"header": "X-Auth-Token: t0k3n"}, "header", "X-Auth-Token carries a credential", "t0k3n"},
		{"a secret", map[string]string{"header": "X-Client-Secret: cl13nt"}, "header", "X-Client-Secret carries a credential", "cl13nt"},
		{"a bad secret_header line", map[string]string{"secret_header": "X-Ok: 1\nBearer s3cr3t-no-colon"}, "secret_header", `line 2 is not "Name: value"`, "s3cr3t"},
		{"basic_auth without a colon", map[string]string{"basic_auth": "justapassw0rd"}, "basic_auth", `is not "user:password"`, "justapassw0rd"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			values := map[string]string{"url": "https://example.com/"}
			for k, v := range tt.values {
				values[k] = v
			}
			_, err := jobs.Resolve(builtin.NewHTTP(nil), values)
			if !hasFieldError(err, tt.param, tt.reason) {
				t.Errorf("Resolve error = %v, want %s refused: %q", err, tt.param, tt.reason)
			}
			if err != nil && strings.Contains(err.Error(), tt.secret) {
				t.Errorf("the error quotes the credential %q: %v", tt.secret, err)
			}
		})
	}
}

func TestHTTPSendsSecretHeadersAndBasicAuthWithoutLoggingThem(t *testing.T) {
	t.Parallel()
	srv, seen := httpServer(t, http.StatusOK, "")
	ctx, _, rec := runContext(t)
	job := builtin.NewHTTP(allowLoopback(t))
	err := job.Run(ctx, resolve(t, job, map[string]string{
		"url":           srv.URL,
		"header":        "X-Team: ops",
		"secret_header": "X-Api-Key: k3y-value\nCookie: session=s3ss10n",
		"basic_auth":    "alice:hunter2",
	}))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := seen()[0]
	for name, want := range map[string]string{"X-Team": "ops", "X-Api-Key": "k3y-value", "Cookie": "session=s3ss10n"} {
		if got := r.header.Get(name); got != want {
			t.Errorf("server saw %s: %q, want %q", name, got, want)
		}
	}
	if user, pass, ok := (&http.Request{Header: r.header}).BasicAuth(); !ok || user != "alice" || pass != "hunter2" {
		t.Errorf("server saw basic auth %q, %q (%v), want alice, hunter2", user, pass, ok)
	}
	if !rec.hasLine(slog.LevelWarn, "http: sending credentials over plain http, unencrypted") {
		t.Errorf("no warning about credentials over plain http:%s", rec.dump())
	}
	for _, l := range rec.Lines() {
		for _, secret := range []string{"k3y-value", "s3ss10n", "hunter2"} {
			if strings.Contains(l.msg, secret) {
				t.Errorf("the secret %q leaked into the log: %s", secret, l)
			}
		}
	}
}

func TestHTTPLogsTheBodyOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		logBody  string
		wantBody bool
	}{
		{"by default", "", false},
		{"when false", "false", false},
		{"when true", "true", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = io.WriteString(w, `{"account":"private-details"}`)
			}))
			t.Cleanup(srv.Close)
			ctx, _, rec := runContext(t)
			job := builtin.NewHTTP(allowLoopback(t))
			if err := job.Run(ctx, resolve(t, job, map[string]string{"url": srv.URL, "log_body": tt.logBody})); err != nil {
				t.Fatalf("Run: %v", err)
			}
			want := `size=29 content_type=application/json`
			if !rec.hasLine(slog.LevelInfo, "http: response status=\"200 OK\"") || !rec.hasLine(slog.LevelInfo, want) {
				t.Errorf("no response line with %q in the log:%s", want, rec.dump())
			}
			logged := rec.hasLine(slog.LevelInfo, `http: response body: {"account":"private-details"}`)
			if logged != tt.wantBody {
				t.Errorf("body logged = %v, want %v; log:%s", logged, tt.wantBody, rec.dump())
			}
			for _, l := range rec.Lines() {
				if !tt.wantBody && strings.Contains(l.msg, "private-details") {
					t.Errorf("the body leaked into the log: %s", l)
				}
			}
		})
	}
}

func TestHTTPLogsOnlyTheStartOfALargeBody(t *testing.T) {
	t.Parallel()
	srv, _ := httpServer(t, http.StatusOK, strings.Repeat("é", 5000)) // 10000 bytes
	ctx, _, rec := runContext(t)
	job := builtin.NewHTTP(allowLoopback(t))
	if err := job.Run(ctx, resolve(t, job, map[string]string{"url": srv.URL, "log_body": "true"})); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var body string
	for _, l := range rec.Lines() {
		if strings.HasPrefix(l.msg, "http: response body: ") {
			body = l.msg
		}
	}
	want := "http: response body: " + strings.Repeat("é", 2048) + " [truncated to the first 4096 bytes]"
	if body != want {
		t.Errorf("body line is %d bytes, want %d: the first 4 KiB then a truncation note", len(body), len(want))
	}
	if !rec.hasLine(slog.LevelInfo, "size=10000 ") {
		t.Errorf("the response line does not give the whole size:%s", rec.dump())
	}
}

// serveOn serves h on ip, a loopback address, until the test ends.
func serveOn(t *testing.T, ip string, h http.Handler) *httptest.Server {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = l
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// onHost returns rawURL with its host name replaced by host.
func onHost(t *testing.T, rawURL, host string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	u.Host = net.JoinHostPort(host, u.Port())
	return u.String()
}

func TestHTTPRefusesLoopbackByDefault(t *testing.T) {
	t.Parallel()
	srv, seen := httpServer(t, http.StatusOK, "")
	job := builtin.NewHTTP(nil)

	// A literal address is refused as soon as the rule is saved.
	_, err := jobs.Resolve(job, map[string]string{"url": srv.URL})
	if !hasFieldError(err, "url", "egress policy refused 127.0.0.1 (loopback): add it to JOBBRIDGE_HTTP_ALLOW to allow it") {
		t.Errorf("Resolve error = %v, want the loopback url refused, naming the policy", err)
	}

	// A name is judged by what it resolves to, when the job dials it.
	ctx, _, _ := runContext(t)
	err = job.Run(ctx, resolve(t, job, map[string]string{"url": onHost(t, srv.URL, "localhost")}))
	if !errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), "egress policy refused localhost at ") ||
		!strings.Contains(err.Error(), "(loopback): add localhost or ") || !strings.Contains(err.Error(), " to JOBBRIDGE_HTTP_ALLOW to allow it") {
		t.Errorf("Run error = %v, want localhost refused as loopback, naming the policy", err)
	}
	if n := len(seen()); n != 0 {
		t.Errorf("the server saw %d requests, want none", n)
	}
}

// These URLs are never dialled: Resolve refuses them by asking the policy's
// check, the same the dialer asks.
func TestHTTPRefusesMetadataAndPrivateAddresses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url, reason string
	}{
		{"http://169.254.169.254/latest/meta-data/", "egress policy refused 169.254.169.254 (link-local, the cloud metadata service)"},
		{"http://[fd00:ec2::254]/latest/meta-data/", "egress policy refused fd00:ec2::254 (unique local, the cloud metadata service)"},
		{"http://[::ffff:169.254.169.254]/", "egress policy refused ::ffff:169.254.169.254 (link-local, the cloud metadata service)"},
		{"http://[::ffff:127.0.0.2]:8080/", "egress policy refused ::ffff:127.0.0.2 (loopback)"},
		{"http://169.254.10.1/", "(link-local)"},
		{"http://[fe80::1%25eth0]/", "(link-local)"},
		{"https://10.1.2.3/", "(private)"},
		{"https://192.168.0.1/", "(private)"},
		{"https://[fd12::1]/", "(private (unique local))"},
		{"http://0.0.0.0:8080/", "(unspecified)"},
		{"http://[::]:8080/", "(unspecified)"},
		{"http://100.64.0.1/", "(shared address space (CGNAT))"},
	}
	job := builtin.NewHTTP(allowLoopback(t)) // 127.0.0.1 alone opens nothing else
	for _, tt := range tests {
		_, err := jobs.Resolve(job, map[string]string{"url": tt.url})
		if !hasFieldError(err, "url", tt.reason) || !strings.Contains(err.Error(), "JOBBRIDGE_HTTP_ALLOW") {
			t.Errorf("Resolve(%s) error = %v, want url refused: %q", tt.url, err, tt.reason)
		}
	}
}

func TestHTTPCallsAnAllowedHost(t *testing.T) {
	t.Parallel()
	srv, seen := httpServer(t, http.StatusOK, "")
	tests := []struct {
		name, allow, url string
	}{
		{"by CIDR", "10.0.0.0/8, 127.0.0.0/24", srv.URL},
		{"by host name", "LOCALHOST", onHost(t, srv.URL, "localhost")},
	}
	for _, tt := range tests {
		policy, err := egress.Parse(tt.allow)
		if err != nil {
			t.Fatal(err)
		}
		before := len(seen())
		ctx, _, _ := runContext(t)
		job := builtin.NewHTTP(policy)
		if err := job.Run(ctx, resolve(t, job, map[string]string{"url": tt.url})); err != nil {
			t.Errorf("%s: Run against %s allowing %q: %v", tt.name, tt.url, tt.allow, err)
		}
		if len(seen()) != before+1 {
			t.Errorf("%s: the server did not see the request", tt.name)
		}
	}
}

func TestHTTPRefusesARedirectToAnAddressNotAllowed(t *testing.T) {
	t.Parallel()
	// 127.0.0.2 is loopback too, but only 127.0.0.1 is allowed.
	var refusedHits atomic.Int32
	refused := serveOn(t, "127.0.0.2", http.HandlerFunc(func(http.ResponseWriter, *http.Request) { refusedHits.Add(1) }))
	allowed := serveOn(t, "127.0.0.1", http.RedirectHandler(refused.URL+"/internal", http.StatusFound))
	ctx, _, _ := runContext(t)
	job := builtin.NewHTTP(allowLoopback(t))
	err := job.Run(ctx, resolve(t, job, map[string]string{"url": allowed.URL}))
	if !errors.Is(err, egress.ErrRefused) || !strings.Contains(err.Error(), "egress policy refused 127.0.0.2 (loopback): add it to JOBBRIDGE_HTTP_ALLOW") {
		t.Errorf("Run error = %v, want the redirect to 127.0.0.2 refused, naming the policy", err)
	}
	if n := refusedHits.Load(); n != 0 {
		t.Errorf("the address not allowed saw %d requests, want none", n)
	}
}

func TestHTTPDropsSecretHeadersOnARedirectToAnotherHost(t *testing.T) {
	t.Parallel()
	other, seen := httpServer(t, http.StatusOK, "")
	first := serveOn(t, "127.0.0.1", http.RedirectHandler(onHost(t, other.URL, "localhost")+"/next", http.StatusFound))
	policy, err := egress.Parse("127.0.0.1, localhost")
	if err != nil {
		t.Fatal(err)
	}
	ctx, _, _ := runContext(t)
	job := builtin.NewHTTP(policy)
	err = job.Run(ctx, resolve(t, job, map[string]string{
		"url": first.URL, "header": "X-Team: ops", "secret_header": "X-Api-Key: k3y-value", "bearer_token": "t0k3n",
	}))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	r := seen()[0]
	if r.path != "/next" || r.header.Get("X-Team") != "ops" {
		t.Errorf("the redirect's target saw %s with X-Team %q, want /next with ops", r.path, r.header.Get("X-Team"))
	}
	for _, name := range []string{"X-Api-Key", "Authorization"} {
		if v := r.header.Get(name); v != "" {
			t.Errorf("the redirect's target, another host, was sent %s: %q", name, v)
		}
	}
}

func TestHTTPWithTLSConfigStillEnforcesThePolicy(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Cleanup(srv.Close)
	trust := builtin.WithTLSConfig(srv.Client().Transport.(*http.Transport).TLSClientConfig)
	host := onHost(t, srv.URL, "localhost") // a name, so that only the dialer can refuse it

	ctx, _, _ := runContext(t)
	job := builtin.NewHTTP(allowLoopback(t), trust)
	if err := job.Run(ctx, resolve(t, job, map[string]string{"url": srv.URL})); err != nil {
		t.Errorf("Run trusting the test CA: %v", err)
	}
	job = builtin.NewHTTP(nil, trust)
	if err := job.Run(ctx, resolve(t, job, map[string]string{"url": host})); !errors.Is(err, egress.ErrRefused) {
		t.Errorf("Run with a TLS config and no policy = %v, want loopback refused", err)
	}
}

func TestHTTPRefusesARedirectFromHTTPSToHTTPWhenItCarriesCredentials(t *testing.T) {
	t.Parallel()
	plain, seen := httpServer(t, http.StatusOK, "")
	tlsSrv := httptest.NewTLSServer(http.RedirectHandler(plain.URL+"/downgraded", http.StatusFound))
	t.Cleanup(tlsSrv.Close)
	trust := builtin.WithTLSConfig(tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig)
	ctx, _, _ := runContext(t)
	job := builtin.NewHTTP(allowLoopback(t), trust)

	err := job.Run(ctx, resolve(t, job, map[string]string{"url": tlsSrv.URL, "bearer_token": "t0k3n"}))
	if err == nil || !strings.Contains(err.Error(), "refused a redirect from https to http") {
		t.Errorf("Run with a bearer token = %v, want the downgrade refused", err)
	}
	if n := len(seen()); n != 0 {
		t.Errorf("the plain http server got %d requests, want none", n)
	}
	// Without credentials there is nothing to protect.
	if err := job.Run(ctx, resolve(t, job, map[string]string{"url": tlsSrv.URL})); err != nil {
		t.Errorf("Run without credentials: %v", err)
	}
	if got := seen(); len(got) != 1 || got[0].path != "/downgraded" {
		t.Errorf("the plain http server got %+v, want one request for /downgraded", got)
	}
}
