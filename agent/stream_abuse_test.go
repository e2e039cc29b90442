package agent_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/server"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// The event streams under abuse: many of them, slow ones, and ones whose
// token is revoked while they are open.

// streamClient opens raw streams: one connection each, never shared.
var streamClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// openStream GETs path with token and answers the response, whose body
// the caller closes.
func openStream(t *testing.T, ta *testAgent, token, path string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, ta.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := streamClient.Do(req)
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func newTokenSecret(t *testing.T, ta *testAgent, name, role string) string {
	t.Helper()
	nt, err := ta.admin.CreateToken(context.Background(), api.TokenInput{Name: name, Role: role})
	if err != nil {
		t.Fatalf("create token %s: %v", name, err)
	}
	return nt.Secret
}

// wantTooMany checks resp is the 429 problem naming a cap of max.
func wantTooMany(t *testing.T, resp *http.Response, max int, names string) {
	t.Helper()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("one stream over the cap (%s, %d): status %d, want 429", names, max, resp.StatusCode)
	}
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != api.ProblemContentType {
		t.Errorf("429 Content-Type %q, want %s", ct, api.ProblemContentType)
	}
	var p api.Problem
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("429 body is not a problem: %v: %s", err, body)
	}
	if !strings.Contains(p.Detail, strconv.Itoa(max)) || !strings.Contains(p.Detail, names) {
		t.Errorf("429 detail %q does not name the cap (%s, %d)", p.Detail, names, max)
	}
}

func TestStreamsAreCappedPerToken(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	run := startLongRun(t, ta)
	secret := newTokenSecret(t, ta, "greedy", api.RoleViewer)
	// Event streams and followed logs count together.
	var open []*http.Response
	for i := range server.MaxStreamsPerToken {
		path := "/api/v1/events"
		if i%2 == 1 {
			path = "/api/v1/runs/" + run.ID + "/log?follow=1"
		}
		resp := openStream(t, ta, secret, path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream %d of %d: status %d", i+1, server.MaxStreamsPerToken, resp.StatusCode)
		}
		open = append(open, resp)
	}
	wantTooMany(t, openStream(t, ta, secret, "/api/v1/events"), server.MaxStreamsPerToken, "the token greedy")
	wantTooMany(t, openStream(t, ta, secret, "/api/v1/runs/"+run.ID+"/log?follow=1"), server.MaxStreamsPerToken, "the token greedy")

	// Another token is not held back by this one's cap.
	if resp := openStream(t, ta, ta.token, "/api/v1/events"); resp.StatusCode != http.StatusOK {
		t.Errorf("another token's stream: status %d", resp.StatusCode)
	}
	// A closed stream gives its place back.
	open[0].Body.Close()
	wait.For(t, 10*time.Second, func() (bool, string) {
		resp := openStream(t, ta, secret, "/api/v1/events")
		if resp.StatusCode == http.StatusOK {
			return true, ""
		}
		resp.Body.Close()
		return false, fmt.Sprintf("after closing one of its streams, the token still gets %d", resp.StatusCode)
	})
}

func TestStreamsAreCappedPerAddress(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	perToken := server.MaxStreamsPerToken
	tokens := (server.MaxStreamsPerAddress + perToken - 1) / perToken
	n := 0
	for i := range tokens {
		secret := newTokenSecret(t, ta, fmt.Sprintf("crowd-%d", i), api.RoleViewer)
		for j := 0; j < perToken && n < server.MaxStreamsPerAddress; j++ {
			if resp := openStream(t, ta, secret, "/api/v1/events"); resp.StatusCode != http.StatusOK {
				t.Fatalf("stream %d from this address: status %d", n+1, resp.StatusCode)
			}
			n++
		}
	}
	fresh := newTokenSecret(t, ta, "latecomer", api.RoleViewer)
	wantTooMany(t, openStream(t, ta, fresh, "/api/v1/events"), server.MaxStreamsPerAddress, "the address 127.0.0.1")
}

