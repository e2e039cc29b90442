// Package server is the agent's HTTP side: the EventBridge webhook, the
// admin JSON API under /api/v1 (with its OpenAPI document and event
// stream), health, readiness and metrics.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// Firer starts scheduled runs; *runner.Runner is one.
type Firer interface {
	Fire(ctx context.Context, p runner.FireParams) (store.Run, bool, error)
}

// Reconciler syncs the scheduler backend on demand (POST /api/v1/sync).
type Reconciler interface {
	Reconcile(ctx context.Context) (api.SyncReport, error)
}

// Config configures the HTTP handler. Store and Firer are required; the
// admin API is served when Service is set.
type Config struct {
	Store store.Store
	Firer Firer
	// WebhookKey is the API key EventBridge sends; empty turns the webhook off.
	WebhookKey string
	// WebhookHeader carries the key. Default api.DefaultWebhookKeyHeader.
	WebhookHeader string
	// RulePrefix is stripped from rule names EventBridge sends.
	RulePrefix string
	Logger     *slog.Logger

	// The admin API.
	Service       *service.Service
	Jobs          *jobs.Registry
	Events        *events.Broker
	Reconciler    Reconciler // nil: POST /sync answers 409
	Version       string
	Node          string
	SchedulerMode string
	StartedAt     time.Time
	// Now is the clock that next fire times are computed with. Default
	// time.Now; tests fix it (see agent/agenttest).
	Now func() time.Time
	// Heartbeat is how often the event stream sends a comment so proxies
	// keep it open. Default 15s.
	Heartbeat time.Duration
	// Metrics receives the agent's counters; nil makes a private one.
	Metrics *Metrics
	// Notifications reports the notification channels' health (nil: none).
	Notifications func() []api.ChannelStatus
	// Missed says which rules miss an expected fire (the dead-man's
	// switch); nil when it is off.
	Missed MissedFires
	// Agents lists the agents that share the store, for GET /status (see
	// cluster.Cluster.Agents). Nil: this agent is the only one (SQLite),
	// and the status lists it alone.
	Agents func(ctx context.Context) ([]api.AgentStatus, error)
	// URL is this agent's base URL as the agents table records it, for
	// its own entry in the status when Agents is nil. Nil: no URL.
	URL func() string
	// AuthFailuresPerMinute is how many failed authentications a client
	// address may make in a minute before its failed authentications are
	// answered 429 (valid credentials are never refused). Default 10.
	AuthFailuresPerMinute int
	// AuthFailureTable is how many client addresses the count of failures
	// remembers; when full, new addresses are counted by network (IPv4
	// /24, IPv6 /48). Default 10,000.
	AuthFailureTable int
	// AuthFailureLogInterval is how often failed authentications are
	// logged: one line per address with a count. Default 1m.
	AuthFailureLogInterval time.Duration
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client. Default none: the client is the peer.
	TrustedProxies []netip.Prefix
	// MaxConnsPerAddress caps the connections open from one client address
	// (see Listener). Default 128.
	MaxConnsPerAddress int
	// BodyTimeout is how long a client has to send a request body. Default
	// 10s.
	BodyTimeout time.Duration
	// Ready, when set, says why the agent is not ready besides its
	// database (nil: ready); /readyz answers 503 with it.
	Ready func() error
}

// MissedFires is what the dead-man's switch (package watch) tells the API.
type MissedFires interface {
	// MissedFire is the fire time the rule missed, if it is missing one.
	MissedFire(rule string) (time.Time, bool)
	// Missing counts the rules missing a fire.
	Missing() int
}

// Timeouts for the http.Server that serves this handler. There is no
// WriteTimeout: event streams and followed logs are long answers (each of
// their writes has its own deadline), and ReadTimeout would end them too
// (net/http cancels a request whose connection's read deadline passes);
// ServeHTTP gives each request body its own deadline instead.
const (
	// ReadHeaderTimeout is how long a client has to send a request's headers.
	ReadHeaderTimeout = 10 * time.Second
	// IdleTimeout is how long a kept-alive connection may wait for its next
	// request.
	IdleTimeout = 2 * time.Minute
)

// MaxWebhookBody is the largest webhook body accepted (413 above).
const MaxWebhookBody = 64 << 10

// MaxAPIBody is the largest admin API request body accepted (413 above).
const MaxAPIBody = 256 << 10

// Server is the agent's HTTP handler.
type Server struct {
	cfg     Config
	log     *slog.Logger
	mux     *http.ServeMux
	limiter *failLimiter
	metrics *Metrics
	touched touchThrottle

	stopStreams chan struct{} // closed by StopStreams
	stopOnce    sync.Once
}

// StopStreams ends every open event stream, so that a graceful shutdown
// does not wait on clients that never hang up. Register it with
// http.Server.RegisterOnShutdown.
func (s *Server) StopStreams() { s.stopOnce.Do(func() { close(s.stopStreams) }) }

