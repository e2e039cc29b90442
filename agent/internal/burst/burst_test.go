package burst

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
)

func TestTargetMinuteIsTheFirstWholeMinuteAfterTheLead(t *testing.T) {
	t.Parallel()
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, tc := range []struct {
		now  string
		lead time.Duration
		want string
	}{
		{"2026-03-01T23:59:10Z", 20 * time.Second, "2026-03-02T00:00:00Z"}, // exactly on the minute: that one
		{"2026-03-01T23:59:10Z", 51 * time.Second, "2026-03-02T00:01:00Z"},
		{"2026-03-01T12:00:00.5Z", 0, "2026-03-01T12:01:00Z"},
		{"2026-03-01T13:30:00+01:00", 10 * time.Second, "2026-03-01T12:31:00Z"}, // UTC, as schedules are
	} {
		got := targetMinute(at(tc.now), tc.lead)
		if !got.Equal(at(tc.want)) || got.Location() != time.UTC {
			t.Errorf("targetMinute(%s, %s) = %s, want %s UTC", tc.now, tc.lead, got, tc.want)
		}
	}
	if got := leadTime(20 * time.Second); got != 40*time.Second {
		t.Errorf("leadTime(20s) = %s, want half as long again and 10 s: 40s", got)
	}
}

func TestDeliveryPlanRepeatsAShareOfTheEventsAfterTheirOriginal(t *testing.T) {
	t.Parallel()
	names := ruleNames(1000)
	plan := deliveryPlan(names, 0.05, 300, rand.New(rand.NewPCG(1, 2)))
	if len(plan) != 1050 {
		t.Fatalf("%d deliveries, want 1000 and 50 duplicates", len(plan))
	}
	firstAt := map[string]int{}
	perRule := map[string]int{}
	for i, d := range plan {
		perRule[d.rule]++
		if !d.duplicate {
			if _, seen := firstAt[d.eventID]; seen {
				t.Fatalf("two originals with event id %s", d.eventID)
			}
			firstAt[d.eventID] = i
			continue
		}
		orig, seen := firstAt[d.eventID]
		switch {
		case !seen:
			t.Errorf("delivery %d repeats event %s before its original", i, d.eventID)
		case plan[orig].rule != d.rule:
			t.Errorf("delivery %d repeats %s's event for rule %s", i, plan[orig].rule, d.rule)
		case i-orig > 300+50:
			t.Errorf("delivery %d repeats delivery %d: more than a second's worth later", i, orig)
		}
	}
	if len(firstAt) != 1000 || len(perRule) != 1000 {
		t.Errorf("%d distinct events for %d rules, want one per rule", len(firstAt), len(perRule))
	}
	if got := deliveryPlan(names[:3], 0, 300, rand.New(rand.NewPCG(1, 2))); len(got) != 3 || got[0].rule != "burst-0001" || got[2].rule != "burst-0003" {
		t.Errorf("no duplicates: %+v, want the three rules in order", got)
	}
}

func TestRuleNamesSortInOrder(t *testing.T) {
	t.Parallel()
	names := ruleNames(10_000)
	if names[0] != "burst-00001" || names[9999] != "burst-10000" || !slices.IsSorted(names) {
		t.Errorf("names %s ... %s, want burst-00001 ... burst-10000, sorted", names[0], names[9999])
	}
	for _, n := range names[:3] {
		if err := api.ValidRuleName(n); err != nil {
			t.Errorf("rule name %s: %v", n, err)
		}
	}
}

func TestPercentileIsTheNearestRank(t *testing.T) {
	t.Parallel()
	var d []time.Duration
	for i := 1; i <= 200; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[int]time.Duration{50: 100 * time.Millisecond, 99: 198 * time.Millisecond, 100: 200 * time.Millisecond, 0: time.Millisecond} {
		if got := percentile(d, p); got != want {
			t.Errorf("p%d of 1..200 ms = %s, want %s", p, got, want)
		}
	}
	if got := percentile(d[:1], 99); got != time.Millisecond {
		t.Errorf("p99 of one value = %s, want that value", got)
	}
}

