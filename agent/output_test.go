package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// runOutputJob triggers the output command job with params and waits for
// the run to end.
func runOutputJob(t *testing.T, ta *testAgent, params map[string]string) api.Run {
	t.Helper()
	ctx := context.Background()
	if _, err := ta.admin.Rule(ctx, "out"); err != nil {
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "out", Job: "output", Schedule: "rate(1 day)", Overlap: api.OverlapAllow}); err != nil {
			t.Fatal(err)
		}
	}
	run, err := ta.admin.TriggerRule(ctx, "out", params)
	if err != nil {
		t.Fatal(err)
	}
	return ta.waitRun(t, run.ID, api.StatusSucceeded, api.StatusFailed)
}

// getJSON answers GET path as the admin, decoded into a map of raw values.
func getJSON(t *testing.T, ta *testAgent, path string) map[string]json.RawMessage {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ta.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+ta.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]json.RawMessage
	if err := json.Unmarshal(b, &out); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s (%v)", path, resp.StatusCode, b, err)
	}
	return out
}

func sameJSON(a, b []byte) bool {
	var ca, cb bytes.Buffer
	return json.Compact(&ca, a) == nil && json.Compact(&cb, b) == nil && bytes.Equal(ca.Bytes(), cb.Bytes())
}

func TestACommandJobsOutputIsTheRunsOutput(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		run := runOutputJob(t, ta, map[string]string{"output": `{"rows": 3, "files": ["a.gz", "b.gz"], "note": "caf\u00e9"}`})
		if run.Status != api.StatusSucceeded || !sameJSON(run.Output, []byte(`{"files":["a.gz","b.gz"],"note":"café","rows":3}`)) {
			t.Errorf("run %s (%q) has output %s, want the program's", run.Status, run.Error, run.Output)
		}
		// On the wire it is a JSON value, not a string holding one.
		raw := getJSON(t, ta, "/api/v1/runs/"+run.ID)
		if out := raw["output"]; len(out) == 0 || out[0] != '{' {
			t.Errorf("GET /runs/{id} answers output %s, want a JSON object", out)
		}
		// The log's follow stream ends with run.finished, output and all.
		req, _ := http.NewRequest(http.MethodGet, ta.URL()+"/api/v1/runs/"+run.ID+"/log?follow=1", nil)
		req.Header.Set("Authorization", "Bearer "+ta.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		followed, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !bytes.Contains(followed, []byte(`"output":{"files":["a.gz","b.gz"],"note":"café","rows":3}`)) {
			t.Errorf("the log's follow stream does not end with the output:\n%s", followed)
		}
		// Lists never carry it.
		list := getJSON(t, ta, "/api/v1/runs?rule=out")
		var items []map[string]json.RawMessage
		if err := json.Unmarshal(list["items"], &items); err != nil || len(items) != 1 || items[0]["output"] != nil {
			t.Errorf("GET /runs: %s (%v); want the run without its output", list["items"], err)
		}
		page, err := ta.admin.Runs(context.Background(), api.RunQuery{Rule: "out"})
		if err != nil || len(page.Items) != 1 || page.Items[0].Output != nil {
			t.Errorf("GET /runs: %+v %v; want the run without its output", page.Items, err)
		}
	})
}

func TestRunOutputEdgesThroughTheAgent(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	limit := strconv.Itoa(api.MaxOutputBytes)
	over := strconv.Itoa(api.MaxOutputBytes + 1)
	tests := []struct {
		name      string
		params    map[string]string
		status    api.RunStatus
		errHas    string
		outputLen int // 0: no output
	}{
		{"none", map[string]string{}, api.StatusSucceeded, "", 0},
		{"a failing program keeps its output", map[string]string{"output": `{"why":"disk full"}`, "exit": "3"}, api.StatusFailed, "command exited with status 3", len(`{"why":"disk full"}`)},
		{"not JSON", map[string]string{"output": "rows=3"}, api.StatusFailed, "the output file is not JSON", 0},
		{"exactly 64 KiB", map[string]string{"size": limit}, api.StatusSucceeded, "", api.MaxOutputBytes},
		{"over 64 KiB", map[string]string{"size": over}, api.StatusFailed, "the output file holds more than 65536 bytes", 0},
	}
	for _, tt := range tests {
		run := runOutputJob(t, ta, tt.params)
		if run.Status != tt.status || !strings.Contains(run.Error, tt.errHas) {
			t.Errorf("%s: run %s with error %q, want %s with an error saying %q", tt.name, run.Status, run.Error, tt.status, tt.errHas)
		}
		if len(run.Output) != tt.outputLen {
			t.Errorf("%s: output of %d bytes, want %d", tt.name, len(run.Output), tt.outputLen)
		}
		if raw := getJSON(t, ta, "/api/v1/runs/"+run.ID); tt.outputLen == 0 && raw["output"] != nil {
			t.Errorf("%s: GET /runs/{id} answers output %.80s, want none", tt.name, raw["output"])
		}
	}
}

