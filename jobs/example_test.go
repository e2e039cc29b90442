package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jobbridge/jobbridge/jobs"
)

// Sleep waits for a while: a job in a few lines.
type Sleep struct{}

func (Sleep) ID() string          { return "sleep" }
func (Sleep) Description() string { return "Waits for a while" }

func (Sleep) Params() []jobs.Param {
	return []jobs.Param{
		{Name: "for", Type: jobs.TypeDuration, Default: "1s", Description: "how long to wait"},
		{Name: "mood", Type: jobs.TypeEnum, Choices: []string{"calm", "restless"}, Required: true, Description: "how to wait"},
	}
}

func (Sleep) Run(ctx context.Context, p jobs.Params) error {
	d, err := p.Duration("for")
	if err != nil {
		return err
	}
	jobs.Logger(ctx).Info("waiting", "for", d, "mood", p.String("mood"))
	select {
	case <-time.After(d):
		jobs.Progress(ctx, 100, "rested")
		return nil
	case <-ctx.Done(): // an operator, the rule's timeout or the agent's shutdown
		return ctx.Err()
	}
}

// A program registers its jobs in a Registry in main, before the agent
// starts; a second job with the same id is refused.
func ExampleRegistry() {
	r := jobs.NewRegistry()
	if err := r.Register(Sleep{}); err != nil {
		fmt.Println(err)
	}
	if err := r.Register(Sleep{}); err != nil {
		fmt.Println(err)
	}
	for _, j := range r.List() {
		fmt.Println(j.ID(), "-", j.Description())
	}
	// Output:
	// register job "sleep": a job with this id is already registered
	// sleep - Waits for a while
}

// Resolve is the check the agent makes before it saves a rule or starts a
// run: it fills in defaults and lists every value that is wrong.
func ExampleResolve() {
	p, err := jobs.Resolve(Sleep{}, map[string]string{"mood": "calm"})
	fmt.Println(p, err)

	_, err = jobs.Resolve(Sleep{}, map[string]string{"for": "soon", "colour": "blue"})
	var verr *jobs.ValidationError
	if errors.As(err, &verr) {
		for _, f := range verr.Fields {
			fmt.Printf("%s: %s\n", f.Param, f.Reason)
		}
	}
	// Output:
	// map[for:1s mood:calm] <nil>
	// for: "soon" is not a duration (want e.g. 90s, 5m, 1h30m)
	// mood: is required
	// colour: unknown parameter (job "sleep" takes for, mood)
}

// printReporter prints what a job reports, as the agent's runner would store
// it with the run.
type printReporter struct{}

func (printReporter) Log(level slog.Level, message string) { fmt.Println(level, message) }
func (printReporter) Progress(percent int, message string) {
	fmt.Printf("progress %d%% %s\n", percent, message)
}

// A test of a job gives it a Reporter through WithReporter, which is what the
// agent's runner does for every run, and runs it with resolved parameters.
func ExampleWithReporter() {
	ctx := jobs.WithReporter(context.Background(), printReporter{})
	p, err := jobs.Resolve(Sleep{}, map[string]string{"for": "10ms", "mood": "calm"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(Sleep{}.Run(ctx, p))

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	p["for"] = "1h"
	fmt.Println(Sleep{}.Run(cancelled, p))
	// Output:
	// INFO waiting for=10ms mood=calm
	// progress 100% rested
	// <nil>
	// INFO waiting for=1h0m0s mood=calm
	// context canceled
}

// Secret parameters never leave the agent as they are: Mask is what runs,
// the API and the console show.
func ExampleMask() {
	job := secretJob{}
	fmt.Println(jobs.Mask(job, map[string]string{"token": "s3cr3t", "url": "https://example.com"}))
	// Output:
	// map[token:******** url:https://example.com]
}

type secretJob struct{}

func (secretJob) ID() string          { return "notify" }
func (secretJob) Description() string { return "Posts a message" }
func (secretJob) Params() []jobs.Param {
	return []jobs.Param{
		{Name: "url", Required: true, Destination: true},
		{Name: "token", Secret: true},
	}
}
func (secretJob) Run(context.Context, jobs.Params) error { return nil }
