package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

type listRunsInput struct {
	Status   string `query:"status" doc:"Comma-separated run states: queued, running, cancelling, succeeded, failed, cancelled, interrupted, skipped, missed"`
	Series   string `query:"series" doc:"Only this run and its retries: the first run's id"`
	IDPrefix string `query:"idPrefix" doc:"Only the runs whose id starts with this (0-9, a-f and -; any case)"`
	IDSuffix string `query:"idSuffix" doc:"Only the runs whose id ends with this (the console shows the last 8 characters)"`
	Parent   string `query:"parent" doc:"Only the runs this run's chains started: the parent run's id"`
	Job      string `query:"job" doc:"Only runs of this job"`
	Rule     string `query:"rule" doc:"Only runs of this rule"`
	Trigger  string `query:"trigger" doc:"schedule, manual, restart, retry, catchup or chain"`
	Since    string `query:"since" doc:"Created at or after (RFC 3339)"`
	Until    string `query:"until" doc:"Created before (RFC 3339)"`
	Limit    int    `query:"limit" default:"50" minimum:"1" maximum:"1000" doc:"Page size"`
	Cursor   string `query:"cursor" doc:"nextCursor of the previous page"`
}

type countRunsInput struct {
	Job     string `query:"job" doc:"Only runs of this job"`
	Rule    string `query:"rule" doc:"Only runs of this rule"`
	Trigger string `query:"trigger" doc:"schedule, manual, restart, retry, catchup or chain"`
	Since   string `query:"since" doc:"Created at or after (RFC 3339)"`
	Until   string `query:"until" doc:"Created before (RFC 3339)"`
}

type countsOutput struct {
	Body api.RunCounts
}

type runsOutput struct {
	Body api.Page[api.Run]
}

type runIDInput struct {
	ID string `path:"id" doc:"Run id"`
}

type runLogInput struct {
	ID     string `path:"id" doc:"Run id"`
	After  int64  `query:"after" minimum:"0" doc:"Only lines with a sequence number above this"`
	Cursor string `query:"cursor" doc:"nextCursor of the previous page (instead of after)"`
	Limit  int    `query:"limit" default:"1000" minimum:"1" maximum:"10000" doc:"Most lines to return; nextCursor is set when more lines exist beyond them"`
	Follow bool   `query:"follow" doc:"Stream the log as Server-Sent Events (event run.log) until the run ends"`
}

type logOutput struct {
	Body api.Page[api.LogLine]
}

type cancelInput struct {
	ID   string `path:"id" doc:"Run id"`
	Body *api.CancelRequest
}

type restartInput struct {
	ID   string `path:"id" doc:"Run id"`
	Body *api.RunParams
}

// logCursor is where a log page starts: after the line its cursor or its
// after names. A log's cursor is the sequence number of the last line of
// the page before.
func logCursor(in *runLogInput) (int64, error) {
	if in.Cursor == "" {
		return in.After, nil
	}
	after, err := strconv.ParseInt(in.Cursor, 10, 64)
	if err != nil || after < 0 || strconv.FormatInt(after, 10) != in.Cursor {
		d := &huma.ErrorDetail{Location: "query.cursor", Message: "is not a cursor of this log (pass the nextCursor of the page before)"}
		if len(in.Cursor) <= 64 {
			d.Value = in.Cursor
		}
		return 0, huma.Error400BadRequest("the query is invalid", d)
	}
	if in.After != 0 && in.After != after {
		return 0, huma.Error400BadRequest("the query is invalid", &huma.ErrorDetail{Location: "query.after", Message: "give after or cursor, not both", Value: in.After})
	}
	return after, nil
}

