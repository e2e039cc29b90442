package server

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// DefaultRuleSeries is how many rules get series of their own in
// /metrics (the first by name): with each rule's 4 status series, 2
// timestamps and a histogram of 12 buckets, that bounds the per-rule
// series at about 10,000. The rules past it are counted by
// jobbridge_rules_without_series, and their run times go to the
// histogram's rule="_other" series.
const DefaultRuleSeries = 500

// OtherRule is the rule label of the run times of the rules that have no
// series of their own.
const OtherRule = "_other"

// ruleSnapshotMaxAge is how old the per-rule gauges may be at a scrape
// before they are read again from the store. Run finishes of every agent
// (relayed ones included) update them in between.
const ruleSnapshotMaxAge = 15 * time.Second

// ruleSnapshotTimeout bounds the store reads of one refresh.
const ruleSnapshotTimeout = 5 * time.Second

// ruleRunBuckets are the run-time buckets of jobbridge_rule_run_duration_seconds:
// 100 ms to 4 h, for jobs that take seconds to hours.
var ruleRunBuckets = []float64{0.1, 0.5, 1, 5, 15, 60, 300, 900, 1800, 3600, 14400}

// ruleState is what the per-rule gauges show of one rule.
type ruleState struct {
	lastSuccess, lastFailure time.Time
	lastEnded                api.RunStatus // "" before the first run that ended
}

// ruleMetrics are the per-rule metrics. The gauges (last success, last
// failure, last status) are the store's truth, the same on every agent of
// a cluster, so an alert on any agent's value sees every agent's runs.
// The run-time histogram counts the runs this agent ran, as every
// histogram does: sum it across the agents.
type ruleMetrics struct {
	st    store.Store // nil: no per-rule gauges
	limit int
	now   func() time.Time

	duration     *prometheus.HistogramVec
	lastSuccess  *prometheus.Desc
	lastFailure  *prometheus.Desc
	lastStatus   *prometheus.Desc
	withoutSerie *prometheus.Desc
	refreshErrs  prometheus.Counter

	mu       sync.Mutex
	readAt   time.Time            // zero: read again at the next scrape
	rules    map[string]ruleState // the rules with series of their own
	omitted  int                  // rules without
	observed map[string]bool      // histogram series made, by rule label
}

func newRuleMetrics() *ruleMetrics {
	return &ruleMetrics{
		limit: DefaultRuleSeries,
		now:   time.Now,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "jobbridge_rule_run_duration_seconds",
			Help:    "How long the runs of each rule that this agent ran took, start to finish (rules past the series cap: rule=\"_other\").",
			Buckets: ruleRunBuckets,
		}, []string{"rule"}),
		lastSuccess: prometheus.NewDesc("jobbridge_rule_last_success_timestamp_seconds",
			"When the rule's last succeeded run finished, in Unix seconds (0: never), across the agents sharing the database.", []string{"rule"}, nil),
		lastFailure: prometheus.NewDesc("jobbridge_rule_last_failure_timestamp_seconds",
			"When the rule's last failed run finished, in Unix seconds (0: never), across the agents sharing the database.", []string{"rule"}, nil),
		lastStatus: prometheus.NewDesc("jobbridge_rule_last_status",
			"1 for the status of the rule's last run that ended (succeeded, failed, cancelled or interrupted), 0 for the others; none before its first.", []string{"rule", "status"}, nil),
		withoutSerie: prometheus.NewDesc("jobbridge_rules_without_series",
			"Rules past the cap on per-rule series, which have none of their own.", nil, nil),
		refreshErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "jobbridge_rule_metrics_read_errors_total", Help: "Failed reads of the rules' health for the per-rule metrics (the last values read stay).",
		}),
		rules:    map[string]ruleState{},
		observed: map[string]bool{},
	}
}

// Describe implements prometheus.Collector.
func (rm *ruleMetrics) Describe(ch chan<- *prometheus.Desc) {
	rm.duration.Describe(ch)
	rm.refreshErrs.Describe(ch)
	ch <- rm.lastSuccess
	ch <- rm.lastFailure
	ch <- rm.lastStatus
	ch <- rm.withoutSerie
}

