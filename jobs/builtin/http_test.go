package builtin_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/jobs/builtin"
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

func TestHTTPGetSendsHeadersAndBearerToken(t *testing.T) {
	t.Parallel()
	srv, seen := httpServer(t, http.StatusOK, `{"ok":true}`)
	ctx, _, rec := runContext(t)
	job := builtin.NewHTTP(nil)
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
	for _, want := range []string{"http: request method=GET url=" + srv.URL + "/ping", "http: response status=\"200 OK\" duration=", `http: response body: {"ok":true}`} {
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
			job := builtin.NewHTTP(srv.Client())
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
			job := builtin.NewHTTP(srv.Client())
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
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // hang until the client goes away
	}))
	t.Cleanup(srv.Close)
	ctx, cancel, _ := runContext(t)
	job := builtin.NewHTTP(srv.Client())
	done := runAsync(ctx, job, resolve(t, job, map[string]string{"url": srv.URL}))
	time.Sleep(50 * time.Millisecond)
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
	job := builtin.NewHTTP(srv.Client())
	err := job.Run(ctx, resolve(t, job, map[string]string{"url": srv.URL, "timeout": "50ms"}))
	if err == nil || !strings.Contains(err.Error(), "no complete response within the timeout of 50ms") ||
		!errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Run error = %v, want one saying the 50ms timeout passed", err)
	}
}

func TestHTTPRefusesBadParameters(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		values  map[string]string
		wantErr string
	}{
		{"file URL", map[string]string{"url": "file:///etc/passwd"}, `url: "file:///etc/passwd" is not an http:// or https:// URL`},
		{"no scheme", map[string]string{"url": "example.com/x"}, "is not an http:// or https:// URL"},
		{"no host", map[string]string{"url": "http:///x"}, `url: "http:///x" has no host`},
		{"bad header line", map[string]string{"url": "http://127.0.0.1:1", "header": "X-Ok: 1\nno colon here"}, `header: line 2: "no colon here" is not "Name: value"`},
		{"bad expect_status", map[string]string{"url": "http://127.0.0.1:1", "expect_status": "2x"}, `expect_status: "2x" is not a status code`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, _, rec := runContext(t)
			job := builtin.NewHTTP(nil)
			err := job.Run(ctx, resolve(t, job, tt.values))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Run error = %v, want one containing %q", err, tt.wantErr)
			}
			if len(rec.Lines()) != 0 {
				t.Errorf("a refused request still logged:%s", rec.dump())
			}
		})
	}
}

func TestHTTPLogsOnlyTheStartOfALargeBody(t *testing.T) {
	t.Parallel()
	srv, _ := httpServer(t, http.StatusOK, strings.Repeat("é", 5000)) // 10000 bytes
	ctx, _, rec := runContext(t)
	job := builtin.NewHTTP(srv.Client())
	if err := job.Run(ctx, resolve(t, job, map[string]string{"url": srv.URL})); err != nil {
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
}
