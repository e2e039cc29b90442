package server

import (
	"context"
	"fmt"
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

// ruleState is what the per-rule gauges show of one rule: the ends of its
// runs that finished last, as store.RuleHealth has them.
type ruleState struct {
	lastSuccess, lastFailure time.Time
	lastEnded                api.RunStatus // "" before the first run that ended
	lastEndedAt              time.Time
}

// ended is s after a run of the rule ended in status at at: each value
// moves only to a later end (see store.EndedLater), so an end reported
// after a later one, or read again, changes nothing.
func (s ruleState) ended(status api.RunStatus, at time.Time) ruleState {
	switch status {
	case api.StatusSucceeded:
		if at.After(s.lastSuccess) {
			s.lastSuccess = at
		}
	case api.StatusFailed:
		if at.After(s.lastFailure) {
			s.lastFailure = at
		}
	}
	if store.EndedLater(status, at, s.lastEnded, s.lastEndedAt) {
		s.lastEnded, s.lastEndedAt = status, at
	}
	return s
}

// merge is s with the later of each of its ends and o's.
func (s ruleState) merge(o ruleState) ruleState {
	if o.lastSuccess.After(s.lastSuccess) {
		s.lastSuccess = o.lastSuccess
	}
	if o.lastFailure.After(s.lastFailure) {
		s.lastFailure = o.lastFailure
	}
	if store.EndedLater(o.lastEnded, o.lastEndedAt, s.lastEnded, s.lastEndedAt) {
		s.lastEnded, s.lastEndedAt = o.lastEnded, o.lastEndedAt
	}
	return s
}

// ruleMetrics are the per-rule metrics. The gauges (last success, last
// failure, last status) are the store's truth, the same on every agent of
// a cluster, so an alert on any agent's value sees every agent's runs.
// The run-time histogram counts the runs this agent ran, as every
// histogram does: sum it across the agents.
//
// The store is read without mu held: observe, which the metrics' event
// subscriber calls for every event, must never wait for a read (a
// subscriber that stops reading is dropped, and every counter loses
// events). What the events say during a read is kept aside and laid over
// the read's answer, which may be from before them.
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
	// While a read is under way (reading): the ends observed since it
	// began, the rules deleted since, and whether rules were created or
	// deleted (the answer may lack them: read again at the next scrape).
	reading      bool
	readEnds     map[string]ruleState
	readDeleted  map[string]bool
	rulesChanged bool
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
// read, read again first when that was more than ruleSnapshotMaxAge ago
// (by one scrape at a time: another scrape meanwhile shows the values
// before the read).
func (rm *ruleMetrics) Collect(ch chan<- prometheus.Metric) {
	rm.mu.Lock()
	if rm.st != nil && !rm.reading && rm.now().Sub(rm.readAt) >= ruleSnapshotMaxAge {
		rm.reading, rm.rulesChanged = true, false
		rm.readEnds, rm.readDeleted = map[string]ruleState{}, map[string]bool{}
		rm.mu.Unlock()
		snap, err := rm.read()
		rm.mu.Lock()
		if err != nil {
			rm.refreshErrs.Inc()
		} else {
			rm.swapLocked(snap)
		}
		rm.reading, rm.readEnds, rm.readDeleted = false, nil, nil
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

// ruleSnapshot is one read of the rules' gauges from the store.
type ruleSnapshot struct {
	rules   map[string]ruleState
	omitted int
	at      time.Time
}

// read reads the rules and their health from the store, without mu.
func (rm *ruleMetrics) read() (ruleSnapshot, error) {
	ctx, cancel := context.WithTimeout(context.Background(), ruleSnapshotTimeout)
	defer cancel()
	at := rm.now()
	rules, err := rm.st.RuleList(ctx)
	if err != nil {
		return ruleSnapshot{}, fmt.Errorf("read the rules for their metrics: %w", err)
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
		return ruleSnapshot{}, fmt.Errorf("read the rules' health for their metrics: %w", err)
	}
	snap := ruleSnapshot{rules: make(map[string]ruleState, len(names)), omitted: omitted, at: at}
	for _, n := range names {
		h := health[n]
		snap.rules[n] = ruleState{lastSuccess: h.LastSuccess, lastFailure: h.LastFailure, lastEnded: h.LastEnded, lastEndedAt: h.LastEndedAt}
	}
	return snap, nil
}

// swapLocked makes snap the rules' gauges, with what the events said
// during the read laid over it (the read may be from before them).
func (rm *ruleMetrics) swapLocked(snap ruleSnapshot) {
	next := snap.rules
	for name := range rm.readDeleted {
		delete(next, name)
	}
	for name, e := range rm.readEnds {
		if s, ok := next[name]; ok {
			next[name] = s.merge(e)
		} else if !rm.readDeleted[name] && len(next) < rm.limit {
			next[name] = e // made during the read, with room, as observe does
		}
	}
	rm.rules, rm.omitted, rm.readAt = next, snap.omitted, snap.at
	if rm.rulesChanged {
		rm.readAt = time.Time{}
	}
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
		rm.readAt, rm.rulesChanged = time.Time{}, true
		if e.Type == api.EventRuleDeleted {
			delete(rm.rules, e.RuleName)
			if rm.reading {
				rm.readDeleted[e.RuleName] = true
				delete(rm.readEnds, e.RuleName)
			}
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
		rm.rules[r.Rule] = s.ended(r.Status, r.FinishedAt)
		if rm.reading {
			rm.readEnds[r.Rule] = rm.readEnds[r.Rule].ended(r.Status, r.FinishedAt)
		}
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
