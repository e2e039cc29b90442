package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

type maintenanceOutput struct {
	Body api.Maintenance
}

type maintenanceInput struct {
	Body api.Maintenance
}

func (s *Server) registerMaintenance(hapi huma.API) {
	huma.Register(hapi, op("get-maintenance", http.MethodGet, "/maintenance", "The maintenance mode", store.RoleViewer),
		func(ctx context.Context, _ *struct{}) (*maintenanceOutput, error) {
			m, err := s.cfg.Service.Maintenance(ctx)
			if err != nil {
				return nil, s.apiError(err, "maintenance")
			}
			return &maintenanceOutput{Body: apiMaintenance(m)}, nil
		})
	huma.Register(hapi, op("set-maintenance", http.MethodPut, "/maintenance",
		"Turn maintenance mode on (scheduled fires are skipped, manual runs need force) or off", store.RoleAdmin),
		func(ctx context.Context, in *maintenanceInput) (*maintenanceOutput, error) {
			m, err := s.cfg.Service.MaintenanceSet(ctx, caller(ctx).Name, in.Body)
			if err != nil {
				return nil, s.apiError(err, "maintenance")
			}
			return &maintenanceOutput{Body: apiMaintenance(m)}, nil
		})
}

// apiMaintenance is the mode as the API shows it.
func apiMaintenance(m store.Maintenance) api.Maintenance {
	return api.Maintenance{On: m.On, Until: timePtr(m.Until), Reason: m.Reason, By: m.By, Since: timePtr(m.Since)}
}
