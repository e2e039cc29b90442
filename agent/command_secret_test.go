package agent_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/shared/api"
)

// A command job that prints its secret parameter and its environment puts
// neither the secret nor the agent's own credentials in the stored log, the
// followed log or the event stream: its environment holds nothing of the
// agent's but what the admin listed, and every secret value is masked.
func TestACommandJobPrintingItsSecretsLeaksNothing(t *testing.T) {
	// Not parallel: it sets the agent's environment.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-of-the-agent-77")
	t.Setenv("PGPASSWORD", "pg-password-of-the-agent-88")
	t.Setenv("AWS_PROFILE", "backups")
	const token = "run-token-secret-3141"
	ta := startAgent(t, "sqlite", func(c *agent.Config) { c.CommandEnv = "AWS_PROFILE" })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "careless", Job: "leaky", Schedule: "rate(1 day)", Parameters: map[string]string{"token": token}}); err != nil {
		t.Fatal(err)
	}

	var streamed []string
	opened, finished := make(chan struct{}), make(chan struct{})
	done := errors.New("finished")
	go func() {
		defer close(finished)
		_ = ta.admin.StreamOpened(ctx, "", func() { close(opened) }, func(ev api.Event) error {
			b, _ := json.Marshal(ev)
			streamed = append(streamed, string(b))
			if ev.Type == "run.finished" {
				return done
			}
			return nil
		})
	}()
	<-opened
	run, err := ta.admin.TriggerRule(ctx, "careless", nil)
	if err != nil {
		t.Fatal(err)
	}
	ta.waitRun(t, run.ID, api.StatusSucceeded)
	<-finished

	lines, err := ta.admin.RunLog(ctx, run.ID, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, l := range lines {
		stored = append(stored, l.Message)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ta.URL()+"/api/v1/runs/"+run.ID+"/log?follow=1", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	followed, _ := io.ReadAll(resp.Body)
	resp.Body.Close()

	got, err := ta.admin.Run(ctx, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The output it wrote holds the token as a value and as a key.
	wantOutput := `{"` + api.MaskedValue + `":"as a key","token":"` + api.MaskedValue + `"}`
	if string(got.Output) != wantOutput {
		t.Errorf("the run's output is %s, want %s", got.Output, wantOutput)
	}
	if b, _ := json.Marshal(got); strings.Contains(string(b), token) {
		t.Errorf("GET /runs/{id} holds the token: %s", b)
	}
	if events := strings.Join(streamed, "\n"); !strings.Contains(events, `"output":`+wantOutput) {
		t.Errorf("the run.finished event does not carry the masked output %s:\n%s", wantOutput, events)
	}
	for what, text := range map[string]string{
		"stored log": strings.Join(stored, "\n"), "followed log": string(followed), "event stream": strings.Join(streamed, "\n"),
	} {
		for _, secret := range []string{token, "aws-secret-of-the-agent-77", "pg-password-of-the-agent-88", adminToken, "AWS_SECRET_ACCESS_KEY", "PGPASSWORD"} {
			if strings.Contains(text, secret) {
				t.Errorf("the %s holds %q:\n%s", what, secret, text)
			}
		}
		for _, want := range []string{"the token is " + api.MaskedValue, "AWS_PROFILE=backups"} {
			if !strings.Contains(text, want) {
				t.Errorf("the %s has no %q:\n%s", what, want, text)
			}
		}
	}
}
