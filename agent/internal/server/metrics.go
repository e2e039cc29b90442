package server

import (
	"context"
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// Metrics are the agent's Prometheus metrics, on their own registry.
type Metrics struct {
	reg            *prometheus.Registry
	runs           *prometheus.CounterVec
	runDuration    *prometheus.HistogramVec
	webhookAnswers *prometheus.CounterVec
	authFailures   *prometheus.CounterVec
	connsRefused   prometheus.Counter
	schedulerLag   prometheus.Histogram
	running        prometheus.Gauge
	missed         *prometheus.CounterVec
	slow           *prometheus.CounterVec
	retries        *prometheus.CounterVec
	rules          *ruleMetrics

	// The gauges read at each scrape, from the sources the agent sets.
	rulesMissing atomic.Pointer[func() int]
	runsQueued   atomic.Pointer[func() int]
}

// NewMetrics returns the agent's metrics with Go and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg:   prometheus.NewRegistry(),
		rules: newRuleMetrics(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobbridge_runs_total", Help: "Runs that ended, by job and final status.",
		}, []string{"job", "status"}),
		runDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "jobbridge_run_duration_seconds", Help: "How long finished runs ran, by job.",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 10), // 10ms .. ~44min
		}, []string{"job"}),
		webhookAnswers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobbridge_webhook_requests_total", Help: "Webhook calls, by HTTP status answered.",
		}, []string{"code"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobbridge_auth_failures_total", Help: "Failed authentications, by kind (webhook key or API token).",
		}, []string{"kind"}),
		connsRefused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jobbridge_connections_refused_total", Help: "Connections closed at once because their address had too many open.",
		}),
		schedulerLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "jobbridge_scheduler_lag_seconds", Help: "Delay between a scheduled fire time and the run's start.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300},
		}),
		running: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "jobbridge_runs_running", Help: "Runs executing on this agent.",
		}),
		missed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobbridge_runs_missed_total", Help: "Expected fires that did not arrive within the grace (the dead-man's switch), by job.",
		}, []string{"job"}),
		slow: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobbridge_runs_slow_total", Help: "Runs that went on past their rule's warnAfter, by job.",
		}, []string{"job"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "jobbridge_run_retries_total", Help: "Retries of failed runs scheduled by their rule's retry policy, by job.",
		}, []string{"job"}),
	}
	rulesMissing := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "jobbridge_rules_missing", Help: "Enabled rules whose expected fire has not arrived (the dead-man's switch).",
	}, func() float64 { return read(&m.rulesMissing) })
	runsQueued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "jobbridge_runs_queued", Help: "Runs waiting to start (overlap queue, job limits, retries' backoff), across the agents sharing the database.",
	}, func() float64 { return read(&m.runsQueued) })
	m.reg.MustRegister(m.runs, m.runDuration, m.webhookAnswers, m.authFailures, m.connsRefused, m.schedulerLag, m.running,
		m.missed, m.slow, m.retries, rulesMissing, runsQueued, m.rules,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// WatchRules gives every rule (the first limit by name; 0 means
// DefaultRuleSeries) gauges of its last success, last failure and last
// status read from st, the store's truth: the same on every agent sharing
// it. Without it /metrics has the per-rule run times only. Call it before
// the metrics are served.
func (m *Metrics) WatchRules(st store.Store, limit int) {
	m.rules.mu.Lock()
	defer m.rules.mu.Unlock()
	m.rules.st = st
	if limit > 0 {
		m.rules.limit = limit
	}
}

// CountMissing makes jobbridge_rules_missing read f at each scrape.
func (m *Metrics) CountMissing(f func() int) { m.rulesMissing.Store(&f) }

// CountQueued makes jobbridge_runs_queued read f at each scrape.
func (m *Metrics) CountQueued(f func() int) { m.runsQueued.Store(&f) }

// read calls the source p holds, 0 when none is set.
func read(p *atomic.Pointer[func() int]) float64 {
	if f := p.Load(); f != nil {
		return float64((*f)())
	}
	return 0
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Watch counts runs from the event stream until ctx is done. A subscriber
// that falls behind is dropped by the broker; Watch subscribes again.
func (m *Metrics) Watch(ctx context.Context, b *events.Broker) {
	for ctx.Err() == nil {
		_, ch, _, cancel := b.Subscribe(0)
		m.consume(ctx, ch)
		cancel()
	}
}

func (m *Metrics) consume(ctx context.Context, ch <-chan events.Event) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-ch:
			if !ok {
				return
			}
			m.observe(e)
		}
	}
}

func (m *Metrics) observe(e events.Event) {
	m.rules.observe(e)
	if e.Run == nil || !e.Local() { // another agent counts its own runs
		return
	}
	r := e.Run
	switch e.Type {
	case api.EventRunStarted:
		m.running.Inc()
		if !r.ScheduledAt.IsZero() {
			m.schedulerLag.Observe(r.StartedAt.Sub(r.ScheduledAt).Seconds())
		}
	case api.EventRunSkipped:
		m.runs.WithLabelValues(r.Job, string(r.Status)).Inc()
	case api.EventRunFinished:
		if !r.StartedAt.IsZero() && r.Node != "" {
			m.running.Dec()
			m.runDuration.WithLabelValues(r.Job).Observe(r.FinishedAt.Sub(r.StartedAt).Seconds())
		}
		m.runs.WithLabelValues(r.Job, string(r.Status)).Inc()
	case api.EventRunMissed:
		m.runs.WithLabelValues(r.Job, string(r.Status)).Inc()
		m.missed.WithLabelValues(r.Job).Inc()
	case api.EventRunSlow:
		m.slow.WithLabelValues(r.Job).Inc()
	case api.EventRunQueued:
		// A retry is recorded queued until its backoff has passed.
		if r.Trigger == api.TriggerRetry {
			m.retries.WithLabelValues(r.Job).Inc()
		}
	}
}
