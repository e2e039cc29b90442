package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/google/uuid"

	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// The admin API is declared with huma: the OpenAPI document and the request
// validation both come from the Go types of shared/api, so they cannot drift
// apart. Authentication and roles are a huma middleware driven by each
// operation's "role" metadata.

// APIPrefix is where the admin API lives.
const APIPrefix = "/api/v1"

var setErrorsOnce sync.Once

// useBadRequestForValidation makes huma answer a request that fails schema
// validation with 400, like every other invalid input of this API, instead
// of its default 422, and never echo a request body back (it may hold a
// secret parameter). huma's error constructor is package state, so this is
// set once for the process.
func useBadRequestForValidation() {
	setErrorsOnce.Do(func() {
		base := huma.NewError
		huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
			if status == http.StatusUnprocessableEntity {
				status = http.StatusBadRequest
			}
			se := base(status, msg, errs...)
			if em, ok := se.(*huma.ErrorModel); ok {
				for _, d := range em.Errors {
					if d != nil && (d.Location == "body" || strings.HasPrefix(d.Location, "body.")) {
						d.Value = nil
					}
				}
			}
			return se
		}
	})
}

type identityKey struct{}

// caller is the token a request authenticated with.
func caller(ctx context.Context) store.Token {
	t, _ := ctx.Value(identityKey{}).(store.Token)
	return t
}

// actor is the caller as the service sees it: name and role.
func actor(ctx context.Context) service.Actor {
	t := caller(ctx)
	return service.Actor{Name: t.Name, Role: t.Role}
}

func (s *Server) mountAPI() {
	useBadRequestForValidation()
	config := huma.DefaultConfig("jobbridge agent API", s.cfg.Version)
	config.CreateHooks = nil // no $schema links in answers
	config.OpenAPIPath = APIPrefix + "/openapi"
	config.DocsPath = ""
	config.SchemasPath = ""
	config.Info.Description = "Rules, runs and jobs of a jobbridge agent. Authenticate with `Authorization: Bearer TOKEN`."
	config.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer"},
	}
	config.Security = []map[string][]string{{"bearer": {}}}
	// huma gives each body its own read deadline (5s unless told): make it
	// the server's.
	config.OnAddOperation = append(config.OnAddOperation, func(_ *huma.OpenAPI, o *huma.Operation) {
		if o.BodyReadTimeout > 0 {
			o.BodyReadTimeout = s.cfg.BodyTimeout
		}
	})
	hapi := humago.New(s.mux, config)
	hapi.UseMiddleware(s.authMiddleware(hapi), cursorMiddleware(hapi))

	s.registerJobs(hapi)
	s.registerRules(hapi)
	s.registerRuns(hapi)
	s.registerAdmin(hapi)
	s.registerMaintenance(hapi)
	s.registerStreams(hapi)
}

// op describes an operation that needs role (viewer, operator, admin).
func op(id, method, path, summary string, role store.Role) huma.Operation {
	return huma.Operation{
		OperationID:  id,
		Method:       method,
		Path:         APIPrefix + path,
		Summary:      summary,
		Metadata:     map[string]any{"role": role},
		MaxBodyBytes: MaxAPIBody,
		Errors:       []int{http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound},
	}
}

// authMiddleware authenticates the bearer token of every operation that
// names a role and checks the role allows it. A failed authentication
// never says which part was wrong and counts against the client address.
func (s *Server) authMiddleware(hapi huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		need, ok := ctx.Operation().Metadata["role"].(store.Role)
		if !ok {
			next(ctx) // the OpenAPI document
			return
		}
		tok, status, detail := s.authenticate(ctx.Context(), ctx.RemoteAddr(), ctx.Header("Authorization"))
		if status != 0 {
			if status == http.StatusServiceUnavailable {
				ctx.SetHeader("Retry-After", "5")
			} // a 429's Retry-After is set by answerWriter
			_ = huma.WriteErr(hapi, ctx, status, detail)
			return
		}
		if !service.RoleAllows(tok.Role, need) {
			_ = huma.WriteErr(hapi, ctx, http.StatusForbidden, "this needs the "+string(need)+" role; the token "+tok.Name+" is "+string(tok.Role))
			return
		}
		next(huma.WithValue(ctx, identityKey{}, tok))
	}
}

