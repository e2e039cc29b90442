package server_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/server"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// The tests of what the server does against abuse: throttling failed
// authentications, the client address behind proxies, deadlines on bodies
// and the cap on connections. Each runs a real server on loopback; clients
// that must look like other machines connect from other loopback addresses
// (127.0.0.2, ...), which Linux routes like 127.0.0.1.

// guardLog collects a server's log.
type guardLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *guardLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *guardLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// guarded is a server with the webhook and the admin API, served as the
// agent serves it: its Listener, its timeouts.
type guarded struct {
	addr  string // host:port
	url   string
	store store.Store
	token string // an operator's
	log   *guardLog
}

// parts are what a server is built on: a SQLite store, a registry with the
// block job (whose runs go on until the test ends), a broker, a runner and a
// service.
type parts struct {
	store  store.Store
	jobs   *jobs.Registry
	events *events.Broker
	runner *runner.Runner
	svc    *service.Service
}

func newParts(t *testing.T) parts {
	t.Helper()
	s := storetesting.Open(t, "sqlite")
	reg := jobs.NewRegistry()
	release := make(chan struct{})
	if err := reg.Register(blockJob{release}); err != nil {
		t.Fatal(err)
	}
	ev := events.NewBroker(0)
	r, err := runner.New(runner.Config{Store: s, Jobs: reg, Events: ev, Node: "n1"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		close(release)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	svc := service.New(service.Config{Store: s, Jobs: reg, Runner: r, Events: ev})
	return parts{store: s, jobs: reg, events: ev, runner: r, svc: svc}
}

func startGuarded(t *testing.T, tweak func(*server.Config)) *guarded {
	t.Helper()
	p := newParts(t)
	s, reg, ev, r, svc := p.store, p.jobs, p.events, p.runner, p.svc
	ctx := context.Background()
	token, _, err := svc.TokenCreate(ctx, "test", "ops", "operator")
	if err != nil {
		t.Fatal(err)
	}
	for _, rule := range []store.Rule{
		{Name: "nightly", Job: "block", Schedule: "cron(0 3 * * ? *)", Enabled: true},
		{Name: "paused", Job: "block", Schedule: "cron(0 3 * * ? *)", Enabled: false},
	} {
		if _, err := s.RuleCreate(ctx, rule); err != nil {
			t.Fatal(err)
		}
	}
	logs := &guardLog{}
	cfg := server.Config{
		Store: s, Firer: r, WebhookKey: key, Service: svc, Jobs: reg, Events: ev,
		Logger: slog.New(slog.NewTextHandler(logs, nil)), Heartbeat: 50 * time.Millisecond,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	h := server.New(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: server.ReadHeaderTimeout, IdleTimeout: server.IdleTimeout}
	hs.RegisterOnShutdown(h.StopStreams)
	go func() { _ = hs.Serve(h.Listener(ln)) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := hs.Shutdown(ctx); err != nil {
			hs.Close()
		}
	})
	return &guarded{addr: ln.Addr().String(), url: "http://" + ln.Addr().String(), store: s, token: token, log: logs}
}

// from is an HTTP client whose connections come from the loopback address ip.
func from(ip string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

type call struct {
	method, path, body string
	header             map[string]string
}

func webhookCall(k, body string) call {
	return call{method: http.MethodPost, path: "/webhook/run", body: body, header: map[string]string{api.DefaultWebhookKeyHeader: k}}
}

func apiCall(method, path, token string) call {
	return call{method: method, path: path, header: map[string]string{"Authorization": "Bearer " + token}}
}

func (c call) with(name, value string) call {
	h := map[string]string{name: value}
	for k, v := range c.header {
		h[k] = v
	}
	c.header = h
	return c
}

// do makes the call and returns the answer; a stream's body is not read.
func (g *guarded) do(t *testing.T, hc *http.Client, c call) answer {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequest(c.method, g.url+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	var b []byte
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		b, _ = io.ReadAll(resp.Body)
	}
	return answer{resp.StatusCode, resp.Header, b}
}

// failTimes makes n webhook calls with a wrong key and checks each is 401.
func (g *guarded) failTimes(t *testing.T, hc *http.Client, n int, xff string) {
	t.Helper()
	for i := range n {
		c := webhookCall("wrong-key-0123456789", `{"rule":"nightly","eventId":"x"}`)
		if xff != "" {
			c = c.with("X-Forwarded-For", xff)
		}
		if a := g.do(t, hc, c); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d from %s: %d %s, want 401", i+1, xff, a.status, a.body)
		}
	}
}

func TestValidCredentialsAreNeverThrottledByOthersFailures(t *testing.T) {
	t.Parallel()
	g := startGuarded(t, nil)
	hc := from("127.0.0.1")
	g.failTimes(t, hc, server.DefaultAuthFailuresPerMinute, "")

	// The address is blocked for failures: webhook and API share the count.
	for _, c := range []call{
		webhookCall("wrong-key-0123456789", `{"rule":"nightly","eventId":"x"}`),
		apiCall(http.MethodGet, "/api/v1/runs", "jb_not-a-token"),
		apiCall(http.MethodGet, "/api/v1/events", "jb_not-a-token"),
	} {
		if a := g.do(t, hc, c); a.status != http.StatusTooManyRequests {
			t.Errorf("%s %s with bad credentials after %d failures: %d, want 429", c.method, c.path, server.DefaultAuthFailuresPerMinute, a.status)
		}
	}
	// Who has valid credentials is served from the same address.
	if a := g.do(t, hc, webhookCall(key, `{"rule":"nightly","eventId":"e-valid"}`)); a.status != http.StatusAccepted {
		t.Errorf("EventBridge with the right key from a blocked address: %d %s, want 202", a.status, a.body)
	}
	for _, path := range []string{"/api/v1/runs", "/api/v1/status", "/api/v1/events"} {
		if a := g.do(t, hc, apiCall(http.MethodGet, path, g.token)); a.status != http.StatusOK {
			t.Errorf("GET %s with a valid token from a blocked address: %d %s, want 200", path, a.status, a.body)
		}
	}
	// Another address is not blocked at all.
	if a := g.do(t, from("127.0.0.2"), webhookCall("wrong-key-0123456789", `{}`)); a.status != http.StatusUnauthorized {
		t.Errorf("a wrong key from another address: %d, want 401", a.status)
	}
}

func TestRetryAfterIsTheRealWait(t *testing.T) {
	t.Parallel()
	g := startGuarded(t, nil)
	hc := from("127.0.0.1")
	first := time.Now()
	g.failTimes(t, hc, 1, "")
	afterFirst := time.Now()
	g.failTimes(t, hc, server.DefaultAuthFailuresPerMinute-1, "")
	for _, c := range []call{
		webhookCall("wrong-key-0123456789", `{}`),
		apiCall(http.MethodGet, "/api/v1/runs", "jb_not-a-token"),
		apiCall(http.MethodGet, "/api/v1/events", "jb_not-a-token"),
		apiCall(http.MethodGet, "/api/v1/runs/x/log?follow=1", "jb_not-a-token"),
	} {
		before := time.Now()
		a := g.do(t, hc, c)
		after := time.Now()
		// The block ends a minute after the first failure: the wait is
		// between what is left measured from either side of the call.
		lo := int(math.Floor(first.Add(time.Minute).Sub(after).Seconds()))
		hi := int(math.Ceil(afterFirst.Add(time.Minute).Sub(before).Seconds()))
		got, err := strconv.Atoi(a.header.Get("Retry-After"))
		if a.status != http.StatusTooManyRequests || err != nil || got < lo || got > hi {
			t.Errorf("%s %s: %d with Retry-After %q, want 429 and %d..%d (the seconds until the block ends)", c.method, c.path, a.status, a.header.Get("Retry-After"), lo, hi)
		}
	}
}

func TestTrustedProxiesNameTheClient(t *testing.T) {
	t.Parallel()
	g := startGuarded(t, func(c *server.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	})
	proxy := from("127.0.0.1")
	g.failTimes(t, proxy, server.DefaultAuthFailuresPerMinute, "198.51.100.7")

	bad := webhookCall("wrong-key-0123456789", `{}`)
	for xff, want := range map[string]int{
		"198.51.100.7":               http.StatusTooManyRequests, // the client that failed
		"198.51.100.7, 10.1.2.3":     http.StatusTooManyRequests, // through a second trusted proxy
		"198.51.100.8, 198.51.100.7": http.StatusTooManyRequests, // what the client wrote itself is not believed
		"198.51.100.8":               http.StatusUnauthorized,    // another client behind the same proxy
	} {
		if a := g.do(t, proxy, bad.with("X-Forwarded-For", xff)); a.status != want {
			t.Errorf("a wrong key through the proxy for X-Forwarded-For %q: %d, want %d", xff, a.status, want)
		}
	}

	// From a peer that is not a trusted proxy the header is ignored: the
	// failures count against the peer whatever it claims.
	direct := from("127.0.0.2")
	for i := range server.DefaultAuthFailuresPerMinute {
		c := bad.with("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
		if a := g.do(t, direct, c); a.status != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i+1, a.status)
		}
	}
	if a := g.do(t, direct, bad.with("X-Forwarded-For", "203.0.113.99")); a.status != http.StatusTooManyRequests {
		t.Errorf("an untrusted peer that failed %d times, naming a new address: %d, want 429", server.DefaultAuthFailuresPerMinute, a.status)
	}
}

func TestAFloodOfAddressesDoesNotLiftABlock(t *testing.T) {
	t.Parallel()
	const table = 50
	g := startGuarded(t, func(c *server.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
		c.AuthFailureTable = table
	})
	proxy := from("127.0.0.1")
	g.failTimes(t, proxy, server.DefaultAuthFailuresPerMinute, "198.51.100.7")
	bad := webhookCall("wrong-key-0123456789", `{}`)
	// Six times as many addresses as the table holds, in as many networks.
	for i := range 6 * table {
		if a := g.do(t, proxy, bad.with("X-Forwarded-For", fmt.Sprintf("172.%d.%d.1", 16+i/256, i%256))); a.status != http.StatusUnauthorized {
			t.Fatalf("flood address %d: %d, want 401", i, a.status)
		}
	}
	if a := g.do(t, proxy, bad.with("X-Forwarded-For", "198.51.100.7")); a.status != http.StatusTooManyRequests {
		t.Errorf("after a flood of %d addresses the blocked one is answered %d, want still 429", 6*table, a.status)
	}
	// With the table full, new addresses of one network count together.
	for i := range server.DefaultAuthFailuresPerMinute {
		g.failTimes(t, proxy, 1, fmt.Sprintf("192.0.2.%d", i+1))
	}
	if a := g.do(t, proxy, bad.with("X-Forwarded-For", "192.0.2.200")); a.status != http.StatusTooManyRequests {
		t.Errorf("a new address of a network that failed %d times while the table was full: %d, want 429", server.DefaultAuthFailuresPerMinute, a.status)
	}
}

func TestFailedAuthenticationsAreLoggedInAggregate(t *testing.T) {
	t.Parallel()
	g := startGuarded(t, func(c *server.Config) { c.AuthFailureLogInterval = 100 * time.Millisecond })
	hc := from("127.0.0.3")
	const n = 25
	for range n {
		g.do(t, hc, webhookCall("wrong-key-0123456789", `{}`))
	}
	// Wait for the count of all n to be logged, then check that nothing
	// logged a line per failure.
	total := 0
	wait.Poll(t, 20*time.Second, func() (bool, string) {
		total = 0
		for _, line := range strings.Split(g.log.String(), "\n") {
			if !strings.Contains(line, "client=127.0.0.3") {
				continue
			}
			_, rest, ok := strings.Cut(line, " count=")
			if !ok {
				t.Fatalf("a log line about the client without a count: %s", line)
			}
			c, _ := strconv.Atoi(strings.Fields(rest)[0])
			total += c
		}
		return total >= n, ""
	})
	lines := strings.Count(g.log.String(), "client=127.0.0.3")
	if total != n || lines >= n/2 {
		t.Errorf("%d failures logged as %d lines counting %d, want a few lines counting %d:\n%s", n, lines, total, n, g.log.String())
	}
}

// rawRequest opens a connection from ip and sends a request's head and
// the first bytes of a body of length bytes, which it never finishes.
func (g *guarded) rawRequest(t *testing.T, ip, head string, length int) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	c, err := d.Dial("tcp", g.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := fmt.Fprintf(c, "%sHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{\"rule\":", head, g.addr, length); err != nil {
		t.Fatal(err)
	}
	return c
}

// closedSoon reports whether the server closes c within a generous bound,
// reading (and discarding) what it sends first. A reset counts as closed.
func closedSoon(c net.Conn) (bool, error) {
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return false, err
	}
	return true, err
}

