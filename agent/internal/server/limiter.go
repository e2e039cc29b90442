package server

import (
	"cmp"
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
)

// What the server does against abuse, in one place:
//
//   - failed authentications are counted per client address; past the limit
//     in a window, that address's failures answer 429 until the window ends.
//     A request with valid credentials is never throttled, whoever shares its
//     address (a proxy, a tunnel, a NAT), since the limiter only ever looks
//     at requests that failed;
//   - the table of addresses is bounded: when it is full, new addresses are
//     counted by their network (/24, /48), and room is made by dropping the
//     oldest entry that is not blocking, so a flood of addresses cannot
//     wipe out the blocks;
//   - the client address is the peer's, or, from a trusted proxy, the one
//     that proxy names in X-Forwarded-For;
//   - failures are logged as a count per address and interval, not a line
//     each;
//   - connections are capped per address (Listener).

// Defaults of the limits above.
const (
	// DefaultAuthFailuresPerMinute is how many failed authentications one
	// address may make in a minute before its failures answer 429.
	DefaultAuthFailuresPerMinute = 10
	// DefaultAuthFailureTable is how many addresses the limiter remembers.
	DefaultAuthFailureTable = 10_000
	// DefaultAuthFailureLogInterval is how often failed authentications are
	// logged, one line per address with a count.
	DefaultAuthFailureLogInterval = time.Minute
	// DefaultMaxConnsPerAddress caps the connections open from one client
	// address, apart from trusted proxies and the agent's own host.
	DefaultMaxConnsPerAddress = 128
	// maxLoggedAddresses is the most addresses named in one interval's log;
	// the rest are summed in one line.
	maxLoggedAddresses = 20
)

// failLimiter refuses, with 429, the failed authentications of an address
// that failed too often within a window. It never sees a request whose
// credentials are valid.
type failLimiter struct {
	max      int
	window   time.Duration
	capacity int
	now      func() time.Time

	mu sync.Mutex
	by map[netip.Prefix]*failures
	// counting holds the entries under the limit, blocking those at it,
	// each newest window first. Room is made from counting first, so
	// that a flood of addresses that fail once each cannot push out an
	// address that is blocked.
	counting, blocking list.List

	log      *slog.Logger
	logEvery time.Duration
	pending  map[netip.Prefix]*failCount // failures not logged yet
	others   failCount                   // of addresses beyond the pending table
	timer    *time.Timer                 // the next log line, when one is due
}

type failures struct {
	key   netip.Prefix
	count int
	since time.Time  // start of the window
	list  *list.List // counting or blocking
	elem  *list.Element
}

func (f *failures) move(to *list.List) {
	f.list.Remove(f.elem)
	f.list, f.elem = to, to.PushFront(f)
}

type failCount struct {
	n       int
	kinds   map[string]int
	blocked bool // some were answered 429
	// For the failures of addresses not logged one by one: how many
	// addresses, and whether some were not told apart (too many).
	addrs     int
	uncounted bool
}

func newFailLimiter(maxFails int, window time.Duration, capacity int, log *slog.Logger, logEvery time.Duration) *failLimiter {
	return &failLimiter{
		max: maxFails, window: window, capacity: max(capacity, 1), now: time.Now,
		by: make(map[netip.Prefix]*failures), log: log, logEvery: logEvery,
		pending: make(map[netip.Prefix]*failCount),
	}
}

// hostKey is what failures are counted by: an IPv4 address, or an IPv6
// address's /64 (the least a site is given, so one host can use all of it).
func hostKey(a netip.Addr) netip.Prefix {
	switch {
	case a.Is4():
		return netip.PrefixFrom(a, 32)
	case a.Is6():
		p, _ := a.Prefix(64)
		return p
	}
	return netip.Prefix{} // unknown peer: one shared key
}

// netKey is where the failures of a new address go when the table is full:
// its IPv4 /24 or IPv6 /48.
func netKey(a netip.Addr) netip.Prefix {
	switch {
	case a.Is4():
		p, _ := a.Prefix(24)
		return p
	case a.Is6():
		p, _ := a.Prefix(48)
		return p
	}
	return netip.Prefix{}
}

func keyString(p netip.Prefix) string {
	switch {
	case !p.IsValid():
		return "unknown"
	case p.Bits() == p.Addr().BitLen():
		return p.Addr().String()
	}
	return p.String()
}

// blockedLocked reports whether the failures of addr answer 429 now, and
// for how long: until the later end of its own block and its network's.
func (l *failLimiter) blockedLocked(addr netip.Addr, now time.Time) (time.Duration, bool) {
	var wait time.Duration
	for _, k := range []netip.Prefix{hostKey(addr), netKey(addr)} {
		f := l.by[k]
		if f == nil || f.count < l.max {
			continue
		}
		if left := f.since.Add(l.window).Sub(now); left > wait {
			wait = left
		}
	}
	return wait, wait > 0
}