// New returns the agent's HTTP handler.
func New(cfg Config) *Server {
	if cfg.WebhookHeader == "" {
		cfg.WebhookHeader = api.DefaultWebhookKeyHeader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = 15 * time.Second
	}
	if cfg.AuthFailuresPerMinute <= 0 {
		cfg.AuthFailuresPerMinute = DefaultAuthFailuresPerMinute
	}
	if cfg.AuthFailureTable <= 0 {
		cfg.AuthFailureTable = DefaultAuthFailureTable
	}
	if cfg.AuthFailureLogInterval <= 0 {
		cfg.AuthFailureLogInterval = DefaultAuthFailureLogInterval
	}
	if cfg.MaxConnsPerAddress <= 0 {
		cfg.MaxConnsPerAddress = DefaultMaxConnsPerAddress
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 10 * time.Second
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StartedAt.IsZero() {
		cfg.StartedAt = time.Now().UTC()
	}
	s := &Server{
		cfg:     cfg,
		log:     cfg.Logger,
		mux:     http.NewServeMux(),
		limiter: newFailLimiter(cfg.AuthFailuresPerMinute, time.Minute, cfg.AuthFailureTable, cfg.Logger, cfg.AuthFailureLogInterval),
		metrics: cfg.Metrics,

		stopStreams: make(chan struct{}),
	}
	s.mux.Handle("POST /webhook/run", newWebhook(s))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	s.mux.Handle("GET /metrics", s.metrics.Handler())
	if cfg.Service != nil {
		s.mountAPI()
	}
	return s
}

// ServeHTTP implements http.Handler. It resolves the client's address
// (see TrustedProxies), and a request body, whatever the route, is never
// read past MaxAPIBody nor for longer than BodyTimeout.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rq := &request{client: resolveClient(s.cfg.TrustedProxies, r), w: w, rc: http.NewResponseController(w)}
	// A copy of the request carries the changes: net/http decides from the
	// body it gave the handler whether the connection can serve another
	// request, and must see that body as the handler left it.
	r = r.WithContext(context.WithValue(r.Context(), requestKey{}, rq))
	if r.Body != nil && r.Body != http.NoBody {
		rq.body = true
		_ = rq.rc.SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
		r.Body = &bodyReader{ReadCloser: http.MaxBytesReader(w, r.Body, MaxAPIBody), rc: rq.rc}
	}
	if peer := parseAddr(r.RemoteAddr); peer != rq.client && rq.client.IsValid() {
		r.RemoteAddr = netip.AddrPortFrom(rq.client, 0).String() // what handlers log and count by
	}
	w = &answerWriter{ResponseWriter: w, rq: rq}
	if id, ok := isFollow(r); ok && s.cfg.Service != nil {
		s.followLog(w, r, id)
		return
	}
	// The mux is asked first whether a route takes the request, and then
	// serves it itself: only its ServeHTTP sets the path's values.
	if h, pattern := s.mux.Handler(r); pattern == "" {
		s.noRoute(w, r, h)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// noRoute answers a request no route takes as problem+json: 404
// (api.ProblemNotFound) for a path the agent does not serve, 405
// (api.ProblemMethod, with Allow) for a method its path does not take.
// The mux's own answer, plain text, is asked for its status and Allow
// header only.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request, h http.Handler) {
	var probe statusProbe
	h.ServeHTTP(&probe, r)
	p := api.Problem{Status: probe.status}
	switch probe.status {
	case http.StatusMethodNotAllowed:
		allow := probe.Header().Get("Allow")
		w.Header().Set("Allow", allow)
		p.Type = api.ProblemMethod
		p.Detail = fmt.Sprintf("%s does not take %s; it takes %s", r.URL.Path, r.Method, allow)
	case http.StatusNotFound:
		p.Type = api.ProblemNotFound
		p.Detail = "the agent has no route " + r.URL.Path
		if strings.HasPrefix(r.URL.Path, APIPrefix+"/") || r.URL.Path == APIPrefix {
			p.Detail += " (the API's routes are listed in " + APIPrefix + "/openapi.json)"
		}
	default: // not a mux answer this knows: pass it on as it was
		for k, v := range probe.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(probe.status)
		_, _ = w.Write(probe.body)
		return
	}
	writeProblem(w, p)
}

// statusProbe is a ResponseWriter that keeps what is written, to look at.
type statusProbe struct {
	header http.Header
	status int
	body   []byte
}

func (p *statusProbe) Header() http.Header {
	if p.header == nil {
		p.header = http.Header{}
	}
	return p.header
}

func (p *statusProbe) WriteHeader(status int) {
	if p.status == 0 {
		p.status = status
	}
}

func (p *statusProbe) Write(b []byte) (int, error) {
	if p.status == 0 {
		p.status = http.StatusOK
	}
	p.body = append(p.body, b...)
	return len(b), nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(); err != nil {
			w.Header().Set("Retry-After", "1")
			writeProblem(w, api.Problem{Status: http.StatusServiceUnavailable, Detail: "not ready: " + err.Error()})
			return
		}
	}
	if err := s.cfg.Store.Ping(r.Context()); err != nil {
		s.log.Warn("readiness: database does not answer", "err", err)
		w.Header().Set("Retry-After", "5")
		writeProblem(w, api.Problem{Status: http.StatusServiceUnavailable, Detail: "the database does not answer"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "store": s.cfg.Store.Kind()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeProblem(w http.ResponseWriter, p api.Problem) {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	w.Header().Set("Content-Type", api.ProblemContentType)
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

func errorsIsNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

func typeOf[T any]() reflect.Type { return reflect.TypeFor[T]() }
