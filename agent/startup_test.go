package agent_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/shared/client"
)

// GET /status reports the notification channels' health while Run starts
// every part: New builds them all, so nothing /status reads is written
// once the HTTP server serves (go test -race caught the dispatcher being
// built in Run after the server started).
func TestStatusDuringStartupWithNotifications(t *testing.T) {
	t.Parallel()
	chat := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer chat.Close()
	// A start is short: a few of them, each asked by a few clients, give
	// the race detector its chance (on the code that built the dispatcher
	// in Run, about one run of this test in three saw the race).
	for range 5 {
		statusDuringStartup(t, chat.URL)
	}
}

func statusDuringStartup(t *testing.T, chatURL string) {
	t.Helper()
	cfg := testConfig(t)
	cfg.AdminToken = adminToken
	cfg.Notify.WebhookURL = chatURL
	a, err := agent.New(context.Background(), cfg, nil, registerWait)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)

	// Ask for /status as fast as possible from before Run until it is ready.
	stopAsking := make(chan struct{})
	var asking sync.WaitGroup
	var mu sync.Mutex
	var answered, healthy int
	for range 4 {
		asking.Go(func() { ask(a.URL(), stopAsking, &mu, &answered, &healthy) })
	}
	go func() { done <- a.Run(ctx) }()
	select {
	case <-a.Ready():
	case err := <-done:
		t.Fatalf("the agent stopped before it was ready: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("the agent was not ready after 20s")
	}
	st, err := client.New(a.URL(), adminToken).Status(ctx)
	if err != nil || len(st.Notifications) != 1 || st.Notifications[0].Channel != "webhook" {
		t.Errorf("status once ready: notifications %+v (%v), want the webhook channel", st.Notifications, err)
	}
	close(stopAsking)
	asking.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
	if answered == 0 || healthy != answered {
		t.Errorf("/status answered %d times, %d of them 200", answered, healthy)
	}
}

// ask asks for /status until stop is closed, counting the answers.
func ask(url string, stop <-chan struct{}, mu *sync.Mutex, answered, healthy *int) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/status", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			continue // not serving yet
		}
		resp.Body.Close()
		mu.Lock()
		*answered++
		if resp.StatusCode == http.StatusOK {
			*healthy++
		}
		mu.Unlock()
	}
}
