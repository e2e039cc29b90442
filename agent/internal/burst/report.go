package burst

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
)

// Report is what one burst measured. Durations are in milliseconds (Ms) or
// seconds (Seconds), as floats; times are UTC.
type Report struct {
	Mode         Mode              `json:"mode"`
	Store        string            `json:"store"`              // sqlite or postgres
	Database     string            `json:"database,omitempty"` // the scratch database, on PostgreSQL
	AgentVersion string            `json:"agentVersion"`
	Rules        int               `json:"rules"`
	Job          string            `json:"job"`
	JobParams    map[string]string `json:"jobParams"`
	// CreateSeconds is how long creating the rules took (POST /api/v1/rules,
	// createWorkers at a time).
	CreateSeconds float64 `json:"createSeconds"`

	Local       *LocalFigures    `json:"local,omitempty"`
	EventBridge *DeliveryFigures `json:"eventbridge,omitempty"`
	Runs        RunFigures       `json:"runs"`
	AgentLog    LogFigures       `json:"agentLog"`
	Targets     []Target         `json:"targets"`
	// TempDir is the temporary directory, when kept.
	TempDir string `json:"tempDir,omitempty"`
}

// LocalFigures are local mode's: when the agent's scheduler started the
// runs, after the minute every rule fires at (each run's startedAt as the
// agent recorded it, minus the minute).
type LocalFigures struct {
	Minute time.Time `json:"minute"`
	// CreatedBeforeSeconds is how long before the minute the last rule
	// was created.
	CreatedBeforeSeconds float64 `json:"createdBeforeSeconds"`
	Started              int     `json:"started"` // rules whose run started
	FirstStartMs         float64 `json:"firstStartMs"`
	P50StartMs           float64 `json:"p50StartMs"`
	P99StartMs           float64 `json:"p99StartMs"`
	LastStartMs          float64 `json:"lastStartMs"`
}

// DeliveryFigures are eventbridge mode's: the harness's deliveries to
// POST /webhook/run and the agent's answers.
type DeliveryFigures struct {
	Rate int `json:"rate"` // deliveries per second, open loop
	// Deliveries is how many deliveries were made: one per rule and the
	// duplicates; retries are not counted here.
	Deliveries int `json:"deliveries"`
	// Duplicates is how many deliveries repeated an earlier one's event
	// id. AnsweredAsDuplicate is how many 2xx answers said "duplicate":
	// one per repeat, and more when the agent recorded an attempt whose
	// answer came too late and its retry was answered as a duplicate.
	// AnsweredNewTwice counts the events answered as new (not duplicate)
	// more than once: 0 when the agent recognised every repeat.
	Duplicates          int `json:"duplicates"`
	AnsweredAsDuplicate int `json:"answeredAsDuplicate"`
	AnsweredNewTwice    int `json:"answeredNewTwice"`
	// SameRun is false if an event's answers named different runs.
	SameRun bool `json:"sameRun"`
	// Attempts counts the requests sent, retries included; Retries the
	// retries alone (after an answer other than 2xx, a timeout or an error).
	Attempts int `json:"attempts"`
	Retries  int `json:"retries"`
	// Answers counts attempts by HTTP status; "timeout" are attempts not
	// answered within 5 s (EventBridge's limit), "error" those that failed
	// otherwise (connection refused or reset).
	Answers map[string]int `json:"answers"`
	// Undelivered is how many deliveries never got a 2xx answer.
	Undelivered int `json:"undelivered"`
	// Latency of the answered attempts, from sending the request to
	// reading the whole answer.
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
	MaxMs float64 `json:"maxMs"`
	// SendSeconds is from the first delivery to the last one sent (at the
	// rate, about deliveries/rate); MaxInFlight the most requests awaiting
	// an answer at once (capped at maxInFlight).
	SendSeconds float64 `json:"sendSeconds"`
	MaxInFlight int     `json:"maxInFlight"`
	// FirstAt is when the first delivery was sent.
	FirstAt time.Time `json:"firstAt"`
}

// RunFigures are what became of the rules' runs, read back through the API.
type RunFigures struct {
	Runs     int            `json:"runs"`     // runs recorded for the rules
	Finished int            `json:"finished"` // runs in a terminal state
	ByStatus map[string]int `json:"byStatus"` // every run by status
	Lost     int            `json:"lost"`     // rules with no run
	Twice    int            `json:"twice"`    // rules with more than one run
	// LostRules, TwiceRules and UnfinishedRules (rules with a run still
	// active) name up to 10 of each.
	LostRules       []string `json:"lostRules,omitempty"`
	TwiceRules      []string `json:"twiceRules,omitempty"`
	UnfinishedRules []string `json:"unfinishedRules,omitempty"`
	// AllFinished: every rule has a run and every run is finished.
	AllFinished bool `json:"allFinished"`
	// LastFinishedSeconds is the latest finishedAt after the origin (the
	// minute, or the first delivery).
	LastFinishedSeconds float64 `json:"lastFinishedSeconds"`
	// WaitedSeconds is how long the harness waited for the runs after the
	// burst; TimedOut says it gave up before they were all finished.
	WaitedSeconds float64 `json:"waitedSeconds"`
	TimedOut      bool    `json:"timedOut"`
}

