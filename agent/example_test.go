package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jobbridge/jobbridge/agent"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// A program can embed the agent instead of handing it its command line
// (agent/cli does this for cmd/agent): New prepares every part, Run serves
// until its context ends and then stops them all. Here the agent runs on
// SQLite in a temporary directory with no scheduler, and a client triggers
// a rule of the demo job through the admin API.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "jobbridge-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	cfg := agent.Config{
		Listen:     "127.0.0.1:0", // any free port
		DataDir:    dir,
		Scheduler:  agent.SchedulerOff, // rules run only when triggered
		AdminToken: "example-admin-token-not-secret",
	}
	register := func(r *jobs.Registry, _ agent.Env) error { return r.Register(builtin.NewDemo()) }

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	a, err := agent.New(ctx, cfg, slog.New(slog.DiscardHandler), register)
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := a.Listen(); err != nil { // binds now, so a.URL is known before Run
		fmt.Println(err)
		return
	}
	stopped := make(chan error, 1)
	go func() { stopped <- a.Run(ctx) }()

	c := client.New(a.URL(), cfg.AdminToken)
	_, err = c.CreateRule(ctx, api.RuleInput{Name: "demo-now", Job: "demo", Schedule: "rate(1 day)",
		Parameters: map[string]string{"duration": "20ms", "steps": "2"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	run, err := c.TriggerRule(ctx, "demo-now", nil)
	for err == nil && !run.Status.Terminal() {
		time.Sleep(10 * time.Millisecond)
		run, err = c.Run(ctx, run.ID)
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(run.Rule, run.Job, run.Trigger, run.Status)

	stop()
	fmt.Println("stopped:", <-stopped)
	// Output:
	// demo-now demo manual succeeded
	// stopped: <nil>
}