// runFilter checks the query of GET /runs, listing every bad field.
func runFilter(in *listRunsInput) (store.RunFilter, error) {
	f := store.RunFilter{Series: in.Series, Parent: in.Parent, Job: in.Job, Rule: in.Rule, Limit: in.Limit, Cursor: in.Cursor, Trigger: api.Trigger(in.Trigger)}
	var errs []error
	if in.IDPrefix != "" {
		p, err := api.ParseRunIDPrefix(in.IDPrefix)
		if err != nil {
			errs = append(errs, &huma.ErrorDetail{Location: "query.idPrefix", Message: err.Error(), Value: in.IDPrefix})
		}
		f.IDPrefix = p
	}
	if in.IDSuffix != "" {
		p, err := api.ParseRunIDSuffix(in.IDSuffix)
		if err != nil {
			errs = append(errs, &huma.ErrorDetail{Location: "query.idSuffix", Message: err.Error(), Value: in.IDSuffix})
		}
		f.IDSuffix = p
	}
	if in.Status != "" {
		for _, st := range strings.Split(in.Status, ",") {
			rs, err := api.ParseRunStatus(strings.TrimSpace(st))
			if err != nil {
				errs = append(errs, &huma.ErrorDetail{Location: "query.status", Message: err.Error(), Value: st})
				continue
			}
			f.Statuses = append(f.Statuses, rs)
		}
	}
	switch f.Trigger {
	case "", api.TriggerSchedule, api.TriggerManual, api.TriggerRestart, api.TriggerRetry, api.TriggerCatchUp, api.TriggerChain:
	default:
		errs = append(errs, &huma.ErrorDetail{Location: "query.trigger", Message: "is not schedule, manual, restart, retry, catchup or chain", Value: in.Trigger})
	}
	for _, t := range []struct {
		loc, v string
		dst    *time.Time
	}{{"query.since", in.Since, &f.Since}, {"query.until", in.Until, &f.Until}} {
		if t.v == "" {
			continue
		}
		tm, err := time.Parse(time.RFC3339Nano, t.v)
		if err != nil {
			errs = append(errs, &huma.ErrorDetail{Location: t.loc, Message: "is not an RFC 3339 time", Value: t.v})
			continue
		}
		*t.dst = tm
	}
	if len(errs) > 0 {
		return f, huma.Error400BadRequest("the query is invalid", errs...)
	}
	return f, nil
}

// attempts is the series of run r (its first run and the retries), oldest
// first, when there is more than r in it.
func (s *Server) attempts(ctx context.Context, r store.Run) ([]api.RunSummary, error) {
	first := r.RetryOf
	if first == "" {
		first = r.ID
	}
	if r.RetryOf == "" && !r.Status.Terminal() {
		return nil, nil // a first run has no retries before it ends
	}
	runs, _, err := s.cfg.Store.RunList(ctx, store.RunFilter{Series: first, Limit: storeSeriesLimit})
	if err != nil || len(runs) < 2 {
		return nil, err
	}
	return oldestFirst(runs), nil
}

// chained are the runs r's chains started, oldest first, nil if none (their
// retries, which keep the parent, are in each one's attempts).
func (s *Server) chained(ctx context.Context, r store.Run) ([]api.RunSummary, error) {
	runs, _, err := s.cfg.Store.RunList(ctx, store.RunFilter{Parent: r.ID, Trigger: api.TriggerChain, Limit: storeSeriesLimit})
	if err != nil || len(runs) == 0 {
		return nil, err
	}
	return oldestFirst(runs), nil
}

// oldestFirst summarises runs listed newest first, oldest first.
func oldestFirst(runs []store.Run) []api.RunSummary {
	out := make([]api.RunSummary, len(runs))
	for i, run := range runs {
		out[len(runs)-1-i] = apiRunSummary(run)
	}
	return out
}

// storeSeriesLimit bounds the series GET /runs/{id} shows (the retries a
// rule may ask for, and the first run) and the runs its chains started.
const storeSeriesLimit = 1000

