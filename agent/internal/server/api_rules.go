package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

type rulesOutput struct {
	Body api.Page[api.Rule]
}

type ruleNameInput struct {
	Name string `path:"name" doc:"Rule name"`
}

type ruleOutput struct {
	Body api.Rule
}

type createRuleInput struct {
	Body api.RuleInput
}

type replaceRuleInput struct {
	Name string `path:"name" doc:"Rule name"`
	Body api.RuleInput
}

type triggerInput struct {
	Name string `path:"name" doc:"Rule name"`
	Body *api.RunParams
}

type applyRulesInput struct {
	Body api.RulesApply
}

type rulesPlanOutput struct {
	Body api.RulesPlan
}

type runOutput struct {
	Body api.Run
}

// rule turns a stored rule into its API form, with its last run and
// health (see rules).
func (s *Server) rule(ctx context.Context, r store.Rule) (api.Rule, error) {
	out, err := s.rules(ctx, []store.Rule{r})
	if err != nil {
		return api.Rule{}, err
	}
	return out[0], nil
}

// rules turns stored rules into their API form, each with its last run and
// its health read in one RuleHealthList. Every rule the API answers or
// sends in an event goes through here, so none lacks them.
func (s *Server) rules(ctx context.Context, rs []store.Rule) ([]api.Rule, error) {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Name
	}
	health, err := s.cfg.Store.RuleHealthList(ctx, names)
	if err != nil {
		return nil, err
	}
	now := s.cfg.Now()
	out := make([]api.Rule, len(rs))
	for i, r := range rs {
		h := health[r.Name]
		v := ruleView{mode: s.cfg.SchedulerMode, now: now, missed: s.missedFire(r.Name), lastRun: h.LastRun}
		v.job, _ = s.cfg.Jobs.Get(r.Job)
		out[i] = apiRule(r, v)
		out[i].Health = apiHealth(h)
	}
	return out, nil
}

func (s *Server) ruleAnswer(ctx context.Context, r store.Rule, err error) (*ruleOutput, error) {
	if err != nil {
		return nil, s.apiError(err, "rule")
	}
	out, err := s.rule(ctx, r)
	if err != nil {
		return nil, s.apiError(err, "rule")
	}
	return &ruleOutput{Body: out}, nil
}

func (s *Server) registerRules(hapi huma.API) {
	huma.Register(hapi, op("list-rules", http.MethodGet, "/rules", "List every rule", store.RoleViewer),
		func(ctx context.Context, _ *struct{}) (*rulesOutput, error) {
			rules, err := s.cfg.Store.RuleList(ctx)
			if err != nil {
				return nil, s.apiError(err, "rules")
			}
			items, err := s.rules(ctx, rules)
			if err != nil {
				return nil, s.apiError(err, "rules")
			}
			return &rulesOutput{Body: api.Page[api.Rule]{Items: items}}, nil
		})
	huma.Register(hapi, op("get-rule", http.MethodGet, "/rules/{name}", "Get one rule", store.RoleViewer),
		func(ctx context.Context, in *ruleNameInput) (*ruleOutput, error) {
			r, err := s.cfg.Store.RuleGet(ctx, in.Name)
			return s.ruleAnswer(ctx, r, err)
		})

	create := op("create-rule", http.MethodPost, "/rules", "Create a rule", store.RoleAdmin)
	create.DefaultStatus = http.StatusCreated
	create.Errors = append(create.Errors, http.StatusConflict)
	huma.Register(hapi, create, func(ctx context.Context, in *createRuleInput) (*ruleOutput, error) {
		r, err := s.cfg.Service.RuleCreate(ctx, caller(ctx).Name, in.Body)
		return s.ruleAnswer(ctx, r, err)
	})
	huma.Register(hapi, op("replace-rule", http.MethodPut, "/rules/{name}", "Replace a rule", store.RoleAdmin),
		func(ctx context.Context, in *replaceRuleInput) (*ruleOutput, error) {
			r, err := s.cfg.Service.RuleReplace(ctx, caller(ctx).Name, in.Name, in.Body)
			return s.ruleAnswer(ctx, r, err)
		})
	del := op("delete-rule", http.MethodDelete, "/rules/{name}", "Delete a rule", store.RoleAdmin)
	del.DefaultStatus = http.StatusNoContent
	huma.Register(hapi, del, func(ctx context.Context, in *ruleNameInput) (*struct{}, error) {
		if err := s.cfg.Service.RuleDelete(ctx, caller(ctx).Name, in.Name); err != nil {
			return nil, s.apiError(err, "rule")
		}
		return nil, nil
	})
	for _, enable := range []bool{true, false} {
		id, path, summary := "disable-rule", "/rules/{name}/disable", "Disable a rule: it stops firing"
		if enable {
			id, path, summary = "enable-rule", "/rules/{name}/enable", "Enable a rule"
		}
		huma.Register(hapi, op(id, http.MethodPost, path, summary, store.RoleAdmin),
			func(ctx context.Context, in *ruleNameInput) (*ruleOutput, error) {
				r, err := s.cfg.Service.RuleSetEnabled(ctx, caller(ctx).Name, in.Name, enable)
				return s.ruleAnswer(ctx, r, err)
			})
	}
	apply := op("apply-rules", http.MethodPost, "/rules/apply",
		"Make the rules match a set: create, update, and with prune delete; answers the plan (a dry run changes nothing)", store.RoleAdmin)
	apply.Errors = append(apply.Errors, http.StatusConflict)
	huma.Register(hapi, apply, func(ctx context.Context, in *applyRulesInput) (*rulesPlanOutput, error) {
		plan, err := s.cfg.Service.RulesApply(ctx, caller(ctx).Name, in.Body)
		if err != nil {
			return nil, s.applyError(err)
		}
		return &rulesPlanOutput{Body: plan}, nil
	})
	trigger := op("trigger-rule", http.MethodPost, "/rules/{name}/trigger", "Run a rule now, optionally with other parameters", store.RoleOperator)
	trigger.DefaultStatus = http.StatusAccepted
	trigger.Errors = append(trigger.Errors, http.StatusConflict) // maintenance is on
	huma.Register(hapi, trigger, func(ctx context.Context, in *triggerInput) (*runOutput, error) {
		var overrides map[string]string
		force := false
		if in.Body != nil {
			overrides, force = in.Body.Parameters, in.Body.Force
		}
		run, err := s.cfg.Service.RuleTrigger(ctx, actor(ctx), in.Name, overrides, force)
		if err != nil {
			return nil, s.apiError(err, "rule")
		}
		return &runOutput{Body: apiRun(run)}, nil
	})
}

// applyError is apiError for RulesApply: a failure midway keeps its status
// and says what was done before it.
func (s *Server) applyError(err error) error {
	var aerr *service.ApplyError
	if !errors.As(err, &aerr) {
		return s.apiError(err, "rules")
	}
	status := http.StatusInternalServerError
	var se huma.StatusError
	if errors.As(s.apiError(aerr.Err, "rule"), &se) {
		status = se.GetStatus()
	}
	done := "nothing"
	if len(aerr.Done) > 0 {
		done = strings.Join(aerr.Done, ", ")
	}
	what := "a change failed"
	if status != http.StatusInternalServerError {
		what = aerr.Err.Error()
	}
	return huma.NewError(status, fmt.Sprintf("applying the rules stopped: %s; done before it: %s", what, done))
}