// LogFigures sum up the agent's log: warnings and errors, and the most
// frequent of their messages.
type LogFigures struct {
	Warnings int    `json:"warnings"`
	Errors   int    `json:"errors"`
	Top      string `json:"top,omitempty"`
	TopCount int    `json:"topCount,omitempty"`
}

// Target is one of issue 14's targets and whether this burst met it.
type Target struct {
	What  string `json:"what"`
	Value string `json:"value"`
	Met   bool   `json:"met"`
}

// The targets' thresholds.
const (
	localStartTarget = 30 * time.Second      // every run started this soon after the minute
	answerTarget     = 5 * time.Second       // every delivery answered within (EventBridge's limit)
	answerP99Target  = 50 * time.Millisecond // p99 of the answers
	maxListed        = 10                    // rule names listed per problem
)

// runFigures counts the runs of names; times are relative to origin.
func runFigures(names []string, runs []api.Run, origin time.Time) RunFigures {
	f := RunFigures{ByStatus: map[string]int{}}
	perRule := make(map[string]int, len(names))
	for _, n := range names {
		perRule[n] = 0
	}
	var last time.Time
	for _, r := range runs {
		if _, ours := perRule[r.Rule]; !ours {
			continue
		}
		perRule[r.Rule]++
		f.Runs++
		f.ByStatus[string(r.Status)]++
		if r.Status.Terminal() {
			f.Finished++
		} else if len(f.UnfinishedRules) < maxListed {
			f.UnfinishedRules = append(f.UnfinishedRules, r.Rule)
		}
		if r.FinishedAt != nil && r.FinishedAt.After(last) {
			last = *r.FinishedAt
		}
	}
	for _, n := range names {
		switch c := perRule[n]; {
		case c == 0:
			f.Lost++
			if len(f.LostRules) < maxListed {
				f.LostRules = append(f.LostRules, n)
			}
		case c > 1:
			f.Twice++
			if len(f.TwiceRules) < maxListed {
				f.TwiceRules = append(f.TwiceRules, n)
			}
		}
	}
	f.AllFinished = f.Lost == 0 && f.Finished == f.Runs
	if !last.IsZero() {
		f.LastFinishedSeconds = seconds(last.Sub(origin))
	}
	return f
}

// startFigures are local mode's start delays: each rule's first run's
// start after the minute.
func startFigures(names []string, runs []api.Run, minute time.Time) LocalFigures {
	f := LocalFigures{Minute: minute}
	first := make(map[string]time.Time, len(names))
	for _, n := range names {
		first[n] = time.Time{}
	}
	for _, r := range runs {
		t, ours := first[r.Rule]
		if !ours {
			continue
		}
		start := r.CreatedAt
		if r.StartedAt != nil {
			start = *r.StartedAt
		}
		if t.IsZero() || start.Before(t) {
			first[r.Rule] = start
		}
	}
	var delays []time.Duration
	for _, t := range first {
		if !t.IsZero() {
			delays = append(delays, t.Sub(minute))
		}
	}
	f.Started = len(delays)
	if len(delays) > 0 {
		slices.Sort(delays)
		f.FirstStartMs = ms(delays[0])
		f.P50StartMs = ms(percentile(delays, 50))
		f.P99StartMs = ms(percentile(delays, 99))
		f.LastStartMs = ms(delays[len(delays)-1])
	}
	return f
}

// percentile is the nearest-rank percentile p of sorted, which is not empty.
func percentile(sorted []time.Duration, p int) time.Duration {
	rank := (p*len(sorted) + 99) / 100 // ceil(p/100 × n)
	return sorted[max(rank, 1)-1]
}

func ms(d time.Duration) float64      { return float64(d.Microseconds()) / 1000 }
func seconds(d time.Duration) float64 { return float64(d.Milliseconds()) / 1000 }