// fail records a failed authentication of kind from addr and reports
// whether addr was blocked already (the failure then answers 429, for how
// long) or not (401).
func (l *failLimiter) fail(addr netip.Addr, kind string) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	wait, wasBlocked := l.blockedLocked(addr, now)
	l.expire(&l.counting, now)
	l.expire(&l.blocking, now)
	key := hostKey(addr)
	f := l.by[key]
	if f == nil && len(l.by) >= l.capacity {
		// Full: count a new address with its network, so that a flood of
		// addresses fills one entry per network rather than the table.
		key = netKey(addr)
		f = l.by[key]
		if f == nil {
			l.evict()
		}
	}
	switch {
	case f == nil:
		f = &failures{key: key, since: now, list: &l.counting}
		f.elem = l.counting.PushFront(f)
		l.by[key] = f
	case now.Sub(f.since) >= l.window:
		f.count, f.since = 0, now
		f.move(&l.counting)
	}
	f.count++
	if f.count == l.max {
		f.move(&l.blocking)
	}
	l.note(key, kind, wasBlocked || f.count > l.max)
	return wait, wasBlocked
}

// expire drops the entries of ls whose window has passed, from the back,
// where the oldest windows are.
func (l *failLimiter) expire(ls *list.List, now time.Time) {
	for e := ls.Back(); e != nil; e = ls.Back() {
		f := e.Value.(*failures)
		if now.Sub(f.since) < l.window {
			return
		}
		ls.Remove(e)
		delete(l.by, f.key)
	}
}

// evict makes room: it drops the oldest entry still under the limit, or,
// when every entry is blocking, the oldest of those.
func (l *failLimiter) evict() {
	for _, ls := range []*list.List{&l.counting, &l.blocking} {
		if e := ls.Back(); e != nil {
			ls.Remove(e)
			delete(l.by, e.Value.(*failures).key)
			return
		}
	}
}

// note counts a failure for the next log line and makes sure one is due.
func (l *failLimiter) note(key netip.Prefix, kind string, blocked bool) {
	c := l.pending[key]
	if c == nil {
		if len(l.pending) >= l.capacity {
			l.others.n++
			l.others.uncounted = true
			return
		}
		c = &failCount{kinds: map[string]int{}}
		l.pending[key] = c
	}
	c.n++
	c.kinds[kind]++
	c.blocked = c.blocked || blocked
	if l.timer == nil {
		l.timer = time.AfterFunc(l.logEvery, l.flush)
	}
}

// flush logs the failures counted since the last flush: a line per
// address (the most failing first), then one for the rest.
func (l *failLimiter) flush() {
	l.mu.Lock()
	pending, others := l.pending, l.others
	l.pending, l.others, l.timer = make(map[netip.Prefix]*failCount), failCount{}, nil
	l.mu.Unlock()

	keys := make([]netip.Prefix, 0, len(pending))
	for k := range pending {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b netip.Prefix) int {
		return cmp.Or(cmp.Compare(pending[b].n, pending[a].n), cmp.Compare(keyString(a), keyString(b)))
	})
	for i, k := range keys {
		c := pending[k]
		if i >= maxLoggedAddresses {
			others.n += c.n
			others.addrs++
			continue
		}
		kinds := make([]string, 0, len(c.kinds))
		for kind, n := range c.kinds {
			kinds = append(kinds, kind+"="+strconv.Itoa(n))
		}
		slices.Sort(kinds)
		l.log.Warn("failed authentications", "client", keyString(k), "count", c.n, "kinds", strings.Join(kinds, ","),
			"throttled", c.blocked, "interval", l.logEvery)
	}
	if others.n > 0 {
		addrs := strconv.Itoa(others.addrs)
		if others.uncounted {
			addrs = "more than " + addrs
		}
		l.log.Warn("failed authentications from other addresses", "addresses", addrs, "count", others.n, "interval", l.logEvery)
	}
}

// refuseAuth records a failed authentication of kind from the request's
// client and says how to answer it: 401, or 429 when the address was
// blocked already. A body the client may still be sending is not read.
// remoteAddr is the peer's, for a request that did not come through
// ServeHTTP (which resolves the client).
func (s *Server) refuseAuth(ctx context.Context, remoteAddr, kind string) (status int, wait time.Duration) {
	rq := requestOf(ctx)
	if !rq.client.IsValid() {
		rq.client = parseAddr(remoteAddr)
	}
	rq.refuseBody()
	s.metrics.authFailures.WithLabelValues(kind).Inc()
	wait, blocked := s.limiter.fail(rq.client, kind)
	if blocked {
		rq.blockedFor = wait
		return http.StatusTooManyRequests, wait
	}
	return http.StatusUnauthorized, 0
}

func retryAfter(wait time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
}

