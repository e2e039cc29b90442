package service_test

import (
	"context"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
	"github.com/jobbridge/jobbridge/shared/api"
)

// meanwhile is a real store that, at the first rule update, lets another
// write land first: a second admin's, between this one's read and write.
type meanwhile struct {
	store.Store
	first func()
}

func (m *meanwhile) RuleUpdate(ctx context.Context, r store.Rule) (store.Rule, error) {
	if f := m.first; f != nil {
		m.first = nil
		f()
	}
	return m.Store.RuleUpdate(ctx, r)
}

// A PUT without If-Match that sends a secret back masked keeps the secret
// stored when it writes, not the one it read: a secret rotated meanwhile
// (a leaked token replaced) is never brought back.
func TestReplaceWithoutIfMatchKeepsASecretChangedMeanwhile(t *testing.T) {
	st := storetesting.Open(t, "sqlite")
	reg := jobs.NewRegistry()
	job, err := builtin.NewCommand("deploy", "", []string{"/bin/true"}, []jobs.Param{{Name: "target"}, {Name: "token", Secret: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Register(job); err != nil {
		t.Fatal(err)
	}
	wrapped := &meanwhile{Store: st}
	svc := service.New(service.Config{Store: wrapped, Jobs: reg})
	ctx := context.Background()
	in := api.RuleInput{Name: "deploy", Job: "deploy", Schedule: "rate(1 hour)",
		Parameters: map[string]string{"target": "prod", "token": "leaked"}}
	if _, err := svc.RuleCreate(ctx, "ada", in); err != nil {
		t.Fatal(err)
	}
	// Ada rotates the token while Bob's tool, which read the rule before,
	// writes it back with the token masked and a new description.
	wrapped.first = func() {
		rotate := in
		rotate.Parameters = map[string]string{"target": "prod", "token": "rotated"}
		if _, err := svc.RuleReplace(ctx, "ada", "deploy", rotate); err != nil {
			t.Errorf("rotate the token: %v", err)
		}
	}
	bob := in
	bob.Description = "nightly deploy"
	bob.Parameters = map[string]string{"target": "prod", "token": api.MaskedValue}
	got, err := svc.RuleReplace(ctx, "bob", "deploy", bob)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.RuleGet(ctx, "deploy")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Parameters["token"] != "rotated" {
		t.Errorf("the token stored after Bob's write is %q, want the rotated one", stored.Parameters["token"])
	}
	if got.Description != "nightly deploy" || got.Version != 3 {
		t.Errorf("Bob's write: description %q version %d, want his description at version 3", got.Description, got.Version)
	}
}