func TestRunFiguresCountLostTwiceAndUnfinished(t *testing.T) {
	t.Parallel()
	origin := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	at := func(ms int) *time.Time { t := origin.Add(time.Duration(ms) * time.Millisecond); return &t }
	names := []string{"a", "b", "c", "d"}
	runs := []api.Run{
		{Rule: "a", Status: api.StatusSucceeded, CreatedAt: *at(100), StartedAt: at(100), FinishedAt: at(300)},
		{Rule: "b", Status: api.StatusFailed, CreatedAt: *at(200), StartedAt: at(200), FinishedAt: at(2500)},
		{Rule: "b", Status: api.StatusSucceeded, CreatedAt: *at(900), StartedAt: at(900), FinishedAt: at(1000)},
		{Rule: "d", Status: api.StatusRunning, CreatedAt: *at(50), StartedAt: at(50)}, // never finished
		{Rule: "someone-else", Status: api.StatusSucceeded, CreatedAt: *at(1), FinishedAt: at(9000)},
	}
	f := runFigures(names, runs, origin)
	want := RunFigures{
		Runs: 4, Finished: 3, ByStatus: map[string]int{"succeeded": 2, "failed": 1, "running": 1},
		Lost: 1, LostRules: []string{"c"}, Twice: 1, TwiceRules: []string{"b"}, UnfinishedRules: []string{"d"}, LastFinishedSeconds: 2.5,
	}
	if !equalJSON(t, f, want) {
		t.Errorf("runFigures:\n got %+v\nwant %+v", f, want)
	}

	s := startFigures(names, runs, origin)
	if s.Started != 3 || s.FirstStartMs != 50 || s.P50StartMs != 100 || s.LastStartMs != 200 {
		t.Errorf("startFigures: %+v, want 3 started (b's first run counts), first 50 ms, p50 100 ms, last 200 ms", s)
	}

	all := runFigures([]string{"a"}, runs[:1], origin)
	if !all.AllFinished || all.Lost != 0 || all.Twice != 0 {
		t.Errorf("one rule, one finished run: %+v, want all finished", all)
	}
}

func equalJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestChildEnvDropsTheCallersAgentAndAWSSettings(t *testing.T) {
	t.Parallel()
	env := childEnv([]string{"PATH=/bin", "JOBBRIDGE_DATABASE_URL=postgres://prod", "AWS_PROFILE=prod", "HOME=/h", "MY_AWS_THING=1"},
		map[string]string{"JOBBRIDGE_SCHEDULER": "off"})
	slices.Sort(env)
	want := []string{"HOME=/h", "JOBBRIDGE_SCHEDULER=off", "MY_AWS_THING=1", "PATH=/bin"}
	if !slices.Equal(env, want) {
		t.Errorf("childEnv = %q, want %q", env, want)
	}
}

func TestRetryableAsEventBridgeRetries(t *testing.T) {
	t.Parallel()
	for code, want := range map[string]bool{
		"timeout": true, "error": true, "401": true, "407": true, "409": true, "429": true, "500": true, "503": true,
		"200": false, "202": false, "400": false, "404": false, "413": false,
	} {
		if got := retryable(code); got != want {
			t.Errorf("retryable(%s) = %t, want %t", code, got, want)
		}
	}
}

