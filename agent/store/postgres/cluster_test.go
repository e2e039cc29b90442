package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/store"
	"github.com/jobbridge/jobbridge/agent/store/postgres"
	"github.com/jobbridge/jobbridge/agent/store/postgres/pgtest"
)

func openTwo(t *testing.T) (*postgres.Store, *postgres.Store) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	a, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

func TestNotifyReachesOtherListeners(t *testing.T) {
	t.Parallel()
	a, b := openTwo(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 10)
	ready := make(chan struct{})
	go func() {
		_ = b.Listen(ctx, []string{"jobbridge_test"}, func(ch, payload string) { got <- ch + ":" + payload })
	}()
	// LISTEN is asynchronous: send until the listener hears one.
	go func() {
		defer close(ready)
		for i := 0; ctx.Err() == nil; i++ {
			_ = a.Notify(ctx, "jobbridge_test", "ping")
			select {
			case <-time.After(50 * time.Millisecond):
			case <-ctx.Done():
				return
			}
			if len(got) > 0 {
				return
			}
		}
	}()
	select {
	case m := <-got:
		if m != "jobbridge_test:ping" {
			t.Errorf("got %q", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no notification arrived")
	}
	cancel()
	<-ready
	if err := a.Notify(context.Background(), "c", string(make([]byte, store.MaxNotifyPayload+1))); err == nil {
		t.Error("an oversized payload was sent")
	}
}

func TestLeadershipIsExclusiveAndMovesWhenTheLeaderGoes(t *testing.T) {
	t.Parallel()
	a, b := openTwo(t)
	ctx := context.Background()
	if ok, err := a.Leader(ctx); !ok || err != nil {
		t.Fatalf("first Leader: %v %v", ok, err)
	}
	if ok, err := a.Leader(ctx); !ok || err != nil {
		t.Fatalf("the leader asking again: %v %v", ok, err)
	}
	if ok, err := b.Leader(ctx); ok || err != nil {
		t.Fatalf("a second store took the leadership: %v %v", ok, err)
	}
	a.Close() // the leader goes away
	var ok bool
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && !ok; time.Sleep(20 * time.Millisecond) {
		ok, _ = b.Leader(ctx)
	}
	if !ok {
		t.Error("the leadership did not move to the other store")
	}
}

func TestAgentHeartbeats(t *testing.T) {
	t.Parallel()
	a, _ := openTwo(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	for _, n := range []string{"b", "a"} {
		if err := a.AgentHeartbeat(ctx, store.AgentInfo{Node: n, URL: "http://" + n, StartedAt: now, HeartbeatAt: now}); err != nil {
			t.Fatal(err)
		}
	}
	later := now.Add(time.Second)
	if err := a.AgentHeartbeat(ctx, store.AgentInfo{Node: "a", URL: "http://a2", StartedAt: now, HeartbeatAt: later}); err != nil {
		t.Fatal(err)
	}
	agents, err := a.AgentList(ctx)
	if err != nil || len(agents) != 2 || agents[0].Node != "a" || agents[0].URL != "http://a2" || !agents[0].HeartbeatAt.Equal(later) {
		t.Fatalf("agents = %+v %v", agents, err)
	}
	if err := a.AgentDelete(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if agents, _ := a.AgentList(ctx); len(agents) != 1 {
		t.Errorf("after delete: %+v", agents)
	}
}
