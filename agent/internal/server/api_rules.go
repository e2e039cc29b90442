package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
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

// ruleWriteInput names a rule to change, with the version expected.
type ruleWriteInput struct {
	Name string `path:"name" doc:"Rule name"`
	IfMatchHeader
}

type ruleOutput struct {
	ETag string `header:"ETag" doc:"The rule's version in quotes, for If-Match"`
	Body api.Rule
}

type createRuleInput struct {
	Body api.RuleInput
}

type replaceRuleInput struct {
	Name string `path:"name" doc:"Rule name"`
	IfMatchHeader
	Body ruleReplaceBody
}

// ruleReplaceBody is a PUT's body: a RuleInput, or a rule as GET returns
// it, whose derived fields (service.DerivedRuleFields) are accepted and
// ignored.
type ruleReplaceBody struct {
	api.RuleInput
	Version                  any `json:"version,omitempty" doc:"Ignored (GET's answer may be sent back as it is): If-Match says the version expected"`
	CreatedAt                any `json:"createdAt,omitempty" doc:"Ignored"`
	UpdatedAt                any `json:"updatedAt,omitempty" doc:"Ignored"`
	NextFireTimes            any `json:"nextFireTimes,omitempty" doc:"Ignored"`
	NextFireTimesApproximate any `json:"nextFireTimesApproximate,omitempty" doc:"Ignored"`
	Done                     any `json:"done,omitempty" doc:"Ignored"`
	ScheduleText             any `json:"scheduleText,omitempty" doc:"Ignored"`
	LastRun                  any `json:"lastRun,omitempty" doc:"Ignored"`
	Sync                     any `json:"sync,omitempty" doc:"Ignored"`
	MissedFire               any `json:"missedFire,omitempty" doc:"Ignored"`
	Health                   any `json:"health,omitempty" doc:"Ignored"`
}

type patchRuleInput struct {
	Name string `path:"name" doc:"Rule name"`
	IfMatchHeader
	ContentType string `header:"Content-Type"`
	RawBody     []byte `contentType:"application/merge-patch+json" doc:"A JSON merge patch (RFC 7396) of the rule's fields"`
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
	return &ruleOutput{ETag: etag(out.Version), Body: out}, nil
}

// etag is the ETag of a rule at version.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// writeOp is op for a write to one rule: it may answer 412 to If-Match.
func writeOp(id, method, path, summary string) huma.Operation {
	o := op(id, method, path, summary, store.RoleAdmin)
	o.Errors = append(o.Errors, http.StatusPreconditionFailed)
	return o
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
	huma.Register(hapi, writeOp("replace-rule", http.MethodPut, "/rules/{name}",
		"Replace a rule; the body may be the rule as GET gives it (its derived fields are ignored)"),
		func(ctx context.Context, in *replaceRuleInput) (*ruleOutput, error) {
			version, err := s.expectedVersion(ctx, in.Name, in.IfMatch)
			if err != nil {
				return nil, err
			}
			r, err := s.cfg.Service.RuleReplaceIf(ctx, caller(ctx).Name, in.Name, in.Body.RuleInput, version)
			return s.ruleAnswer(ctx, r, err)
		})
	patch := writeOp("patch-rule", http.MethodPatch, "/rules/{name}",
		"Change some fields of a rule: a JSON merge patch (RFC 7396); null resets a field, parameters merge by name")
	patch.Errors = append(patch.Errors, http.StatusUnsupportedMediaType)
	huma.Register(hapi, patch, func(ctx context.Context, in *patchRuleInput) (*ruleOutput, error) {
		if mt, _, _ := strings.Cut(in.ContentType, ";"); in.ContentType != "" {
			switch strings.ToLower(strings.TrimSpace(mt)) {
			case "application/merge-patch+json", "application/json":
			default:
				return nil, huma.Error415UnsupportedMediaType(fmt.Sprintf(
					"Content-Type %q: a patch of a rule is application/merge-patch+json (or application/json)", clipHeader(in.ContentType)))
			}
		}
		version, err := s.expectedVersion(ctx, in.Name, in.IfMatch)
		if err != nil {
			return nil, err
		}
		r, err := s.cfg.Service.RulePatch(ctx, caller(ctx).Name, in.Name, in.RawBody, version)
		return s.ruleAnswer(ctx, r, err)
	})
	del := writeOp("delete-rule", http.MethodDelete, "/rules/{name}", "Delete a rule")
	del.DefaultStatus = http.StatusNoContent
	huma.Register(hapi, del, func(ctx context.Context, in *ruleWriteInput) (*struct{}, error) {
		version, err := s.expectedVersion(ctx, in.Name, in.IfMatch)
		if err != nil {
			return nil, err
		}
		if err := s.cfg.Service.RuleDeleteIf(ctx, caller(ctx).Name, in.Name, version); err != nil {
			return nil, s.apiError(err, "rule")
		}
		return nil, nil
	})
	for _, enable := range []bool{true, false} {
		id, path, summary := "disable-rule", "/rules/{name}/disable", "Disable a rule: it stops firing"
		if enable {
			id, path, summary = "enable-rule", "/rules/{name}/enable", "Enable a rule"
		}
		huma.Register(hapi, writeOp(id, http.MethodPost, path, summary),
			func(ctx context.Context, in *ruleWriteInput) (*ruleOutput, error) {
				version, err := s.expectedVersion(ctx, in.Name, in.IfMatch)
				if err != nil {
					return nil, err
				}
				r, err := s.cfg.Service.RuleSetEnabledIf(ctx, caller(ctx).Name, in.Name, enable, version)
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
