package agent_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/agent/internal/testcert"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

var errStop = errors.New("stop")

// collect reads the event stream until stop says so or 10s pass.
func collect(t *testing.T, c *client.Client, lastID string, stop func([]api.Event) bool) []api.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []api.Event
	err := c.Stream(ctx, lastID, func(e api.Event) error {
		got = append(got, e)
		if stop(got) {
			return errStop
		}
		return nil
	})
	if !errors.Is(err, errStop) {
		t.Fatalf("stream ended with %v after %d events", err, len(got))
	}
	return got
}

func hasType(evs []api.Event, typ string) bool {
	for _, e := range evs {
		if e.Type == typ {
			return true
		}
	}
	return false
}

func TestEventStreamAndResumption(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		viewer := ta.tokenClient(t, "watcher", api.RoleViewer)
		started := make(chan struct{})
		base := ta.Events().Subscribers()
		go func() {
			<-started
			if ok, _ := wait.Poll(t, 10*time.Second, func() (bool, string) { return ta.Events().Subscribers() > base, "" }); !ok {
				t.Error("the event stream never opened")
			}
			if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "30ms", "steps": "3"}}); err != nil {
				t.Error(err)
			}
			if _, err := ta.admin.TriggerRule(ctx, "r", nil); err != nil {
				t.Error(err)
			}
		}()
		var first []api.Event
		ctxS, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		close(started)
		_ = viewer.Stream(ctxS, "", func(e api.Event) error {
			first = append(first, e)
			if e.Type == api.EventRunFinished {
				return errStop
			}
			return nil
		})
		for _, want := range []string{api.EventRuleCreated, api.EventRunStarted, api.EventRunProgress, api.EventRunLog, api.EventRunFinished} {
			if !hasType(first, want) {
				t.Errorf("stream lacks %s: %v", want, types(first))
			}
		}
		if first[0].Rule == nil || first[0].Rule.Name != "r" || first[len(first)-1].Run.Status != api.StatusSucceeded {
			t.Errorf("event payloads: first %+v last %+v", first[0], first[len(first)-1])
		}

		// Resume after the rule.created event: everything after it comes again.
		again := collect(t, viewer, first[0].ID, func(evs []api.Event) bool { return len(evs) == len(first)-1 })
		for i, e := range again {
			if e.ID != first[i+1].ID || e.Type != first[i+1].Type {
				t.Fatalf("resumed event %d = %s %s, want %s %s", i, e.ID, e.Type, first[i+1].ID, first[i+1].Type)
			}
		}
		// An id from before the agent started: reset.
		reset := collect(t, viewer, "1", func(evs []api.Event) bool { return len(evs) >= 1 })
		if reset[0].Type != api.EventReset {
			t.Errorf("stale Last-Event-ID: first event %s, want reset", reset[0].Type)
		}
	})
}

func types(evs []api.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

func TestEventStreamHeartbeats(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 15s of real time; under -short the server's TestAnIdleStreamHeartbeatsEveryFifteenSeconds checks the default heartbeat on a virtual clock")
	}
	t.Parallel()
	ta := startAgent(t, "sqlite")
	_ = ta // the heartbeat interval is the server's; check the raw stream.
	req, _ := http.NewRequest(http.MethodGet, ta.URL()+"/api/v1/events", nil)
	req.Header.Set("Authorization", "Bearer "+ta.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q", ct)
	}
	// Without events, a heartbeat comment arrives within the interval.
	// The test agent uses the default 15s; accept a little more.
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), ":") {
				line <- sc.Text()
				return
			}
		}
	}()
	select {
	case l := <-line:
		if l != ": heartbeat" {
			t.Errorf("heartbeat line %q", l)
		}
	case <-time.After(20 * time.Second):
		t.Error("no heartbeat within 20s")
	}
}