func (s *Server) registerRuns(hapi huma.API) {
	huma.Register(hapi, op("list-runs", http.MethodGet, "/runs", "List runs, newest first", store.RoleViewer),
		func(ctx context.Context, in *listRunsInput) (*runsOutput, error) {
			f, err := runFilter(in)
			if err != nil {
				return nil, err
			}
			runs, next, err := s.cfg.Store.RunList(ctx, f)
			if err != nil {
				return nil, s.apiError(err, "runs")
			}
			out := &runsOutput{Body: api.Page[api.Run]{Items: make([]api.Run, len(runs)), NextCursor: next}}
			for i, r := range runs {
				out.Body.Items[i] = apiRun(r)
			}
			return out, nil
		})
	huma.Register(hapi, op("count-runs", http.MethodGet, "/runs/counts", "Count runs per status", store.RoleViewer),
		func(ctx context.Context, in *countRunsInput) (*countsOutput, error) {
			f, err := runFilter(&listRunsInput{Job: in.Job, Rule: in.Rule, Trigger: in.Trigger, Since: in.Since, Until: in.Until})
			if err != nil {
				return nil, err
			}
			counts, err := s.cfg.Store.RunCountByStatus(ctx, f)
			if err != nil {
				return nil, s.apiError(err, "run counts")
			}
			return &countsOutput{Body: counts}, nil
		})
	huma.Register(hapi, op("get-run", http.MethodGet, "/runs/{id}", "Get one run", store.RoleViewer),
		func(ctx context.Context, in *runIDInput) (*runOutput, error) {
			r, err := s.cfg.Store.RunGet(ctx, in.ID)
			if err != nil {
				return nil, s.apiError(err, "run")
			}
			out := apiRunWithOutput(r)
			if out.Attempts, err = s.attempts(ctx, r); err != nil {
				return nil, s.apiError(err, "run")
			}
			if out.Chained, err = s.chained(ctx, r); err != nil {
				return nil, s.apiError(err, "run")
			}
			return &runOutput{Body: out}, nil
		})
	logOp := op("get-run-log", http.MethodGet, "/runs/{id}/log", "Get a run's log (follow=1 streams it)", store.RoleViewer)
	logOp.Description = "A page of the run's lines in order. When more lines exist beyond the page, nextCursor is set: pass it back as cursor for the next page (after=N, the last sequence number read, works too)."
	logOp.Metadata[ownCursor] = true
	huma.Register(hapi, logOp,
		func(ctx context.Context, in *runLogInput) (*logOutput, error) {
			after, err := logCursor(in)
			if err != nil {
				return nil, err
			}
			if _, err := s.cfg.Store.RunGet(ctx, in.ID); err != nil {
				return nil, s.apiError(err, "run")
			}
			// One line more than asked says whether there is a next page.
			lines, err := s.cfg.Store.RunLogList(ctx, in.ID, after, in.Limit+1)
			if err != nil {
				return nil, s.apiError(err, "run log")
			}
			out := &logOutput{}
			if len(lines) > in.Limit {
				lines = lines[:in.Limit]
				out.Body.NextCursor = strconv.FormatInt(lines[len(lines)-1].Seq, 10)
			}
			out.Body.Items = make([]api.LogLine, len(lines))
			for i, l := range lines {
				out.Body.Items[i] = apiLogLine(l)
			}
			return out, nil
		})
	cancel := op("cancel-run", http.MethodPost, "/runs/{id}/cancel", "Ask a run to stop", store.RoleOperator)
	cancel.Errors = append(cancel.Errors, http.StatusConflict)
	huma.Register(hapi, cancel, func(ctx context.Context, in *cancelInput) (*runOutput, error) {
		reason := ""
		if in.Body != nil {
			reason = in.Body.Reason
		}
		r, err := s.cfg.Service.RunCancel(ctx, caller(ctx).Name, in.ID, reason)
		if err != nil {
			return nil, s.apiError(err, "run")
		}
		return &runOutput{Body: apiRun(r)}, nil
	})
	restart := op("restart-run", http.MethodPost, "/runs/{id}/restart", "Run again with the same or other parameters", store.RoleOperator)
	restart.DefaultStatus = http.StatusAccepted
	restart.Errors = append(restart.Errors, http.StatusConflict)
	huma.Register(hapi, restart, func(ctx context.Context, in *restartInput) (*runOutput, error) {
		var overrides map[string]string
		force := false
		if in.Body != nil {
			overrides, force = in.Body.Parameters, in.Body.Force
		}
		r, err := s.cfg.Service.RunRestart(ctx, actor(ctx), in.ID, overrides, force)
		if err != nil {
			return nil, s.apiError(err, "run")
		}
		return &runOutput{Body: apiRun(r)}, nil
	})
}
