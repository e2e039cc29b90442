package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/server"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
	"github.com/jobbridge/jobbridge/shared/api"
)

// updatesUnavailable is a real store whose rule updates fail, as a
// database that goes away in the middle of an apply.
type updatesUnavailable struct{ store.Store }

func (updatesUnavailable) RuleUpdate(context.Context, store.Rule) (store.Rule, error) {
	return store.Rule{}, store.ErrUnavailable
}

// An apply that stops midway answers as its failure does (here 503) and
// says what it had done, which stays done.
func TestApplyStoppedMidwaySaysWhatWasDone(t *testing.T) {
	t.Parallel()
	st := storetesting.Open(t, "sqlite")
	reg := jobs.NewRegistry()
	if err := reg.Register(builtin.NewDemo()); err != nil {
		t.Fatal(err)
	}
	svc := service.New(service.Config{Store: updatesUnavailable{st}, Jobs: reg})
	ctx := context.Background()
	token, _, err := svc.TokenCreate(ctx, "test", "deployer", "admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.RuleCreate(ctx, "test", api.RuleInput{Name: "b", Job: "demo", Schedule: "rate(1 hour)"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Config{Store: st, Service: svc, Jobs: reg}))
	defer srv.Close()
	body := `{"rules": [{"name": "a", "job": "demo", "schedule": "rate(1 hour)"}, {"name": "b", "job": "demo", "schedule": "rate(2 hours)"}]}`
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/rules/apply", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var p api.Problem
	_ = json.NewDecoder(resp.Body).Decode(&p)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(p.Detail, "applying the rules stopped: ") ||
		!strings.HasSuffix(p.Detail, "; done before it: create a") {
		t.Errorf("answer %d %q, want 503 saying create a was done", resp.StatusCode, p.Detail)
	}
	if _, err := st.RuleGet(ctx, "a"); err != nil {
		t.Errorf("rule a, created before the failure: %v", err)
	}
}