func TestFollowARunsLog(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "300ms", "steps": "6"}}); err != nil {
			t.Fatal(err)
		}
		run, err := ta.admin.TriggerRule(ctx, "r", nil)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodGet, ta.URL()+"/api/v1/runs/"+run.ID+"/log?follow=1", nil)
		req.Header.Set("Authorization", "Bearer "+ta.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body) // ends when the run does
		resp.Body.Close()
		text := string(body)
		if n := strings.Count(text, "event: run.log"); n < 6 {
			t.Errorf("followed %d log lines, want at least the 6 steps:\n%s", n, text)
		}
		if !strings.Contains(text, "event: run.finished") || !strings.Contains(text, `"status":"succeeded"`) {
			t.Errorf("the stream does not end with the finished run:\n%s", text)
		}
		// Resuming after line 3 sends the rest only.
		req.Header.Set("Last-Event-ID", "3")
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), "id: 3\n") || !strings.Contains(string(body), "id: 4\n") {
			t.Errorf("resumed log:\n%s", body)
		}
		req.URL.Path = "/api/v1/runs/nope/log"
		resp, _ = http.DefaultClient.Do(req)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("follow an unknown run: %d", resp.StatusCode)
		}
	})
}

// TestResponsesMatchTheOpenAPIDocument checks real answers of every kind
// against the schemas the agent publishes.
func TestResponsesMatchTheOpenAPIDocument(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	ctx := context.Background()
	if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "10ms"}}); err != nil {
		t.Fatal(err)
	}
	run, _ := ta.admin.TriggerRule(ctx, "r", nil)
	ta.waitRun(t, run.ID, api.StatusSucceeded)
	withOutput := runOutputJob(t, ta, map[string]string{"output": `{"rows": [1, 2], "ok": true}`})

	resp, err := http.Get(ta.URL() + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	comp := jsonschema.NewCompiler()
	if err := comp.AddResource("openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	esc := func(s string) string { return strings.NewReplacer("~", "~0", "/", "~1").Replace(s) }
	cases := []struct{ method, path, opPath, status, body string }{
		{"GET", "/api/v1/jobs", "/api/v1/jobs", "200", ""},
		{"GET", "/api/v1/jobs/demo", "/api/v1/jobs/{id}", "200", ""},
		{"GET", "/api/v1/rules", "/api/v1/rules", "200", ""},
		{"GET", "/api/v1/rules/r", "/api/v1/rules/{name}", "200", ""},
		{"GET", "/api/v1/runs", "/api/v1/runs", "200", ""},
		{"GET", "/api/v1/runs/" + run.ID, "/api/v1/runs/{id}", "200", ""},
		{"GET", "/api/v1/runs/" + withOutput.ID, "/api/v1/runs/{id}", "200", ""},
		{"GET", "/api/v1/runs/" + run.ID + "/log", "/api/v1/runs/{id}/log", "200", ""},
		{"GET", "/api/v1/status", "/api/v1/status", "200", ""},
		{"GET", "/api/v1/audit", "/api/v1/audit", "200", ""},
		{"GET", "/api/v1/tokens", "/api/v1/tokens", "200", ""},
		{"POST", "/api/v1/tokens", "/api/v1/tokens", "201", `{"name":"ci","role":"viewer"}`},
		{"POST", "/api/v1/rules/r/trigger", "/api/v1/rules/{name}/trigger", "202", ""},
		{"GET", "/api/v1/rules/nope", "/api/v1/rules/{name}", "404", ""},
		{"POST", "/api/v1/rules", "/api/v1/rules", "400", `{"name":"x y","job":"demo","schedule":"nope"}`},
	}
	for _, c := range cases {
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		req, _ := http.NewRequest(c.method, ta.URL()+c.path, body)
		req.Header.Set("Authorization", "Bearer "+ta.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := jsonschema.UnmarshalJSON(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %s: %v", c.method, c.path, err)
		}
		if code := resp.Status[:3]; code != c.status {
			t.Errorf("%s %s: status %s, want %s", c.method, c.path, code, c.status)
			continue
		}
		ct := "application/json"
		if c.status >= "400" {
			ct = "application/problem+json"
		}
		ref := "openapi.json#/paths/" + esc(c.opPath) + "/" + strings.ToLower(c.method) + "/responses/" + c.status + "/content/" + esc(ct) + "/schema"
		sch, err := comp.Compile(ref)
		if err != nil {
			t.Errorf("%s %s: the document has no schema at %s: %v", c.method, c.path, ref, err)
			continue
		}
		if err := sch.Validate(got); err != nil {
			t.Errorf("%s %s: the answer does not match the document: %v", c.method, c.path, err)
		}
	}
}

func TestHTTPSWithAGivenCertificate(t *testing.T) {
	t.Parallel()
	cert := testcert.New(t)
	ta := startAgent(t, "sqlite", func(c *agent.Config) { c.TLSCert, c.TLSKey = cert.CertFile, cert.KeyFile })
	if !strings.HasPrefix(ta.URL(), "https://") {
		t.Fatalf("URL %s is not https", ta.URL())
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}}}
	c := client.New(ta.URL(), adminToken, client.WithHTTPClient(hc))
	st, err := c.Status(context.Background())
	if err != nil || st.Role != "admin" {
		t.Fatalf("status over HTTPS: %+v %v", st, err)
	}
	// Plain HTTP to the TLS port is refused.
	resp, err := http.Get(strings.Replace(ta.URL(), "https://", "http://", 1) + "/healthz")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP got %d %s", resp.StatusCode, b)
		}
	}
}

