package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres"
	"github.com/jobbridge/jobbridge/agent/internal/store/postgres/pgtest"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
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
		_ = b.Listen(ctx, []string{"jobbridge_test"}, func(ch, payload string) {
			if ch != store.Listening {
				got <- ch + ":" + payload
			}
		})
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
	wait.For(t, 5*time.Second, func() (bool, string) {
		ok, err := b.Leader(ctx)
		return ok, fmt.Sprintf("the leadership did not move to the other store (%v)", err)
	})
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

// TestANodeLockTellsALiveAgentFromADeadOne: one session at a time holds a
// node's lock, AgentList shows whether one does, and the lock is free the
// moment its session ends, for a restarted agent to take at once.
func TestANodeLockTellsALiveAgentFromADeadOne(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	open := func() *postgres.Store {
		s, err := postgres.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := open(), open()
	ctx := context.Background()
	if st, err := a.NodeLock(ctx, "n1"); err != nil || st.Renewed || st.ServerUptime <= 0 {
		t.Fatalf("first NodeLock: %+v %v", st, err)
	}
	if st, err := a.NodeLock(ctx, "n1"); err != nil || st.Renewed {
		t.Fatalf("NodeLock again: %+v %v; want kept, not renewed", st, err)
	}
	if _, err := b.NodeLock(ctx, "n1"); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("a second store took a held node lock: %v", err)
	}
	if _, err := a.NodeLock(ctx, "n2"); err == nil {
		t.Fatal("a store holding n1's lock took n2's too")
	}
	now := time.Now().UTC()
	for _, n := range []string{"n1", "old"} {
		if err := a.AgentHeartbeat(ctx, store.AgentInfo{Node: n, StartedAt: now, HeartbeatAt: now, NodeLock: n == "n1"}); err != nil {
			t.Fatal(err)
		}
	}
	alive := func() map[string][2]bool {
		agents, err := b.AgentList(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][2]bool{}
		for _, ag := range agents {
			out[ag.Node] = [2]bool{ag.NodeLock, ag.Alive}
		}
		return out
	}
	if got := alive(); got["n1"] != [2]bool{true, true} || got["old"] != [2]bool{false, false} {
		t.Fatalf("agents (nodeLock, alive) = %v; want n1 locking and alive, old neither", got)
	}

	// The lock's session is killed: the lock is free at once, and the
	// store takes it again on a new session and says so.
	execOn(t, url, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'jobbridge node n1'`)
	if got := alive(); got["n1"][1] {
		t.Fatal("n1 is alive after its lock's session ended")
	}
	if st, err := a.NodeLock(ctx, "n1"); err != nil || !st.Renewed {
		t.Fatalf("NodeLock after the session dropped: %+v %v; want renewed", st, err)
	}
	if got := alive(); !got["n1"][1] {
		t.Fatal("n1 is not alive after taking its lock again")
	}

	// The agent dies: another store takes the lock with no wait.
	a.Close()
	if _, err := b.NodeLock(ctx, "n1"); err != nil {
		t.Fatalf("n1's lock after its store closed: %v", err)
	}
}

// TestListenSaysWhenItListensAndWhenItLostTheConnection: Listen reports
// its first LISTEN, a dropped connection and the reconnection.
func TestListenSaysWhenItListensAndWhenItLostTheConnection(t *testing.T) {
	t.Parallel()
	url := pgtest.NewDatabase(t)
	s, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan string, 10)
	go func() { _ = s.Listen(ctx, []string{"jobbridge_test"}, func(ch, _ string) { got <- ch }) }()
	next := func(want string) {
		t.Helper()
		select {
		case ch := <-got:
			if ch != want {
				t.Fatalf("Listen said %q, want %q", ch, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Listen did not say %q", want)
		}
	}
	next(store.Listening)
	execOn(t, url, `SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'jobbridge listen'`)
	next(store.Disconnected)
	next(store.Reconnected)
}
