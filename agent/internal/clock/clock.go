// Package clock carries, in the context given to agent.New, the clock an
// agent computes derived times with: the next fire times the API shows and
// the local scheduler's now. Only tests set one (agent/agenttest does, so
// that golden screens do not depend on the day they run); a running agent
// uses time.Now. It is a context value rather than a Config field so that
// the agent's public configuration holds only what an operator sets.
package clock

import (
	"context"
	"time"
)

type key struct{}

// With returns a context that makes an agent created with it use now.
func With(ctx context.Context, now func() time.Time) context.Context {
	return context.WithValue(ctx, key{}, now)
}

// From returns the clock ctx carries, or time.Now.
func From(ctx context.Context) func() time.Time {
	if now, ok := ctx.Value(key{}).(func() time.Time); ok && now != nil {
		return now
	}
	return time.Now
}