func TestShutdownDoesNotWaitForOpenStreams(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t)
	cfg.AdminToken = adminToken
	a, err := agent.New(context.Background(), cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	c := client.New(a.URL(), adminToken)
	streamEnded := make(chan error, 1)
	base := a.Events().Subscribers()
	go func() {
		streamEnded <- c.Stream(context.Background(), "", func(api.Event) error { return nil })
	}()
	// Wait until the stream is open.
	wait.For(t, 10*time.Second, func() (bool, string) { return a.Events().Subscribers() > base, "the event stream never opened" })
	began := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("agent did not stop")
	}
	if d := time.Since(began); d > 3*time.Second {
		t.Errorf("shutdown took %s with a stream open; the stream should end at once", d)
	}
	select {
	case err := <-streamEnded:
		if err == nil {
			t.Error("the stream ended without an error")
		}
	case <-time.After(5 * time.Second):
		t.Error("the client's stream did not end")
	}
}

// TestFollowRightAfterATriggerMissesNoLine follows a short run's log at
// once after triggering it, again and again: the lines logged before the
// stream attached (published, not yet stored) are sent too, each once and
// in order.
func TestFollowRightAfterATriggerMissesNoLine(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "short", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "150ms", "steps": "3"}}); err != nil {
			t.Fatal(err)
		}
		want := []string{"demo: starting", "step 1/3", "step 2/3", "step 3/3", "demo: done"}
		for i := range 20 {
			run, err := ta.admin.TriggerRule(ctx, "short", nil)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodGet, ta.URL()+"/api/v1/runs/"+run.ID+"/log?follow=1", nil)
			req.Header.Set("Authorization", "Bearer "+ta.token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body) // ends when the run does
			resp.Body.Close()
			var got []string
			var seqs []string
			for block := range strings.SplitSeq(string(body), "\n\n") {
				if !strings.Contains(block, "event: run.log\n") {
					continue
				}
				var line api.LogLine
				for l := range strings.SplitSeq(block, "\n") {
					if data, ok := strings.CutPrefix(l, "data: "); ok {
						if err := json.Unmarshal([]byte(data), &line); err != nil {
							t.Fatalf("run %d: a log frame: %v\n%s", i, err, block)
						}
					}
				}
				got = append(got, line.Message)
				seqs = append(seqs, strconv.FormatInt(line.Seq, 10))
			}
			same := len(got) == len(want)
			for j := range min(len(got), len(want)) {
				same = same && strings.HasPrefix(got[j], want[j]) && seqs[j] == strconv.Itoa(j+1)
			}
			if !same {
				t.Fatalf("follow %d of 20: got lines %q (seq %v), want %q; stored log: %v", i+1, got, seqs, want, ta.storedLog(t, run.ID))
			}
		}
	})
}

func (ta *testAgent) storedLog(t *testing.T, id string) []string {
	t.Helper()
	lines, err := ta.admin.RunLog(context.Background(), id, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range lines {
		out = append(out, l.Message)
	}
	return out
}
