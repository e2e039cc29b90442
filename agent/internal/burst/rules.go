package burst

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// createWorkers is how many rules are created at once, as a few scripts
// or consoles of a team would.
const createWorkers = 4

// apiCallTimeout bounds one call of the admin API.
const apiCallTimeout = 30 * time.Second

// forEach calls do for every name from createWorkers goroutines and returns
// the first error, after which it starts no more calls.
func forEach(ctx context.Context, names []string, do func(context.Context, string) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan string)
	var wg sync.WaitGroup
	for range createWorkers {
		wg.Go(func() {
			for name := range next {
				if err := do(ctx, name); err != nil {
					cancel(err)
				}
			}
		})
	}
feed:
	for _, name := range names {
		select {
		case next <- name:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// createRules creates one rule per name with the schedule, job and
// parameters given, through POST /api/v1/rules.
func createRules(ctx context.Context, c *client.Client, names []string, schedule, job string, params map[string]string, enabled bool) error {
	return forEach(ctx, names, func(ctx context.Context, name string) error {
		ctx, cancel := context.WithTimeout(ctx, apiCallTimeout)
		defer cancel()
		_, err := c.CreateRule(ctx, api.RuleInput{Name: name, Job: job, Schedule: schedule, Enabled: &enabled, Parameters: params})
		if err != nil {
			return fmt.Errorf("create rule %s (job %s, schedule %s): %w", name, job, schedule, err)
		}
		return nil
	})
}

// deleteRules deletes the rules named.
func deleteRules(ctx context.Context, c *client.Client, names []string) error {
	return forEach(ctx, names, func(ctx context.Context, name string) error {
		ctx, cancel := context.WithTimeout(ctx, apiCallTimeout)
		defer cancel()
		if err := c.DeleteRule(ctx, name); err != nil {
			return fmt.Errorf("delete rule %s: %w", name, err)
		}
		return nil
	})
}
