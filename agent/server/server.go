// Package server is the agent's HTTP side: the EventBridge webhook, health
// and readiness, and (as it grows) the admin API and its event stream.
package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/jobbridge/jobbridge/agent/runner"
	"github.com/jobbridge/jobbridge/agent/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// Firer starts scheduled runs; *runner.Runner is one.
type Firer interface {
	Fire(ctx context.Context, p runner.FireParams) (store.Run, bool, error)
}

// Config configures the HTTP handler.
type Config struct {
	Store store.Store
	Firer Firer
	// WebhookKey is the API key EventBridge sends; empty turns the webhook off.
	WebhookKey string
	// WebhookHeader carries the key. Default X-Aws-Event-Bridge-Api-Key.
	WebhookHeader string
	// RulePrefix is stripped from rule names EventBridge sends.
	RulePrefix string
	Logger     *slog.Logger
}

// DefaultWebhookHeader is the header EventBridge's connection puts the key in.
const DefaultWebhookHeader = "X-Aws-Event-Bridge-Api-Key"

// MaxWebhookBody is the largest webhook body accepted (413 above).
const MaxWebhookBody = 64 << 10

// New returns the agent's HTTP handler.
func New(cfg Config) http.Handler {
	if cfg.WebhookHeader == "" {
		cfg.WebhookHeader = DefaultWebhookHeader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	wh := newWebhook(cfg)
	mux.Handle("POST /webhook/run", wh)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := cfg.Store.Ping(r.Context()); err != nil {
			cfg.Logger.Warn("readiness: database does not answer", "err", err)
			w.Header().Set("Retry-After", "5")
			writeProblem(w, api.Problem{Status: http.StatusServiceUnavailable, Title: "Service Unavailable", Detail: "the database does not answer"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready", "store": cfg.Store.Kind()})
	})
	return mux
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