func statusLine(t *testing.T, c net.Conn) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	return strings.TrimSpace(line)
}

func TestAnUnauthenticatedBodyIsNeverWaitedFor(t *testing.T) {
	t.Parallel()
	// A body timeout far longer than the test waits: only not reading the
	// body can close these connections in time.
	g := startGuarded(t, func(c *server.Config) { c.BodyTimeout = time.Hour })
	for name, head := range map[string]string{
		"webhook": "POST /webhook/run HTTP/1.1\r\n" + api.DefaultWebhookKeyHeader + ": wrong-key-0123456789\r\n",
		"API":     "POST /api/v1/rules/nightly/trigger HTTP/1.1\r\nAuthorization: Bearer jb_not-a-token\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := g.rawRequest(t, "127.0.0.4", head, 60_000)
			if got := statusLine(t, c); !strings.Contains(got, " 401 ") {
				t.Fatalf("answer %q, want 401", got)
			}
			if closed, err := closedSoon(c); !closed {
				t.Errorf("the server kept the connection of a refused request open, waiting for its body (%v)", err)
			}
		})
	}
}

func TestASlowBodyTimesOut(t *testing.T) {
	t.Parallel()
	g := startGuarded(t, func(c *server.Config) { c.BodyTimeout = 200 * time.Millisecond })
	for name, head := range map[string]string{
		"webhook": "POST /webhook/run HTTP/1.1\r\n" + api.DefaultWebhookKeyHeader + ": " + key + "\r\n",
		"API":     "POST /api/v1/rules/nightly/trigger HTTP/1.1\r\nAuthorization: Bearer " + g.token + "\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			c := g.rawRequest(t, "127.0.0.5", head, 60_000)
			// Whatever the answer (408, 400), the connection must end
			// without the body ever arriving.
			if closed, err := closedSoon(c); !closed {
				t.Errorf("a body that never arrives held the connection past the body timeout (%v)", err)
			}
		})
	}
	runs, _, _ := g.store.RunList(context.Background(), store.RunFilter{})
	if len(runs) != 0 {
		t.Errorf("a request whose body never arrived started %d runs", len(runs))
	}
}