// evaluate sets the targets of the report's mode.
func (r *Report) evaluate() {
	run := r.Runs
	r.Targets = nil
	add := func(what, value string, met bool) {
		r.Targets = append(r.Targets, Target{What: what, Value: value, Met: met})
	}
	switch r.Mode {
	case ModeLocal:
		l := r.Local
		add(fmt.Sprintf("every run started within %s of the minute", localStartTarget),
			fmt.Sprintf("%d of %d started, the last %.1f s after it", l.Started, r.Rules, l.LastStartMs/1000),
			l.Started == r.Rules && l.LastStartMs <= float64(localStartTarget.Milliseconds()))
	case ModeEventBridge:
		d := r.EventBridge
		late := d.Answers["timeout"] + d.Answers["error"]
		add(fmt.Sprintf("every delivery answered within %s", answerTarget),
			fmt.Sprintf("max %.1f ms, %d attempts unanswered, %d undelivered", d.MaxMs, late, d.Undelivered),
			late == 0 && d.Undelivered == 0 && d.MaxMs < float64(answerTarget.Milliseconds()))
		add(fmt.Sprintf("answers' p99 under %s", answerP99Target), fmt.Sprintf("%.1f ms", d.P99Ms),
			d.P99Ms < float64(answerP99Target.Milliseconds()))
		add("every repeated event answered as a duplicate, with its first run",
			fmt.Sprintf("%d repeats, %d answers said duplicate, %d events answered as new twice, same run: %t",
				d.Duplicates, d.AnsweredAsDuplicate, d.AnsweredNewTwice, d.SameRun),
			d.AnsweredNewTwice == 0 && d.SameRun)
	}
	add("every run finished", fmt.Sprintf("%d of %d rules' runs", run.Finished, r.Rules), run.AllFinished)
	add("none lost", fmt.Sprint(run.Lost), run.Lost == 0)
	add("none twice", fmt.Sprint(run.Twice), run.Twice == 0)
}

// WriteText writes the report for a reader.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	params := make([]string, 0, len(r.JobParams))
	for _, k := range slices.Sorted(maps.Keys(r.JobParams)) {
		params = append(params, k+"="+r.JobParams[k])
	}
	store := r.Store
	if r.Database != "" {
		store += " (scratch database " + r.Database + ")"
	}
	p("midnight burst: %d rules, mode %s, store %s, job %s %s, agent %s", r.Rules, r.Mode, store, r.Job, strings.Join(params, " "), r.AgentVersion)
	switch r.Mode {
	case ModeLocal:
		l := r.Local
		p("  the agent's own scheduler fires every rule at %s", l.Minute.Format("15:04 UTC"))
		p("rules created in %.1f s, %.1f s before the minute", r.CreateSeconds, l.CreatedBeforeSeconds)
		p("starts: %d of %d rules; after the minute: first %.2f s, p50 %.2f s, p99 %.2f s, last %.2f s",
			l.Started, r.Rules, l.FirstStartMs/1000, l.P50StartMs/1000, l.P99StartMs/1000, l.LastStartMs/1000)
	case ModeEventBridge:
		d := r.EventBridge
		p("  the harness delivers as EventBridge's API destination does (POST /webhook/run, the path")
		p("  EventBridge's deliveries take); the agent's scheduler is off")
		p("rules created in %.1f s", r.CreateSeconds)
		p("deliveries: %d (%d duplicates) at %d/s, open loop, sent in %.1f s, at most %d in flight",
			d.Deliveries, d.Duplicates, d.Rate, d.SendSeconds, d.MaxInFlight)
		p("answers: %s; %d attempts, %d retries, %d undelivered", formatCounts(d.Answers), d.Attempts, d.Retries, d.Undelivered)
		p("answer latency: p50 %.1f ms, p99 %.1f ms, max %.1f ms", d.P50Ms, d.P99Ms, d.MaxMs)
		p("duplicates: %d repeats, %d answers said duplicate, %d events answered as new twice (same run: %t)",
			d.Duplicates, d.AnsweredAsDuplicate, d.AnsweredNewTwice, d.SameRun)
	}
	run := r.Runs
	origin := "the minute"
	if r.Mode == ModeEventBridge {
		origin = "the first delivery"
	}
	p("runs: %d, finished %d (%s); lost %d, twice %d", run.Runs, run.Finished, formatCounts(run.ByStatus), run.Lost, run.Twice)
	if len(run.LostRules) > 0 {
		p("  lost, for example: %s", strings.Join(run.LostRules, " "))
	}
	if len(run.TwiceRules) > 0 {
		p("  twice, for example: %s", strings.Join(run.TwiceRules, " "))
	}
	if len(run.UnfinishedRules) > 0 {
		p("  not finished, for example: %s", strings.Join(run.UnfinishedRules, " "))
	}
	if run.AllFinished {
		p("all finished %.1f s after %s", run.LastFinishedSeconds, origin)
	} else {
		p("NOT all finished: the last finish recorded was %.1f s after %s (waited %.0f s, timed out: %t)", run.LastFinishedSeconds, origin, run.WaitedSeconds, run.TimedOut)
	}
	p("agent log: %d warnings, %d errors", r.AgentLog.Warnings, r.AgentLog.Errors)
	if r.AgentLog.Top != "" {
		p("  most frequent (%d×): %s", r.AgentLog.TopCount, r.AgentLog.Top)
	}
	p("targets:")
	for _, t := range r.Targets {
		mark := "met   "
		if !t.Met {
			mark = "MISSED"
		}
		p("  %s %s: %s", mark, t.What, t.Value)
	}
	if r.TempDir != "" {
		p("kept: %s (agent.log, data/)", r.TempDir)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// formatCounts is "k1 n1, k2 n2" in key order, or "none".
func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "none"
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}