// sseMessage is one message of a raw stream.
type sseMessage struct{ id, event string }

// readMessage reads a raw stream's next message (comments skipped).
func readMessage(r *bufio.Reader) (sseMessage, error) {
	var cur sseMessage
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return cur, err
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if cur.event != "" {
				return cur, nil
			}
			cur = sseMessage{}
		case strings.HasPrefix(line, "id: "):
			cur.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			cur.event = line[7:]
		}
	}
}

// readMessages reads a raw stream's messages until it ends.
func readMessages(r *bufio.Reader) ([]sseMessage, error) {
	var out []sseMessage
	for {
		m, err := readMessage(r)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

func TestASlowEventStreamIsDroppedWithAResetAndNeverSlowsPublish(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	// A client that reads nothing for now, with a small receive buffer.
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(4 << 10)
		}
		return c, err
	}}}
	req, _ := http.NewRequest(http.MethodGet, ta.URL()+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+ta.token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	run := &store.Run{ID: "slow-run", Rule: "r", Job: "demo", Status: api.StatusRunning}
	line := strings.Repeat("x", 4<<10)
	publish := func(from, to int) {
		for i := from; i < to; i++ {
			ta.Events().Publish(events.Event{Type: api.EventRunLog, RuleName: "r", Run: run, Log: &store.LogLine{Seq: int64(i + 1), Message: line}})
		}
	}
	// The client keeps up at first...
	const first = 10
	publish(0, first)
	body := bufio.NewReader(resp.Body)
	var got []sseMessage
	for len(got) < first {
		m, err := readMessage(body)
		if err != nil {
			t.Fatalf("after %d events: %v", len(got), err)
		}
		got = append(got, m)
	}
	// ...then stops reading, while far more is published than the socket
	// buffers and the stream's queue hold.
	const n = 20000
	published := make(chan struct{})
	go func() {
		defer close(published)
		publish(first, n)
	}()
	select {
	case <-published:
	case <-time.After(60 * time.Second):
		t.Fatal("publishing waited for a stream whose client does not read")
	}
	rest, err := readMessages(body) // the stream must end by itself
	if err != nil {
		t.Fatalf("reading the dropped stream: %v", err)
	}
	msgs := append(got, rest...)
	if len(msgs) < 2 {
		t.Fatalf("the stream carried %d messages", len(msgs))
	}
	last, before := msgs[len(msgs)-1], msgs[len(msgs)-2]
	if last.event != api.EventReset {
		t.Fatalf("the dropped stream ended with %q after %d messages; want a final reset", last.event, len(msgs))
	}
	if last.id == "" || last.id != before.id {
		t.Errorf("the final reset has id %q, want that of the last event sent (%q), to resume after", last.id, before.id)
	}
	if len(msgs) > n/2 {
		t.Errorf("the slow stream got %d of %d events; it should have been dropped early", len(msgs), n)
	}
}

func TestARevokedTokensStreamsEndWithinAHeartbeat(t *testing.T) {
	if testing.Short() {
		t.Skip("waits up to 15s of real time; under -short the server's TestARevokedTokensStreamsEndAtTheNextHeartbeat checks it on a virtual clock")
	}
	t.Parallel()
	ta := startAgent(t, "sqlite")
	run := startLongRun(t, ta)
	leaver := newTokenSecret(t, ta, "leaver", api.RoleViewer)
	stayer := newTokenSecret(t, ta, "stayer", api.RoleViewer)

	ended := func(resp *http.Response) <-chan string {
		ch := make(chan string, 1)
		go func() {
			b, _ := io.ReadAll(resp.Body)
			ch <- string(b)
		}()
		return ch
	}
	streams := map[string]<-chan string{}
	for _, path := range []string{"/api/v1/events", "/api/v1/runs/" + run.ID + "/log?follow=1"} {
		resp := openStream(t, ta, leaver, path)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		streams[path] = ended(resp)
	}
	control := openStream(t, ta, stayer, "/api/v1/events")
	controlEnded := ended(control)

	if err := ta.admin.RevokeToken(context.Background(), "leaver"); err != nil {
		t.Fatal(err)
	}
	revokedAt := time.Now()
	// The heartbeat is the server's default, 15s; give a generous margin.
	const within = 15*time.Second + 30*time.Second
	for path, ch := range streams {
		select {
		case body := <-ch:
			if !strings.Contains(body, "revoked") {
				t.Errorf("%s ended without saying the token was revoked:\n%.500s", path, body)
			}
			t.Logf("%s ended %s after the revocation", path, time.Since(revokedAt).Round(time.Millisecond))
		case <-time.After(within - time.Since(revokedAt)):
			t.Fatalf("%s of a revoked token still streams %s after the revocation", path, within)
		}
	}
	select {
	case body := <-controlEnded:
		t.Errorf("the stream of a token still valid ended too:\n%.500s", body)
	default:
	}
}

