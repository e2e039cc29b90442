package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
	"github.com/jobbridge/jobbridge/shared/api"
)

// failingUpdates is a real store whose rule updates fail, as a database
// that goes away in the middle of an apply.
type failingUpdates struct{ store.Store }

func (failingUpdates) RuleUpdate(context.Context, store.Rule) (store.Rule, error) {
	return store.Rule{}, store.ErrUnavailable
}

func TestApplyStoppedMidwaySaysWhatItDid(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		reg := jobs.NewRegistry()
		if err := reg.Register(builtin.NewDemo()); err != nil {
			t.Fatal(err)
		}
		s := New(Config{Store: failingUpdates{st}, Jobs: reg})
		if _, err := s.RuleCreate(ctx, "t", api.RuleInput{Name: "b", Job: "demo", Schedule: "rate(1 hour)"}); err != nil {
			t.Fatal(err)
		}
		_, err := s.RulesApply(ctx, "t", api.RulesApply{Rules: []api.RuleInput{
			{Name: "a", Job: "demo", Schedule: "rate(1 hour)"},
			{Name: "b", Job: "demo", Schedule: "rate(2 hours)"},
			{Name: "c", Job: "demo", Schedule: "rate(1 hour)"},
		}})
		var aerr *ApplyError
		if !errors.As(err, &aerr) || !slices.Equal(aerr.Done, []string{"create a"}) || !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("apply over a failing update = %v, want an ApplyError after create a, matching ErrUnavailable", err)
		}
		if got, want := err.Error(), `done before it: create a`; !strings.Contains(got, want) {
			t.Errorf("error %q does not say %q", got, want)
		}
		rules, _ := st.RuleList(ctx)
		var names []string
		for _, r := range rules {
			names = append(names, r.Name+" "+r.Schedule)
		}
		if want := []string{"a rate(1 hour)", "b rate(1 hour)"}; !slices.Equal(names, want) {
			t.Errorf("stored after the failure: %v, want %v (nothing after it)", names, want)
		}
		audit, _, _ := st.AuditList(ctx, store.AuditFilter{Limit: 1})
		if len(audit) != 1 || audit[0].Action != "rules.apply" || audit[0].Detail != "failed at update b after 1 of 3 changes" {
			t.Errorf("last audit entry = %+v, want the failed rules.apply", audit)
		}
	})
}
