package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sns"

	"github.com/jobbridge/jobbridge/agent/internal/notify"
)

func TestChatWebhookPostsSlackJSON(t *testing.T) {
	t.Parallel()
	var got map[string]string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "json please", http.StatusUnsupportedMediaType)
			return
		}
		_ = json.NewDecoder(r.Body).Decode(&got)
	}))
	defer srv.Close()
	if err := notify.NewWebhook(srv.URL, nil).Notify(context.Background(), sampleMessage()); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(got["text"], "[jobbridge] nightly-export failed (run deadbeef)\n> POST https://example.com/export: status 503") {
		t.Errorf("chat text = %q", got["text"])
	}

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "invalid_token", http.StatusForbidden)
	}))
	defer bad.Close()
	err := notify.NewWebhook(bad.URL, nil).Notify(context.Background(), sampleMessage())
	if err == nil || !strings.Contains(err.Error(), "answered 403: invalid_token") {
		t.Errorf("refusing webhook: %v", err)
	}
}

// snsRecorder answers SNS's query protocol like AWS and keeps the requests.
type snsRecorder struct {
	mu       sync.Mutex
	requests []url.Values
}

func (s *snsRecorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(b))
	s.mu.Lock()
	s.requests = append(s.requests, form)
	s.mu.Unlock()
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	_, _ = io.WriteString(w, `<PublishResponse xmlns="http://sns.amazonaws.com/doc/2010-03-31/">
  <PublishResult><MessageId>94f20ce6-13c5-43a0-9a9e-ca52d816e90b</MessageId></PublishResult>
  <ResponseMetadata><RequestId>f187a3c1-376f-11df-8963-01868b7c937a</RequestId></ResponseMetadata>
</PublishResponse>`)
}

func TestSNSPublishesThroughTheSDK(t *testing.T) {
	t.Parallel()
	rec := &snsRecorder{}
	srv := httptest.NewServer(rec)
	defer srv.Close()
	client := sns.New(sns.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
	})
	topic := "arn:aws:sns:eu-west-1:123456789012:jobbridge-alerts"
	if err := notify.NewSNS(client, topic).Notify(context.Background(), sampleMessage()); err != nil {
		t.Fatal(err)
	}
	if len(rec.requests) != 1 {
		t.Fatalf("%d requests, want 1", len(rec.requests))
	}
	req := rec.requests[0]
	if req.Get("Action") != "Publish" || req.Get("TopicArn") != topic ||
		req.Get("Subject") != "[jobbridge] nightly-export failed (run deadbeef)" ||
		!strings.Contains(req.Get("Message"), "Run:      0190d1a8-0000-7000-8000-0000deadbeef") {
		t.Errorf("SNS request = %v", req)
	}
}