// Collect implements prometheus.Collector: the gauges of the rules as last
// read, read again first when that was more than ruleSnapshotMaxAge ago.
func (rm *ruleMetrics) Collect(ch chan<- prometheus.Metric) {
	rm.mu.Lock()
	if rm.st != nil && rm.now().Sub(rm.readAt) >= ruleSnapshotMaxAge {
		rm.refreshLocked()
	}
	for name, s := range rm.rules {
		ch <- prometheus.MustNewConstMetric(rm.lastSuccess, prometheus.GaugeValue, unixSeconds(s.lastSuccess), name)
		ch <- prometheus.MustNewConstMetric(rm.lastFailure, prometheus.GaugeValue, unixSeconds(s.lastFailure), name)
		if s.lastEnded == "" {
			continue
		}
		for _, st := range store.HealthStatuses {
			v := 0.0
			if st == s.lastEnded {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(rm.lastStatus, prometheus.GaugeValue, v, name, string(st))
		}
	}
	ch <- prometheus.MustNewConstMetric(rm.withoutSerie, prometheus.GaugeValue, float64(rm.omitted))
	rm.mu.Unlock()
	rm.duration.Collect(ch)
	rm.refreshErrs.Collect(ch)
}

func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMicro()) / 1e6
}

// refreshLocked reads the rules and their health from the store. On an
// error the values read before stay, and the next scrape tries again.
func (rm *ruleMetrics) refreshLocked() {
	ctx, cancel := context.WithTimeout(context.Background(), ruleSnapshotTimeout)
	defer cancel()
	rules, err := rm.st.RuleList(ctx)
	if err != nil {
		rm.refreshErrs.Inc()
		return
	}
	names := make([]string, len(rules))
	for i, r := range rules {
		names[i] = r.Name
	}
	slices.Sort(names)
	omitted := max(0, len(names)-rm.limit)
	names = names[:len(names)-omitted]
	health, err := rm.st.RuleHealthList(ctx, names)
	if err != nil {
		rm.refreshErrs.Inc()
		return
	}
	next := make(map[string]ruleState, len(names))
	for _, n := range names {
		h := health[n]
		s := ruleState{lastSuccess: h.LastSuccess, lastFailure: h.LastFailure}
		if len(h.Recent) > 0 {
			s.lastEnded = h.Recent[len(h.Recent)-1].Status
		}
		next[n] = s
	}
	rm.rules, rm.omitted, rm.readAt = next, omitted, rm.now()
	// A deleted rule, or one now past the cap, loses its run times.
	for label := range rm.observed {
		if _, ok := next[label]; !ok && label != OtherRule {
			rm.duration.DeleteLabelValues(label)
			delete(rm.observed, label)
		}
	}
}

// observe updates the per-rule metrics with an event: a run that ended on
// any agent moves the gauges at once; one this agent ran adds its run time
// to the histogram. A rule created or deleted has the rules read again at
// the next scrape.
func (rm *ruleMetrics) observe(e events.Event) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	switch e.Type {
	case api.EventRuleCreated, api.EventRuleDeleted:
		rm.readAt = time.Time{}
		if e.Type == api.EventRuleDeleted {
			delete(rm.rules, e.RuleName)
			if rm.observed[e.RuleName] {
				rm.duration.DeleteLabelValues(e.RuleName)
				delete(rm.observed, e.RuleName)
			}
		}
		return
	case api.EventRunFinished:
	default:
		return
	}
	r := e.Run
	if r == nil || !slices.Contains(store.HealthStatuses, r.Status) {
		return
	}
	s, own := rm.rules[r.Rule]
	if !own && rm.st != nil && len(rm.rules) < rm.limit {
		// A rule made since the last read, while there is room: it has
		// its series now, and the next read puts it in its place.
		own = true
	}
	if own {
		s.lastEnded = r.Status
		switch r.Status {
		case api.StatusSucceeded:
			s.lastSuccess = r.FinishedAt
		case api.StatusFailed:
			s.lastFailure = r.FinishedAt
		}
		rm.rules[r.Rule] = s
	}
	if !e.Local() || r.StartedAt.IsZero() || r.Node == "" {
		return // another agent counts the runs it ran
	}
	label := r.Rule
	if !own {
		label = OtherRule
	}
	rm.observed[label] = true
	rm.duration.WithLabelValues(label).Observe(r.FinishedAt.Sub(r.StartedAt).Seconds())
}
