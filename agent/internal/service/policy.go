package service

import (
	"math"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// Bounds of a rule's run policy.
const (
	// MaxRetryAttempts is the most retries a rule may ask for.
	MaxRetryAttempts = 100
	// DefaultRetryBackoff is the first retry's delay when retry.backoff
	// is empty.
	DefaultRetryBackoff = 30 * time.Second
	// DefaultRetryMaxBackoff caps the delay when retry.maxBackoff is empty.
	DefaultRetryMaxBackoff = time.Hour
	// MaxRetryBackoff bounds both delays: a retry a week later is a new run.
	MaxRetryBackoff = 7 * 24 * time.Hour
	// DefaultCatchUpWindow is how far back catch-up looks when catchUp is
	// latest or all and catchUpWindow is empty.
	DefaultCatchUpWindow = time.Hour
	// MaxCatchUpWindow bounds catchUpWindow.
	MaxCatchUpWindow = 7 * 24 * time.Hour
)

// policyFromInput checks a rule's run policy and returns it as stored.
func policyFromInput(in api.RunPolicy, verr *ValidationError) store.RunPolicy {
	var p store.RunPolicy
	dur := func(field, text string, min, max time.Duration) time.Duration {
		if text == "" {
			return 0
		}
		d, err := time.ParseDuration(text)
		switch {
		case err != nil:
			verr.add("body."+field, "%q is not a duration (e.g. 30s, 10m, 2h); leave it empty for none", text)
		case d < min || d > max:
			verr.add("body."+field, "%q is outside %s to %s; leave it empty for none", text, api.FormatDuration(min), api.FormatDuration(max))
		default:
			return d
		}
		return 0
	}
	if r := in.Retry; r != nil {
		rp := &store.RetryPolicy{Attempts: r.Attempts, Jitter: r.Jitter}
		if r.Attempts < 1 || r.Attempts > MaxRetryAttempts {
			verr.add("body.retry.attempts", "%d is outside 1 to %d (the retries after the first run); leave retry out for none", r.Attempts, MaxRetryAttempts)
		}
		rp.Backoff = dur("retry.backoff", r.Backoff, time.Second, MaxRetryBackoff)
		rp.MaxBackoff = dur("retry.maxBackoff", r.MaxBackoff, time.Second, MaxRetryBackoff)
		if rp.Backoff == 0 {
			rp.Backoff = DefaultRetryBackoff
		}
		if rp.MaxBackoff == 0 {
			rp.MaxBackoff = max(DefaultRetryMaxBackoff, rp.Backoff)
		}
		if r.MaxBackoff != "" && rp.MaxBackoff < rp.Backoff {
			verr.add("body.retry.maxBackoff", "%q is shorter than backoff %s", r.MaxBackoff, api.FormatDuration(rp.Backoff))
		}
		if math.IsNaN(r.Jitter) || r.Jitter < 0 || r.Jitter > 1 {
			verr.add("body.retry.jitter", "%v is outside 0 (none) to 1 (a delay anywhere from 0 to the backoff)", r.Jitter)
		}
		p.Retry = rp
	}
	p.CatchUp = in.CatchUp
	if !in.CatchUp.Valid() {
		verr.add("body.catchUp", "%q is not none, latest or all", in.CatchUp)
	}
	if p.CatchUp == api.CatchUpNone {
		p.CatchUp = ""
	}
	p.CatchUpWindow = dur("catchUpWindow", in.CatchUpWindow, time.Minute, MaxCatchUpWindow)
	switch {
	case in.CatchUpWindow != "" && p.CatchUp == "":
		verr.add("body.catchUpWindow", "is set but catchUp is none: set catchUp to latest or all, or leave the window out")
	case p.CatchUp != "" && p.CatchUpWindow == 0 && in.CatchUpWindow == "":
		p.CatchUpWindow = DefaultCatchUpWindow
	}
	p.MaxLateness = dur("maxLateness", in.MaxLateness, time.Minute, 24*time.Hour)
	p.WarnAfter = dur("warnAfter", in.WarnAfter, time.Second, MaxRetryBackoff)
	return p
}

// PolicyToAPI is a stored run policy as the API shows it: the inverse of
// policyFromInput.
func PolicyToAPI(p store.RunPolicy) api.RunPolicy {
	out := api.RunPolicy{
		CatchUp:       p.CatchUp,
		CatchUpWindow: optDuration(p.CatchUpWindow),
		MaxLateness:   optDuration(p.MaxLateness),
		WarnAfter:     optDuration(p.WarnAfter),
	}
	if r := p.Retry; r != nil {
		out.Retry = &api.RetryPolicy{
			Attempts: r.Attempts, Backoff: optDuration(r.Backoff), MaxBackoff: optDuration(r.MaxBackoff), Jitter: r.Jitter,
		}
	}
	return out
}

func optDuration(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return api.FormatDuration(d)
}