// TestEachEventIsEncodedOnceForAllStreams counts the allocations of the
// whole process while 100 streams each carry 200 events. Encoding an event
// (converting it, JSON, framing) allocates several times; done per stream
// it costs that for every stream, done once it is shared. Not parallel:
// the count is of the whole process.
func TestEachEventIsEncodedOnceForAllStreams(t *testing.T) {
	ta := startAgent(t, "sqlite")
	const streams, perToken, nEvents = 100, 25, 200
	var bodies []io.ReadCloser
	for i := range streams / perToken {
		secret := newTokenSecret(t, ta, fmt.Sprintf("reader-%d", i), api.RoleViewer)
		for range perToken {
			resp := openStream(t, ta, secret, "/api/v1/events")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d", resp.StatusCode)
			}
			bodies = append(bodies, resp.Body)
		}
	}
	run := store.Run{ID: "enc-run", Rule: "r", Job: "demo", Status: api.StatusRunning,
		Parameters: map[string]string{"duration": "10s", "steps": "5"}, Node: "test-node",
		CreatedAt: time.Now(), StartedAt: time.Now()}
	const marker = "the-end-of-the-test"
	var wg sync.WaitGroup
	for _, body := range bodies {
		wg.Go(func() { waitForMarker(body, marker) })
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range nEvents {
		r := run
		r.Progress.Percent = i % 100
		r.Progress.Message = "step " + strconv.Itoa(i)
		ta.Events().Publish(events.Event{Type: api.EventRunProgress, RuleName: "r", Run: &r})
	}
	ta.Events().Publish(events.Event{Type: api.EventRuleDeleted, RuleName: marker})
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the streams did not all carry the events")
	}
	runtime.ReadMemStats(&after)
	perEventStream := float64(after.Mallocs-before.Mallocs) / float64(streams*(nEvents+1))
	t.Logf("%.2f allocations per event per stream", perEventStream)
	if perEventStream > 3 {
		t.Errorf("%.2f allocations per event per stream: each stream encodes the events itself", perEventStream)
	}
}

// waitForMarker reads r until marker has passed, without allocating per
// read (the test counts allocations).
func waitForMarker(r io.Reader, marker string) {
	buf := make([]byte, 64<<10)
	tail := make([]byte, 0, len(buf)+len(marker))
	m := []byte(marker)
	for {
		n, err := r.Read(buf)
		tail = append(tail, buf[:n]...)
		if bytes.Contains(tail, m) {
			return
		}
		if keep := len(m); len(tail) > keep {
			tail = append(tail[:0], tail[len(tail)-keep:]...)
		}
		if err != nil {
			return
		}
	}
}

// startLongRun starts a run of five minutes, for streams to follow; it is
// cancelled when the test ends.
func startLongRun(t *testing.T, ta *testAgent) api.Run {
	t.Helper()
	ctx := context.Background()
	if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "long", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "5m"}}); err != nil {
		t.Fatal(err)
	}
	run, err := ta.admin.TriggerRule(ctx, "long", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _ = ta.admin.CancelRun(context.Background(), run.ID, "") })
	return run
}