// TestDelivererRetriesAndCountsDuplicates runs the deliverer against a
// webhook on loopback that refuses each event's first attempt with 503 and
// answers a repeated event as a duplicate.
func TestDelivererRetriesAndCountsDuplicates(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	tries := map[string]int{}
	runOf := map[string]string{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get(api.DefaultWebhookKeyHeader) != "the-key" || r.URL.Path != "/webhook/run" {
			http.Error(w, "wrong key or path", http.StatusUnauthorized)
			return
		}
		var d struct{ Rule, EventID, Time string }
		if err := json.NewDecoder(r.Body).Decode(&d); err != nil || d.Time != "2026-03-02T00:00:00Z" {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		tries[d.EventID]++
		if tries[d.EventID] == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		id, dup := runOf[d.EventID]
		if !dup {
			id = "run-" + d.Rule
			runOf[d.EventID] = id
			w.WriteHeader(http.StatusAccepted)
		}
		json.NewEncoder(w).Encode(api.WebhookResponse{RunID: id, Duplicate: dup})
	}))
	defer srv.Close()

	names := ruleNames(40)
	plan := deliveryPlan(names, 0.25, 1000, rand.New(rand.NewPCG(3, 4)))
	d := newDeliverer(srv.URL, "the-key", time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), time.Now().Add(time.Minute))
	d.firstBackoff = 10 * time.Millisecond
	outcomes, f := d.run(t.Context(), plan, 1000)

	if f.Deliveries != 50 || f.Duplicates != 10 || f.Undelivered != 0 {
		t.Errorf("deliveries %d, duplicates %d, undelivered %d; want 50, 10, 0", f.Deliveries, f.Duplicates, f.Undelivered)
	}
	// Each event's first attempt was refused, the original's or, when it
	// came first, the duplicate's: 40 refusals and 40 retries.
	if f.Answers["503"] != 40 || f.Retries != 40 || f.Attempts != 90 {
		t.Errorf("answers %v, %d attempts, %d retries; want 40 503s, 90 attempts, 40 retries", f.Answers, f.Attempts, f.Retries)
	}
	if f.AnsweredAsDuplicate != 10 || f.AnsweredNewTwice != 0 || !f.SameRun {
		t.Errorf("answered as duplicate %d, new twice %d, same run %t; want 10, 0, true", f.AnsweredAsDuplicate, f.AnsweredNewTwice, f.SameRun)
	}
	for i, o := range outcomes {
		if !o.ok || o.runID != "run-"+plan[i].rule {
			t.Errorf("delivery %d (%s): %+v, want answered with its rule's run", i, plan[i].rule, o)
		}
	}
	if f.P99Ms <= 0 || f.MaxMs < f.P99Ms || f.MaxInFlight < 1 {
		t.Errorf("latency p99 %.2f ms, max %.2f ms, in flight %d: want measured", f.P99Ms, f.MaxMs, f.MaxInFlight)
	}
}

// TestDuplicateFigures: a retry answered as a duplicate (its first attempt
// was recorded but answered too late) is no fault; an event answered as new
// twice, or with two runs, is.
func TestDuplicateFigures(t *testing.T) {
	t.Parallel()
	plan := []delivery{{rule: "a", eventID: "e1"}, {rule: "b", eventID: "e2"}, {rule: "a", eventID: "e1", duplicate: true}}
	for _, tc := range []struct {
		name     string
		outcomes []outcome
		asDup    int
		newTwice int
		sameRun  bool
		met      bool
	}{
		{"the repeat answered as a duplicate", []outcome{{true, "r1", false}, {true, "r2", false}, {true, "r1", true}}, 1, 0, true, true},
		{"a late-answered retry too", []outcome{{true, "r1", true}, {true, "r2", true}, {true, "r1", true}}, 3, 0, true, true},
		{"the repeat answered as new", []outcome{{true, "r1", false}, {true, "r2", false}, {true, "r1", false}}, 0, 1, true, false},
		{"the repeat answered with another run", []outcome{{true, "r1", false}, {true, "r2", false}, {true, "r3", true}}, 1, 0, false, false},
	} {
		d := newDeliverer("http://127.0.0.1:1", "k", time.Now(), time.Now())
		f := d.figures(plan, tc.outcomes, 300, time.Now(), time.Now())
		if f.Duplicates != 1 || f.AnsweredAsDuplicate != tc.asDup || f.AnsweredNewTwice != tc.newTwice || f.SameRun != tc.sameRun {
			t.Errorf("%s: duplicates %d, answered as duplicate %d, new twice %d, same run %t; want 1, %d, %d, %t",
				tc.name, f.Duplicates, f.AnsweredAsDuplicate, f.AnsweredNewTwice, f.SameRun, tc.asDup, tc.newTwice, tc.sameRun)
		}
		rep := Report{Mode: ModeEventBridge, EventBridge: &f}
		rep.evaluate()
		for _, target := range rep.Targets {
			if strings.HasPrefix(target.What, "every repeated event") && target.Met != tc.met {
				t.Errorf("%s: target %q met %t, want %t", tc.name, target.What, target.Met, tc.met)
			}
		}
	}
}

func TestDelivererGivesUpOnWhatEventBridgeDoesNotRetry(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no such rule", http.StatusNotFound)
	}))
	defer srv.Close()
	d := newDeliverer(srv.URL, "k", time.Now(), time.Now().Add(time.Minute))
	_, f := d.run(t.Context(), deliveryPlan(ruleNames(5), 0, 100, rand.New(rand.NewPCG(1, 1))), 100)
	if f.Undelivered != 5 || f.Retries != 0 || f.Answers["404"] != 5 {
		t.Errorf("answers %v, %d retries, %d undelivered; want five 404s, none retried, all undelivered", f.Answers, f.Retries, f.Undelivered)
	}
}

