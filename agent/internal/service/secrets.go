package service

import (
	"fmt"
	"strings"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// Actor is who asks for an action: the name recorded in the audit trail and
// the role that decides what the action may do.
type Actor struct {
	Name string
	Role store.Role
}

// RedirectError refuses an override, by a caller below admin, that would
// send a rule's stored secret somewhere an admin did not configure.
type RedirectError struct {
	Rule         string
	Destinations []string // the destination parameters the override changes
	Secrets      []string // the rule's secrets the override does not supply
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("changing %s of rule %q would send its stored secret %s to a destination no admin configured: only an admin may, or give %s in the override too",
		strings.Join(e.Destinations, ", "), e.Rule, strings.Join(e.Secrets, ", "), strings.Join(e.Secrets, ", "))
}

// checkSecretDestinations enforces the invariant that a stored secret is
// only ever sent where an admin configured it. It is the one place that
// decides it, for every job: a job marks the parameters that choose where
// it sends things (jobs.Param.Destination) and those that are secret.
//
// supplied are the values the caller typed, before masked secrets are put
// back from the rule: a secret counts as supplied only when the caller gave
// its value. values are what the run would get on top of the rule's
// parameters (the caller's, and for a restart the earlier run's).
func checkSecretDestinations(actor Actor, job jobs.Job, rule store.Rule, values, supplied map[string]string) error {
	if RoleAllows(actor.Role, store.RoleAdmin) {
		return nil
	}
	var changed, held []string
	for _, p := range job.Params() {
		switch {
		case p.Destination:
			v, ok := values[p.Name]
			if ok && effective(p, v) != effective(p, rule.Parameters[p.Name]) {
				changed = append(changed, p.Name)
			}
		case p.Secret:
			if effective(p, rule.Parameters[p.Name]) == "" {
				continue // nothing stored to give away
			}
			if v := supplied[p.Name]; v != "" && v != api.MaskedValue {
				continue
			}
			held = append(held, p.Name)
		}
	}
	if len(changed) == 0 || len(held) == 0 {
		return nil
	}
	return &RedirectError{Rule: rule.Name, Destinations: changed, Secrets: held}
}

// effective is the value a run gets for a parameter given v: v, or the
// parameter's default when v is empty (as jobs.Resolve does).
func effective(p jobs.Param, v string) string {
	if v == "" {
		return p.Default
	}
	return v
}