// authenticate checks an Authorization header. It answers the token, or an
// HTTP status and a message for the client. A valid token is taken
// whatever others did from its address; a bad one counts against the
// address, and is answered 429 once the address failed too often. The
// client address is the one ServeHTTP resolved; remoteAddr, the peer's,
// stands in for it on a request that did not come through ServeHTTP.
func (s *Server) authenticate(ctx context.Context, remoteAddr, header string) (store.Token, int, string) {
	secret, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		secret = ""
	}
	tok, err := s.cfg.Service.Authenticate(ctx, strings.TrimSpace(secret))
	switch {
	case errors.Is(err, service.ErrBadToken):
		if status, wait := s.refuseAuth(ctx, remoteAddr, "token"); status == http.StatusTooManyRequests {
			return store.Token{}, status, blockedDetail(wait)
		}
		return store.Token{}, http.StatusUnauthorized, "a valid bearer token is required"
	case errors.Is(err, store.ErrUnavailable):
		return store.Token{}, http.StatusServiceUnavailable, "the database is unavailable; retry"
	case err != nil:
		s.log.Error("authenticate", "err", err)
		return store.Token{}, http.StatusInternalServerError, "authentication failed"
	}
	if now := time.Now().UTC(); s.touched.due(tok.Name, now) {
		if err := s.cfg.Store.TokenTouch(ctx, tok.Name, now); err != nil {
			s.log.Debug("record token use", "token", tok.Name, "err", err)
		}
	}
	return tok, 0, ""
}

// ownCursor, set in an operation's Metadata, says its cursor is not a
// UUID and the operation checks it itself (a run log's is a line number).
const ownCursor = "ownCursor"

// cursorMiddleware refuses a page cursor this API did not hand out, for
// every operation that takes one, instead of letting the store compare it
// with ids and answer some page. A cursor is the id of the last item of
// the page before: a UUID, as the stores write it.
func cursorMiddleware(hapi huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		if c := ctx.Query("cursor"); c != "" && takesCursor(ctx.Operation()) {
			if u, err := uuid.Parse(c); err != nil || u.String() != c {
				d := &huma.ErrorDetail{Location: "query.cursor", Message: "is not a cursor of this list (pass the nextCursor of the page before)"}
				if len(c) <= 64 {
					d.Value = c
				}
				_ = huma.WriteErr(hapi, ctx, http.StatusBadRequest, "the query is invalid", d)
				return
			}
		}
		next(ctx)
	}
}

func takesCursor(op *huma.Operation) bool {
	if own, _ := op.Metadata[ownCursor].(bool); own {
		return false
	}
	for _, p := range op.Parameters {
		if p.In == "query" && p.Name == "cursor" {
			return true
		}
	}
	return false
}

// apiError turns an error from the service or store into the API's answer.
func (s *Server) apiError(err error, what string) error {
	var verr *service.ValidationError
	var rerr *service.RedirectError
	switch {
	case errors.As(err, &rerr):
		return huma.Error403Forbidden(rerr.Error())
	case errors.As(err, &verr):
		details := make([]error, len(verr.Fields))
		for i, f := range verr.Fields {
			details[i] = &huma.ErrorDetail{Location: f.Location, Message: f.Message, Value: f.Value}
		}
		return huma.Error400BadRequest("the request is invalid", details...)
	case errors.Is(err, store.ErrNotFound):
		return huma.Error404NotFound(what + " not found")
	case errors.Is(err, store.ErrStale):
		detail := "the " + what + " has changed since it was read; reload it and try again"
		var se *store.StaleError
		if errors.As(err, &se) {
			detail = fmt.Sprintf("rule %q has changed since it was read: it is at version %d, not %d (ETag %s); reload it and try again",
				se.Rule, se.Current, se.Expected, etag(se.Current))
		}
		return &huma.ErrorModel{Type: api.ProblemStale, Title: http.StatusText(http.StatusPreconditionFailed),
			Status: http.StatusPreconditionFailed, Detail: detail}
	case errors.Is(err, store.ErrConflict):
		var ce *service.ConflictError
		if errors.As(err, &ce) {
			if errors.Is(err, service.ErrMaintenance) {
				return &huma.ErrorModel{Type: api.ProblemMaintenance, Title: http.StatusText(http.StatusConflict),
					Status: http.StatusConflict, Detail: ce.Detail}
			}
			return huma.Error409Conflict(ce.Detail)
		}
		return huma.Error409Conflict("the " + what + " changed meanwhile; reload it and try again")
	case errors.Is(err, service.ErrRuleGone):
		return huma.Error409Conflict(err.Error())
	case errors.Is(err, runner.ErrShuttingDown), errors.Is(err, store.ErrUnavailable):
		return huma.Error503ServiceUnavailable("the agent cannot do this right now; retry: " + err.Error())
	}
	s.log.Error("API request failed", "what", what, "err", err)
	return huma.Error500InternalServerError(what + ": internal error")
}