func tooManyFailures(w http.ResponseWriter, wait time.Duration) {
	w.Header().Set("Retry-After", retryAfter(wait))
	writeProblem(w, api.Problem{Status: http.StatusTooManyRequests, Detail: blockedDetail(wait)})
}

func blockedDetail(wait time.Duration) string {
	return fmt.Sprintf("too many failed authentications from this address; retry in %ss", retryAfter(wait))
}

// ParseTrustedProxies reads JOBBRIDGE_TRUSTED_PROXIES: CIDRs or single
// addresses, comma-separated.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		errs = append(errs, fmt.Errorf("%q is neither a CIDR (10.0.0.0/8) nor an address", f))
	}
	return out, errors.Join(errs...)
}

func trusted(proxies []netip.Prefix, a netip.Addr) bool {
	for _, p := range proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap()
	}
	return netip.Addr{}
}

// resolveClient is the address of the client of r: its peer, unless the
// peer is a trusted proxy; then X-Forwarded-For is walked from the right
// (the hop the proxy itself added) past every trusted proxy, and the first
// address that is not one is the client. From an untrusted peer the header
// is ignored: anyone can write one.
func resolveClient(proxies []netip.Prefix, r *http.Request) netip.Addr {
	client := parseAddr(r.RemoteAddr)
	if !client.IsValid() || !trusted(proxies, client) {
		return client
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a := parseAddr(strings.TrimSpace(parts[j]))
			if !a.IsValid() {
				return client // garbage from a proxy we trust: the proxy is the client
			}
			client = a
			if !trusted(proxies, a) {
				return client
			}
		}
	}
	return client
}

func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	return a.String()
}

// request is what ServeHTTP learned of a request, for the handlers.
type request struct {
	client     netip.Addr
	w          http.ResponseWriter // the server's own
	rc         *http.ResponseController
	body       bool          // the client sends a body
	blockedFor time.Duration // set when the answer is a 429 for failed authentications
}

type requestKey struct{}

func requestOf(ctx context.Context) *request {
	rq, _ := ctx.Value(requestKey{}).(*request)
	if rq == nil {
		return &request{} // a handler called outside ServeHTTP (tests)
	}
	return rq
}

// refuseBody makes the server close the connection after the answer rather
// than read a body the handler will not: a client sending it a byte at a
// time would hold the connection as long as it likes.
func (rq *request) refuseBody() {
	if !rq.body {
		return
	}
	rq.w.Header().Set("Connection", "close")
	_ = rq.rc.SetReadDeadline(time.Unix(1, 0))
}

// bodyReader ends reading a request body at the deadline ServeHTTP set,
// and clears that deadline once the body has been read to its end: the
// connection then serves long answers (event streams, a followed log) and
// further requests without it.
type bodyReader struct {
	io.ReadCloser
	rc   *http.ResponseController
	once sync.Once
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.once.Do(func() { _ = b.rc.SetReadDeadline(time.Time{}) })
	}
	return n, err
}

// answerWriter gives a 429 for failed authentications its real Retry-After,
// whichever handler wrote it.
type answerWriter struct {
	http.ResponseWriter
	rq *request
}

func (w *answerWriter) WriteHeader(code int) {
	if code == http.StatusTooManyRequests && w.rq.blockedFor > 0 {
		w.Header().Set("Retry-After", retryAfter(w.rq.blockedFor))
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *answerWriter) Flush() { _ = http.NewResponseController(w.ResponseWriter).Flush() }

func (w *answerWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Listener caps the connections open from one client address (an IPv6
// /64 counts as one) at Config.MaxConnsPerAddress: a connection over the
// cap is closed as soon as it is accepted. Trusted proxies carry many clients and are not capped,
// nor is the agent's own host (the SSH console's sessions connect from
// it).
func (s *Server) Listener(l net.Listener) net.Listener {
	return &capListener{Listener: l, max: s.cfg.MaxConnsPerAddress, proxies: s.cfg.TrustedProxies, open: map[netip.Prefix]int{}, refused: s.metrics.connsRefused}
}

type capListener struct {
	net.Listener
	max     int
	proxies []netip.Prefix
	refused interface{ Inc() }

	mu   sync.Mutex
	open map[netip.Prefix]int // by hostKey: an IPv6 /64 is one client
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		peer := parseAddr(c.RemoteAddr().String())
		if !peer.IsValid() || trusted(l.proxies, peer) || peer == parseAddr(c.LocalAddr().String()) {
			return c, nil
		}
		key := hostKey(peer)
		l.mu.Lock()
		if l.open[key] >= l.max {
			l.mu.Unlock()
			l.refused.Inc()
			c.Close()
			continue
		}
		l.open[key]++
		l.mu.Unlock()
		return &cappedConn{Conn: c, release: func() {
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.open[key]--; l.open[key] <= 0 {
				delete(l.open, key)
			}
		}}, nil
	}
}

type cappedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *cappedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
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
