package runner_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

func TestRunRecordsNeverHoldASecretValue(t *testing.T) {
	t.Parallel()
	const (
		param     = "param-secret-7f3a"
		lineTwo   = "X-Second: line-two-secret-91c"
		agentKey  = "agent-admin-token-4be0"
		notSecret = "visible-value"
	)
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		reg := jobs.NewRegistry()
		job := funcJob{id: "leaky", params: []jobs.Param{
			{Name: "token", Secret: true}, {Name: "headers", Secret: true}, {Name: "plain"},
		}, run: func(ctx context.Context, p jobs.Params) error {
			log := jobs.Logger(ctx)
			log.Info("token is " + p["token"] + " and plain is " + p["plain"])
			log.Info("env", "AGENT_TOKEN", agentKey)
			log.Info("second header: " + lineTwo)
			jobs.Progress(ctx, 50, "using "+p["token"])
			return errors.New("failed with " + p["token"] + " and " + agentKey)
		}}
		if err := reg.Register(job); err != nil {
			t.Fatal(err)
		}
		b := events.NewBroker(0)
		r, err := runner.New(runner.Config{Store: s, Jobs: reg, Events: b, Node: "n", LogFlushInterval: 10 * time.Millisecond, Secrets: []string{agentKey}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = r.Shutdown(context.Background()) })
		e := &env{store: s, runner: r, events: b}
		_, evs, _, cancel := b.Subscribe(0)
		defer cancel()

		rule := e.rule(t, store.Rule{Name: "leaky", Job: "leaky", Parameters: map[string]string{
			"token": param, "headers": "X-First: one-secret-aa1\n" + lineTwo, "plain": notSecret,
		}})
		run := start(t, e, rule)
		fin := e.waitStatus(t, run.ID, api.StatusFailed)

		var texts []string
		for _, l := range e.logLines(t, run.ID) {
			texts = append(texts, "stored log: "+l.Message)
		}
		texts = append(texts, "error: "+fin.Error, "progress: "+fin.Progress.Message)
	events:
		for {
			select {
			case ev := <-evs:
				if ev.Log != nil {
					texts = append(texts, "log event: "+ev.Log.Message)
				}
				if ev.Run != nil {
					texts = append(texts, "event error: "+ev.Run.Error, "event progress: "+ev.Run.Progress.Message)
				}
				if ev.Type == api.EventRunFinished {
					break events
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no run.finished event")
			}
		}
		all := strings.Join(texts, "\n")
		for _, secret := range []string{param, "line-two-secret-91c", agentKey} {
			if strings.Contains(all, secret) {
				t.Errorf("a run record holds the secret %q:\n%s", secret, all)
			}
		}
		for _, want := range []string{"token is " + api.MaskedValue + " and plain is " + notSecret, "AGENT_TOKEN=" + api.MaskedValue, "using " + api.MaskedValue} {
			if !strings.Contains(all, want) {
				t.Errorf("no %q in the run's records:\n%s", want, all)
			}
		}
	})
}
