package agent_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// scrape reads the agent's /metrics into series → value, a series written
// as Prometheus writes it: name{label="value",...} with labels by name.
func scrape(t *testing.T, ta *testAgent) map[string]float64 {
	t.Helper()
	resp, err := http.Get(ta.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// ruleSeries lists the series that name rule.
func ruleSeries(m map[string]float64, rule string) []string {
	var out []string
	for k := range m {
		if strings.Contains(k, `rule="`+rule+`"`) {
			out = append(out, k)
		}
	}
	return out
}

func unixSeconds(t *time.Time) float64 { return float64(t.UnixMicro()) / 1e6 }

// TestPerRuleMetrics: a rule's last success, last failure, last status
// and run times are in /metrics, for the first rules by name up to the
// cap; a rule past it has no series of its own (its run times go to
// rule="_other") and is counted; a deleted rule's series go.
func TestPerRuleMetrics(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite", func(c *agent.Config) { c.MetricsRuleSeries = 2 })
	ctx := context.Background()
	for _, name := range []string{"a", "b", "c"} {
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: name, Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "10ms", "steps": "1"}}); err != nil {
			t.Fatal(err)
		}
	}
	// Scraped once before the runs: the gauges come from the store, and
	// the runs' finishes must move them.
	if m := scrape(t, ta); m[`jobbridge_rule_last_success_timestamp_seconds{rule="a"}`] != 0 || m[`jobbridge_rules_without_series`] != 1 {
		t.Fatalf("before any run: %v", m)
	}
	runRule := func(name, fail string) api.Run {
		run, err := ta.admin.TriggerRuleWith(ctx, name, api.RunParams{Parameters: map[string]string{"fail": fail}})
		if err != nil {
			t.Fatal(err)
		}
		return ta.waitRun(t, run.ID, api.StatusSucceeded, api.StatusFailed)
	}
	ok := runRule("a", "false")
	bad := runRule("a", "true")
	runRule("c", "false")
	want := map[string]float64{
		`jobbridge_rule_last_success_timestamp_seconds{rule="a"}`:        unixSeconds(ok.FinishedAt),
		`jobbridge_rule_last_failure_timestamp_seconds{rule="a"}`:        unixSeconds(bad.FinishedAt),
		`jobbridge_rule_last_status{rule="a",status="failed"}`:           1,
		`jobbridge_rule_last_status{rule="a",status="succeeded"}`:        0,
		`jobbridge_rule_run_duration_seconds_count{rule="a"}`:            2,
		`jobbridge_rule_run_duration_seconds_count{rule="_other"}`:       1,
		`jobbridge_rule_last_success_timestamp_seconds{rule="b"}`:        0,
		`jobbridge_rule_run_duration_seconds_bucket{rule="a",le="+Inf"}`: 2,
		`jobbridge_rules_without_series`:                                 1,
	}
	var m map[string]float64
	wait.For(t, 5*time.Second, func() (bool, string) {
		m = scrape(t, ta)
		for k, v := range want {
			if got, ok := m[k]; !ok || got != v {
				return false, fmt.Sprintf("%s = %v (present %v), want %v", k, got, ok, v)
			}
		}
		return true, ""
	})
	if s := ruleSeries(m, "c"); len(s) != 0 {
		t.Errorf("rule c is past the cap of 2 and has series: %v", s)
	}
	if s := ruleSeries(m, "b"); len(s) != 2 {
		t.Errorf("rule b, never run, has %v; want its two timestamps (0) only", s)
	}
	if err := ta.admin.DeleteRule(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	wait.For(t, 5*time.Second, func() (bool, string) {
		m = scrape(t, ta)
		s := ruleSeries(m, "a")
		return len(s) == 0, fmt.Sprintf("deleted rule a still has %v", s)
	})
	// With a gone, c is within the cap: its series come from the store.
	if _, ok := m[`jobbridge_rule_last_status{rule="c",status="succeeded"}`]; !ok || m[`jobbridge_rules_without_series`] != 0 {
		t.Errorf("after a's delete, c has no series of its own or rules are still counted without: %v", ruleSeries(m, "c"))
	}
}

// TestRuleMetricsAreTheSameOnEveryAgent: an alert on "this rule has not
// succeeded for a day" must not depend on which agent is scraped, so every
// agent of a cluster exports the last success of runs another agent ran;
// the run times are only the agent's own.
func TestRuleMetricsAreTheSameOnEveryAgent(t *testing.T) {
	t.Parallel()
	_, agents := startCluster(t, 2)
	ctx := context.Background()
	if _, err := agents[0].admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "10ms", "steps": "1"}}); err != nil {
		t.Fatal(err)
	}
	scrape(t, agents[1]) // agent-1 has read the rules before the run
	run, err := agents[0].admin.TriggerRule(ctx, "r", nil)
	if err != nil {
		t.Fatal(err)
	}
	fin := agents[0].waitRun(t, run.ID, api.StatusSucceeded)
	key := `jobbridge_rule_last_success_timestamp_seconds{rule="r"}`
	for _, ta := range agents {
		wait.For(t, 5*time.Second, func() (bool, string) {
			m := scrape(t, ta)
			return m[key] == unixSeconds(fin.FinishedAt), fmt.Sprintf("%s: %s = %v, want %v", ta.URL(), key, m[key], unixSeconds(fin.FinishedAt))
		})
	}
	ran := agents[0]
	if fin.Node != "agent-0" {
		ran = agents[1]
	}
	for _, ta := range agents {
		n := scrape(t, ta)[`jobbridge_rule_run_duration_seconds_count{rule="r"}`]
		if want := map[bool]float64{true: 1, false: 0}[ta == ran]; n != want {
			t.Errorf("%s counts %v run times of r, want %v (it ran on %s)", ta.URL(), n, want, fin.Node)
		}
	}
}