func TestStreamsOutliveTheBodyTimeout(t *testing.T) {
	t.Parallel()
	g := startGuarded(t, func(c *server.Config) { c.BodyTimeout = 100 * time.Millisecond })
	req, _ := http.NewRequest(http.MethodGet, g.url+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+g.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /events: %d", resp.StatusCode)
	}
	// Heartbeats keep coming well past the body timeout.
	br := bufio.NewReader(resp.Body)
	began := time.Now()
	beats := 0
	for time.Since(began) < 10*100*time.Millisecond {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("the stream ended after %s and %d heartbeats: %v", time.Since(began), beats, err)
		}
		if strings.HasPrefix(line, ":") {
			beats++
		}
	}
}

func TestConnectionsPerAddressAreCapped(t *testing.T) {
	t.Parallel()
	const most = 3
	g := startGuarded(t, func(c *server.Config) { c.MaxConnsPerAddress = most })
	dial := func(ip string) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		c, err := d.Dial("tcp", g.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	served := func(c net.Conn) bool {
		if _, err := fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return false
		}
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		return err == nil && strings.Contains(line, " 200 ")
	}
	var held []net.Conn
	for i := range most {
		c := dial("127.0.0.6")
		if !served(c) {
			t.Fatalf("connection %d of %d from one address was not served", i+1, most)
		}
		held = append(held, c)
	}
	if served(dial("127.0.0.6")) {
		t.Errorf("connection %d from one address was served, want it closed at once", most+1)
	}
	if c := dial("127.0.0.7"); !served(c) {
		t.Error("another address was refused")
	}
	// The agent's own host is not capped (the SSH console connects from it).
	for i := range most + 2 {
		if c := dial("127.0.0.1"); !served(c) {
			t.Fatalf("connection %d from the server's own address was refused", i+1)
		}
	}
	// A connection that closes makes room.
	held[0].Close()
	wait.For(t, 20*time.Second, func() (bool, string) {
		return served(dial("127.0.0.6")), "after one of its connections closed, the address still could not connect"
	})
}
