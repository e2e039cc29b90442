package server

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
)

// failLimiter refuses a client address that failed to authenticate too
// often within a window, so keys and tokens cannot be guessed at speed.
type failLimiter struct {
	max    int
	window time.Duration
	mu     sync.Mutex
	by     map[string]*failures
}

type failures struct {
	count int
	since time.Time
}

func newFailLimiter(max int, window time.Duration) *failLimiter {
	return &failLimiter{max: max, window: window, by: make(map[string]*failures)}
}

// blocked reports whether addr is refused now, and for how long.
func (l *failLimiter) blocked(addr string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.by[addr]
	if f == nil {
		return 0, false
	}
	left := l.window - time.Since(f.since)
	if left <= 0 {
		delete(l.by, addr)
		return 0, false
	}
	return left, f.count >= l.max
}

// fail records a failed authentication from addr.
func (l *failLimiter) fail(addr string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	f := l.by[addr]
	if f == nil || now.Sub(f.since) > l.window {
		if len(l.by) > 100_000 { // a flood of addresses: start over rather than grow
			clear(l.by)
		}
		f = &failures{since: now}
		l.by[addr] = f
	}
	f.count++
}

// clientAddr is the request's peer IP. X-Forwarded-For is not trusted: a
// client could name any address in it.
func clientAddr(r *http.Request) string { return hostOf(r.RemoteAddr) }

func hostOf(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

func (s *Server) authFailed(addr, kind string) {
	s.limiter.fail(addr)
	s.metrics.authFailures.WithLabelValues(kind).Inc()
	s.log.Warn("failed authentication", "kind", kind, "client", addr)
}

func tooManyFailures(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	writeProblem(w, api.Problem{Status: http.StatusTooManyRequests, Detail: fmt.Sprintf("too many failed authentications from this address; retry in %s", wait.Round(time.Second))})
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// touchThrottle limits how often a token's last use is written: at most
// once a minute per token, so reads do not each cost a write.
type touchThrottle struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (t *touchThrottle) due(name string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.last == nil {
		t.last = make(map[string]time.Time)
	}
	if now.Sub(t.last[name]) < time.Minute {
		return false
	}
	t.last[name] = now
	return true
}