func TestDelivererSendsOpenLoopAtTheRate(t *testing.T) {
	t.Parallel()
	// Answers take 300 ms: a sender that waited for them would need 30 s
	// for 100 deliveries; at 200/s it sends them in half a second.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(300 * time.Millisecond)
		w.WriteHeader(http.StatusAccepted)
		w.Write([]byte(`{"runId":"r"}`))
	}))
	defer srv.Close()
	d := newDeliverer(srv.URL, "k", time.Now(), time.Now().Add(time.Minute))
	start := time.Now()
	_, f := d.run(t.Context(), deliveryPlan(ruleNames(100), 0, 200, rand.New(rand.NewPCG(1, 1))), 200)
	if f.SendSeconds < 0.45 || f.SendSeconds > 1.5 || time.Since(start) > 5*time.Second {
		t.Errorf("sent 100 at 200/s in %.2f s (all answered after %s), want about 0.5 s", f.SendSeconds, time.Since(start))
	}
	if f.MaxInFlight < 30 {
		t.Errorf("at most %d in flight, want about 60: the sender did not wait for answers", f.MaxInFlight)
	}
}

func TestSummarizeLogCountsWarningsAndErrors(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "agent.log")
	log := `time=2026-03-02T00:00:00Z level=INFO msg="jobbridge agent listening" url=http://127.0.0.1:1
time=2026-03-02T00:00:01Z level=WARN msg="cluster: relaying events fell behind; some were not relayed" dropped=3
time=2026-03-02T00:00:02Z level=WARN msg="cluster: relaying events fell behind; some were not relayed" dropped=1
time=2026-03-02T00:00:03Z level=ERROR msg=boom err="x"
`
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	got := summarizeLog(path)
	want := LogFigures{Warnings: 2, Errors: 1, Top: "cluster: relaying events fell behind; some were not relayed", TopCount: 2}
	if got != want {
		t.Errorf("summarizeLog = %+v, want %+v", got, want)
	}
	if got := summarizeLog(filepath.Join(t.TempDir(), "none")); got != (LogFigures{}) {
		t.Errorf("a missing log: %+v, want nothing counted", got)
	}
}

func TestReportTextSaysWhatWasMissed(t *testing.T) {
	t.Parallel()
	rep := &Report{
		Mode: ModeEventBridge, Store: "postgres", Database: "jobbridge_burst_00", Rules: 3, Job: "demo",
		JobParams: map[string]string{"steps": "1", "duration": "0s"},
		EventBridge: &DeliveryFigures{
			Rate: 300, Deliveries: 4, Duplicates: 1, AnsweredAsDuplicate: 1, SameRun: true, Attempts: 5, Retries: 1,
			Answers: map[string]int{"202": 3, "200": 1, "503": 1}, P50Ms: 2, P99Ms: 80, MaxMs: 80,
		},
		Runs: RunFigures{Runs: 3, Finished: 3, ByStatus: map[string]int{"succeeded": 3}, AllFinished: true, LastFinishedSeconds: 1.5},
	}
	rep.evaluate()
	var b strings.Builder
	if err := rep.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"mode eventbridge, store postgres (scratch database jobbridge_burst_00), job demo duration=0s steps=1",
		"answers: 200 1, 202 3, 503 1; 5 attempts, 1 retries, 0 undelivered",
		"answer latency: p50 2.0 ms, p99 80.0 ms, max 80.0 ms",
		"MISSED answers' p99 under 50ms: 80.0 ms",
		"met    every delivery answered within 5s",
		"met    none twice: 0",
		"all finished 1.5 s after the first delivery",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestRunRefusesNonsense(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "no agent executable"},
		{Config{Agent: "x", Mode: "cron"}, `mode "cron"`},
		{Config{Agent: "x", Rules: -1}, "rules -1"},
		{Config{Agent: "x", Duplicates: 0.9}, "duplicates 0.9"},
	} {
		_, err := Run(context.Background(), tc.cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run(%+v): %v, want an error saying %q", tc.cfg, err, tc.want)
		}
	}
}
