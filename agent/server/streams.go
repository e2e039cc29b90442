package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/jobbridge/jobbridge/agent/events"
	"github.com/jobbridge/jobbridge/agent/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// The two Server-Sent Events streams, GET /api/v1/events and
// GET /api/v1/runs/{id}/log?follow=1, are plain handlers (huma's
// request/response model does not fit a stream); they are described in the
// OpenAPI document by hand.

func (s *Server) registerStreams(hapi huma.API) {
	s.mux.HandleFunc("GET "+APIPrefix+"/events", s.serveEvents)
	hapi.OpenAPI().AddOperation(&huma.Operation{
		OperationID: "stream-events",
		Method:      http.MethodGet,
		Path:        APIPrefix + "/events",
		Summary:     "Server-Sent Events of run and rule changes",
		Description: "Each message's `event` is the type (run.started, run.skipped, run.progress, run.log, run.cancelling, run.finished, rule.created, rule.changed, rule.deleted, reset), its `id` the event id and its `data` an Event as JSON. Send `Last-Event-ID` to resume after an event; `reset` means events were missed and the client should reload. Comments are heartbeats.",
		Parameters: []*huma.Param{{
			Name: "Last-Event-ID", In: "header", Schema: &huma.Schema{Type: "string"},
			Description: "Resume after this event",
		}},
		Responses: map[string]*huma.Response{
			"200": {Description: "The stream", Content: map[string]*huma.MediaType{"text/event-stream": {Schema: hapi.OpenAPI().Components.Schemas.Schema(typeOf[api.Event](), true, "Event")}}},
			"401": {Description: "Unauthorized"},
		},
	})
}

// isFollow reports whether r asks to follow a run's log, and which run.
func isFollow(r *http.Request) (string, bool) {
	if r.Method != http.MethodGet {
		return "", false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, APIPrefix+"/runs/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, "/log")
	if !ok || id == "" || strings.Contains(id, "/") {
		return "", false
	}
	follow, _ := strconv.ParseBool(r.URL.Query().Get("follow"))
	return id, follow
}

// sseWriter writes Server-Sent Events.
type sseWriter struct {
	w http.ResponseWriter
	f http.Flusher
}

func startSSE(w http.ResponseWriter) (*sseWriter, bool) {
	f, ok := w.(http.Flusher)
	if !ok {
		writeProblem(w, api.Problem{Status: http.StatusInternalServerError, Detail: "streaming is not supported here"})
		return nil, false
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return &sseWriter{w: w, f: f}, true
}

func (sw *sseWriter) event(id, typ string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	if _, err := fmt.Fprintf(sw.w, "id: %s\nevent: %s\ndata: %s\n\n", id, typ, b); err != nil {
		return err
	}
	sw.f.Flush()
	return nil
}

func (sw *sseWriter) comment(text string) error {
	if _, err := fmt.Fprintf(sw.w, ": %s\n\n", text); err != nil {
		return err
	}
	sw.f.Flush()
	return nil
}

// streamAuth authenticates a stream request, answering the problem itself.
func (s *Server) streamAuth(w http.ResponseWriter, r *http.Request) (store.Token, bool) {
	tok, status, detail := s.authenticate(r.Context(), r.RemoteAddr, r.Header.Get("Authorization"))
	if status != 0 {
		if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "5")
		}
		writeProblem(w, api.Problem{Status: status, Detail: detail})
		return tok, false
	}
	return tok, true
}

func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.streamAuth(w, r); !ok {
		return
	}
	var lastID uint64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeProblem(w, api.Problem{Status: http.StatusBadRequest, Errors: []api.ErrorDetail{{Location: "header.Last-Event-ID", Message: "is not an event id", Value: v}}})
			return
		}
		lastID = id
	}
	replay, ch, complete, cancel := s.cfg.Events.Subscribe(lastID)
	defer cancel()
	sw, ok := startSSE(w)
	if !ok {
		return
	}
	if !complete {
		if err := sw.event(strconv.FormatUint(lastID, 10), api.EventReset, api.Event{Type: api.EventReset, Time: time.Now().UTC()}); err != nil {
			return
		}
	}
	send := func(e events.Event) error {
		ae := s.apiEvent(e)
		return sw.event(ae.ID, ae.Type, ae)
	}
	for _, e := range replay {
		if send(e) != nil {
			return
		}
	}
	heartbeat := time.NewTicker(s.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.stopStreams:
			return
		case <-heartbeat.C:
			if sw.comment("heartbeat") != nil {
				return
			}
		case e, open := <-ch:
			if !open {
				return // fell behind; the client resumes with its last id
			}
			if send(e) != nil {
				return
			}
		}
	}
}

// followLog streams a run's log: the lines so far, then each new one, then
// a run.finished event when the run ends. Event ids are line numbers, so a
// client that reconnects with Last-Event-ID gets the lines it missed.
func (s *Server) followLog(w http.ResponseWriter, r *http.Request, id string) {
	if _, ok := s.streamAuth(w, r); !ok {
		return
	}
	var after int64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		after, _ = strconv.ParseInt(v, 10, 64)
	}
	// Subscribe before reading, so no line falls between the two.
	_, ch, _, cancel := s.cfg.Events.Subscribe(0)
	defer cancel()
	run, err := s.cfg.Store.RunGet(r.Context(), id)
	if err != nil {
		status := http.StatusInternalServerError
		if errorsIsNotFound(err) {
			status = http.StatusNotFound
		}
		writeProblem(w, api.Problem{Status: status, Detail: "run " + id + " not found"})
		return
	}
	sw, ok := startSSE(w)
	if !ok {
		return
	}
	sendStored := func() bool {
		for {
			lines, err := s.cfg.Store.RunLogList(r.Context(), id, after, 1000)
			if err != nil {
				return false
			}
			for _, l := range lines {
				if sw.event(strconv.FormatInt(l.Seq, 10), api.EventRunLog, apiLogLine(l)) != nil {
					return false
				}
				after = l.Seq
			}
			if len(lines) < 1000 {
				return true
			}
		}
	}
	finish := func(run store.Run) {
		if sendStored() {
			_ = sw.event(strconv.FormatInt(after, 10), api.EventRunFinished, apiRun(run))
		}
	}
	if !sendStored() {
		return
	}
	if run.Status.Terminal() {
		finish(run)
		return
	}
	heartbeat := time.NewTicker(s.cfg.Heartbeat)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.stopStreams:
			return
		case <-heartbeat.C:
			if sw.comment("heartbeat") != nil {
				return
			}
		case e, open := <-ch:
			if !open {
				return
			}
			if e.Run == nil || e.Run.ID != id {
				continue
			}
			switch {
			case e.Type == events.RunLog && e.Log != nil && e.Log.Seq > after:
				if sw.event(strconv.FormatInt(e.Log.Seq, 10), api.EventRunLog, apiLogLine(*e.Log)) != nil {
					return
				}
				after = e.Log.Seq
			case e.Type == events.RunFinished:
				finish(*e.Run)
				return
			}
		}
	}
}
