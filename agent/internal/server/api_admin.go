package server

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

type statusOutput struct {
	Body api.Status
}

type auditInput struct {
	Actor  string `query:"actor" doc:"Only entries by this token (exact match)"`
	Action string `query:"action" doc:"Only entries of this action, such as rule.update (exact match; rule.update and rule.replace, its name in older agents, list both)"`
	Target string `query:"target" doc:"Only entries about this rule, run or token (exact match)"`
	Limit  int    `query:"limit" default:"50" minimum:"1" maximum:"1000"`
	Cursor string `query:"cursor"`
}

type auditOutput struct {
	Body api.Page[api.AuditEntry]
}

type syncOutput struct {
	Body api.SyncReport
}

type tokenCreateInput struct {
	Body api.TokenInput
}

type tokenCreateOutput struct {
	Body api.NewToken
}

type tokensOutput struct {
	Body api.Page[api.Token]
}

type tokenNameInput struct {
	Name string `path:"name"`
}

func (s *Server) registerAdmin(hapi huma.API) {
	huma.Register(hapi, op("get-status", http.MethodGet, "/status", "The agent's status", store.RoleViewer),
		func(ctx context.Context, _ *struct{}) (*statusOutput, error) {
			counts, err := s.cfg.Store.RunCountByStatus(ctx, store.RunFilter{})
			if err != nil {
				return nil, s.apiError(err, "status")
			}
			rules, err := s.cfg.Store.RuleList(ctx)
			if err != nil {
				return nil, s.apiError(err, "status")
			}
			st := api.Status{
				Version: s.cfg.Version, Node: s.cfg.Node, Store: s.cfg.Store.Kind(), Scheduler: s.cfg.SchedulerMode,
				StartedAt: s.cfg.StartedAt, Jobs: len(s.cfg.Jobs.List()), Rules: len(rules), Runs: counts,
				Webhook: s.cfg.WebhookKey != "", Role: string(caller(ctx).Role), Token: caller(ctx).Name,
				Notifications: []api.ChannelStatus{},
			}
			if s.cfg.Missed != nil {
				st.Missing = s.cfg.Missed.Missing()
			}
			if s.cfg.Notifications != nil {
				if ns := s.cfg.Notifications(); ns != nil {
					st.Notifications = ns
				}
			}
			if s.cfg.Service != nil {
				m, err := s.cfg.Service.Maintenance(ctx)
				if err != nil {
					return nil, s.apiError(err, "status")
				}
				if m.On {
					am := apiMaintenance(m)
					st.Maintenance = &am
				}
			}
			if st.Agents, err = s.agents(ctx); err != nil {
				return nil, s.apiError(err, "status")
			}
			for _, r := range rules {
				switch r.Sync.State {
				case "pending":
					st.Sync.Pending++
				case "synced":
					st.Sync.Synced++
				case "error":
					st.Sync.Error++
				}
			}
			return &statusOutput{Body: st}, nil
		})
	huma.Register(hapi, op("list-audit", http.MethodGet, "/audit", "The audit trail, newest first", store.RoleViewer),
		func(ctx context.Context, in *auditInput) (*auditOutput, error) {
			entries, next, err := s.cfg.Store.AuditList(ctx, store.AuditFilter{Actor: in.Actor, Action: in.Action, Target: in.Target, Limit: in.Limit, Cursor: in.Cursor})
			if err != nil {
				return nil, s.apiError(err, "audit")
			}
			out := &auditOutput{Body: api.Page[api.AuditEntry]{Items: make([]api.AuditEntry, len(entries)), NextCursor: next}}
			for i, e := range entries {
				out.Body.Items[i] = apiAudit(e)
			}
			return out, nil
		})
	sync := op("sync", http.MethodPost, "/sync", "Reconcile the scheduler backend now", store.RoleAdmin)
	sync.Errors = append(sync.Errors, http.StatusConflict)
	huma.Register(hapi, sync, func(ctx context.Context, _ *struct{}) (*syncOutput, error) {
		if s.cfg.Reconciler == nil {
			return nil, huma.Error409Conflict("the " + s.cfg.SchedulerMode + " scheduler has nothing to sync")
		}
		report, err := s.cfg.Reconciler.Reconcile(ctx)
		if err != nil {
			return nil, s.apiError(err, "sync")
		}
		return &syncOutput{Body: report}, nil
	})

	create := op("create-token", http.MethodPost, "/tokens", "Create an API token (its secret is shown once)", store.RoleAdmin)
	create.DefaultStatus = http.StatusCreated
	create.Errors = append(create.Errors, http.StatusConflict)
	huma.Register(hapi, create, func(ctx context.Context, in *tokenCreateInput) (*tokenCreateOutput, error) {
		secret, t, err := s.cfg.Service.TokenCreate(ctx, caller(ctx).Name, in.Body.Name, in.Body.Role)
		if err != nil {
			return nil, s.apiError(err, "token")
		}
		return &tokenCreateOutput{Body: api.NewToken{Token: apiToken(t), Secret: secret}}, nil
	})
	huma.Register(hapi, op("list-tokens", http.MethodGet, "/tokens", "List API tokens", store.RoleAdmin),
		func(ctx context.Context, _ *struct{}) (*tokensOutput, error) {
			ts, err := s.cfg.Store.TokenList(ctx)
			if err != nil {
				return nil, s.apiError(err, "tokens")
			}
			out := &tokensOutput{Body: api.Page[api.Token]{Items: make([]api.Token, len(ts))}}
			for i, t := range ts {
				out.Body.Items[i] = apiToken(t)
			}
			return out, nil
		})
	revoke := op("revoke-token", http.MethodDelete, "/tokens/{name}", "Revoke an API token", store.RoleAdmin)
	revoke.DefaultStatus = http.StatusNoContent
	huma.Register(hapi, revoke, func(ctx context.Context, in *tokenNameInput) (*struct{}, error) {
		if err := s.cfg.Service.TokenRevoke(ctx, caller(ctx).Name, in.Name); err != nil {
			return nil, s.apiError(err, "token")
		}
		return nil, nil
	})
}

// agents is the status's list of agents: the cluster's, or this agent
// alone.
func (s *Server) agents(ctx context.Context) ([]api.AgentStatus, error) {
	if s.cfg.Agents != nil {
		return s.cfg.Agents(ctx)
	}
	self := api.AgentStatus{Node: s.cfg.Node, StartedAt: s.cfg.StartedAt, HeartbeatAt: time.Now().UTC(), Alive: true, Self: true}
	if s.cfg.URL != nil {
		self.URL = s.cfg.URL()
	}
	return []api.AgentStatus{self}, nil
}