// A run shows the runs its chains started, oldest first, and a chained run
// its parent; GET /runs?parent= lists the chained runs.
func TestARunShowsItsChainBothWays(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		s := ta.Store()
		mk := func(rule string, trigger api.Trigger, parent string) store.Run {
			r, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: store.Run{Rule: rule, Job: "demo", Trigger: trigger, ParentRun: parent, ChainDepth: min(len(parent), 1)}})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		parent := mk("nightly", api.TriggerSchedule, "")
		first := mk("report", api.TriggerChain, parent.ID)
		second := mk("cleanup", api.TriggerChain, parent.ID)
		mk("unrelated", api.TriggerManual, "")
		if _, err := s.RunFinish(ctx, store.RunFinishParams{ID: first.ID, Status: api.StatusSucceeded, FinishedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
		// A retry of a chained run keeps its parent, but is no run the
		// parent's chains started: it shows among its first attempt's.
		retry, _, err := s.RunCreate(ctx, store.RunCreateParams{Run: store.Run{Rule: "cleanup", Job: "demo", Trigger: api.TriggerRetry,
			ParentRun: parent.ID, ChainDepth: 1, RetryOf: second.ID, Attempt: 2}})
		if err != nil {
			t.Fatal(err)
		}

		got, err := ta.admin.Run(ctx, parent.ID)
		if err != nil {
			t.Fatal(err)
		}
		var chained []string
		for _, c := range got.Chained {
			chained = append(chained, c.ID+" "+string(c.Status))
		}
		if want := []string{first.ID + " succeeded", second.ID + " running"}; !slices.Equal(chained, want) {
			t.Errorf("the parent's chained runs: %v, want %v (oldest first)", chained, want)
		}
		if got.ParentRun != "" {
			t.Errorf("the parent has parentRun %q", got.ParentRun)
		}
		child, err := ta.admin.Run(ctx, second.ID)
		if err != nil {
			t.Fatal(err)
		}
		if child.ParentRun != parent.ID || child.Trigger != api.TriggerChain || child.Chained != nil {
			t.Errorf("the chained run: parentRun %q trigger %q chained %v; want %q chain none", child.ParentRun, child.Trigger, child.Chained, parent.ID)
		}

		page, err := ta.admin.Runs(ctx, api.RunQuery{Parent: parent.ID})
		if err != nil {
			t.Fatal(err)
		}
		var listed []string
		for _, r := range page.Items {
			listed = append(listed, r.ID)
			if r.ParentRun != parent.ID {
				t.Errorf("GET /runs?parent= lists %s with parentRun %q", r.ID, r.ParentRun)
			}
		}
		if want := []string{retry.ID, second.ID, first.ID}; !slices.Equal(listed, want) {
			t.Errorf("GET /runs?parent=: %v, want %v (newest first, the retry too)", listed, want)
		}
		page, err = ta.admin.Runs(ctx, api.RunQuery{Trigger: api.TriggerChain})
		if err != nil || len(page.Items) != 2 {
			t.Errorf("GET /runs?trigger=chain: %d runs, %v; want the 2 chained", len(page.Items), err)
		}
		_, err = ta.admin.Runs(ctx, api.RunQuery{Trigger: "domino"})
		wantStatus(t, err, http.StatusBadRequest, "GET /runs?trigger=domino")
		if err == nil || !strings.Contains(err.Error(), "catchup or chain") {
			t.Errorf("GET /runs?trigger=domino: %v, want the triggers listed, chain among them", err)
		}
	})
}

// An output of 64 KiB does not fit a NOTIFY: the other agents read the
// finished run back and their streams still carry its whole output.
func TestAnOutputOf64KiBReachesEveryAgentsStream(t *testing.T) {
	t.Parallel()
	_, agents := startCluster(t, 2)
	ctx := context.Background()
	if _, err := agents[0].admin.CreateRule(ctx, api.RuleInput{Name: "out", Job: "output", Schedule: "rate(1 day)"}); err != nil {
		t.Fatal(err)
	}
	base := agents[1].Events().Subscribers()
	runID := make(chan string, 1)
	go func() {
		if ok, _ := wait.Poll(t, 10*time.Second, func() (bool, string) { return agents[1].Events().Subscribers() > base, "" }); !ok {
			t.Error("agent-1's stream never subscribed")
		}
		run, err := agents[0].admin.TriggerRule(ctx, "out", map[string]string{"size": strconv.Itoa(api.MaxOutputBytes)})
		if err != nil {
			t.Error(err)
		}
		runID <- run.ID
	}()
	evs := collect(t, agents[1].admin, "", func(evs []api.Event) bool {
		return len(evs) > 0 && evs[len(evs)-1].Type == api.EventRunFinished
	})
	fin := evs[len(evs)-1].Run
	if fin == nil || fin.ID != <-runID || fin.Node != "agent-0" || fin.Status != api.StatusSucceeded {
		t.Fatalf("agent-1's stream ended with %+v", fin)
	}
	if len(fin.Output) != api.MaxOutputBytes || !bytes.HasPrefix(fin.Output, []byte(`{"fill":"aaa`)) {
		t.Errorf("agent-1's run.finished carries an output of %d bytes (%.40s…), want the whole %d", len(fin.Output), fin.Output, api.MaxOutputBytes)
	}
}
