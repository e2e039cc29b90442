package server

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

type jobsOutput struct {
	Body api.Page[api.Job]
}

type jobInput struct {
	ID string `path:"id" doc:"Job id"`
}

type jobOutput struct {
	Body api.Job
}

func (s *Server) registerJobs(hapi huma.API) {
	huma.Register(hapi, op("list-jobs", http.MethodGet, "/jobs", "List the jobs the agent offers", store.RoleViewer),
		func(ctx context.Context, _ *struct{}) (*jobsOutput, error) {
			out := &jobsOutput{Body: api.Page[api.Job]{Items: []api.Job{}}}
			for _, j := range s.cfg.Jobs.List() {
				out.Body.Items = append(out.Body.Items, apiJob(j))
			}
			return out, nil
		})
	huma.Register(hapi, op("get-job", http.MethodGet, "/jobs/{id}", "Get one job", store.RoleViewer),
		func(ctx context.Context, in *jobInput) (*jobOutput, error) {
			j, ok := s.cfg.Jobs.Get(in.ID)
			if !ok {
				return nil, huma.Error404NotFound("job " + in.ID + " not found")
			}
			return &jobOutput{Body: apiJob(j)}, nil
		})
}
