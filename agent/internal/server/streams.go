package server

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/store"
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
		Description: fmt.Sprintf("Each message's `event` is the type (%s), its `id` the event id and its `data` an Event as JSON. Send `Last-Event-ID` to resume after an event; `reset` means events were missed and the client should reload. Comments are heartbeats; the stream ends when its token is revoked (checked at each heartbeat), and a client that falls too far behind gets a final `reset` carrying the id of the last event it was sent, to reconnect with. One token may hold %d streams open and one address %d (429 above).", strings.Join(api.EventTypes, ", "), MaxStreamsPerToken, MaxStreamsPerAddress),
		Parameters: []*huma.Param{{
			Name: "Last-Event-ID", In: "header", Schema: &huma.Schema{Type: "string"},
			Description: "Resume after this event",
		}},
		Responses: map[string]*huma.Response{
			"200": {Description: "The stream", Content: map[string]*huma.MediaType{"text/event-stream": {Schema: hapi.OpenAPI().Components.Schemas.Schema(typeOf[api.Event](), true, "Event")}}},
			"401": {Description: "Unauthorized"},
			"429": {Description: "Too many streams open with this token or from this address (the problem names the cap)"},
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

func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	caller, ok := s.streamAuth(w, r)
	if !ok {
		return
	}
	var lastID uint64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		id, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeProblem(w, api.Problem{Status: http.StatusBadRequest, Errors: []api.ErrorDetail{{Location: "header.Last-Event-ID", Message: "is not an event id", Value: clipHeader(v)}}})
			return
		}
		lastID = id
	}
	watcher, replay, complete, ok := s.watch(w, caller, lastID, nil)
	if !ok {
		return
	}
	defer watcher.Close()
	sw, ok := startSSE(w)
	if !ok {
		return
	}
	defer sw.done()
	if !complete {
		if err := sw.event(strconv.FormatUint(lastID, 10), api.EventReset, api.Event{Type: api.EventReset, Time: time.Now().UTC()}); err != nil {
			return
		}
	}
	sent := lastID // the id of the last event this stream wrote
	for len(replay) > 0 {
		n := min(len(replay), streamBatch)
		if sw.frames(n, func(i int) []byte { return s.eventFrame(replay[i]) }) != nil {
			return
		}
		sent = replay[n-1].ID
		replay = replay[n:]
	}
	heartbeat := time.NewTicker(s.cfg.Heartbeat)
	defer heartbeat.Stop()
	// A frame wakes the stream, which then gathers what else comes within
	// its coalesce delay and writes it all at once: with hundreds of streams
	// open, each wakes and writes a few times a second, not once per event,
	// and Publish's sends meanwhile wake no one.
	delay := coalesceDelay()
	coalesce := time.NewTimer(delay)
	coalesce.Stop()
	defer coalesce.Stop()
	var (
		wake    = watcher.C      // nil while frames wait to be written
		flush   <-chan time.Time // the coalesce timer while they do
		pending = make([]*events.Frame, 0, streamBatch)
	)
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.stopStreams:
			return
		case <-watcher.Dropped:
			s.endSlowStream(sw, caller, sent)
			return
		case <-heartbeat.C:
			if !s.stillAllowed(r.Context(), caller) {
				s.log.Info("event stream closed: its token was revoked", "token", caller.token.Name, "client", caller.addr)
				_ = sw.comment("the token was revoked; the stream is closed")
				return
			}
			if sw.comment("heartbeat") != nil {
				return
			}
		case f := <-wake:
			pending = append(pending[:0], f)
			wake, flush = nil, coalesce.C
			coalesce.Reset(delay)
		case <-flush:
			select {
			case <-watcher.Dropped: // behind already: do not write what is queued
				s.endSlowStream(sw, caller, sent)
				return
			default:
			}
		more:
			for range cap(watcher.C) {
				select {
				case f := <-watcher.C:
					pending = append(pending, f)
				default:
					break more
				}
			}
			if sw.frames(len(pending), func(i int) []byte { return s.eventFrame(pending[i]) }) != nil {
				return
			}
			sent = pending[len(pending)-1].ID
			clear(pending) // let the frames go
			if cap(pending) > 4*streamBatch {
				pending = make([]*events.Frame, 0, streamBatch) // nor keep a burst's room
			}
			wake, flush = watcher.C, nil
		}
	}
}

// endSlowStream ends a stream the broker dropped for falling behind, with a
// reset whose id is the last event written: the client reloads and comes
// back with that id, and the events since are replayed from the history.
func (s *Server) endSlowStream(sw *sseWriter, c streamCaller, sent uint64) {
	s.log.Info("event stream closed: the client fell too far behind", "token", c.token.Name, "client", c.addr)
	id := ""
	if sent > 0 {
		id = strconv.FormatUint(sent, 10)
	}
	reset, err := sseFrame(id, api.EventReset, api.Event{ID: id, Type: api.EventReset, Time: time.Now().UTC()})
	if err != nil {
		return
	}
	_ = sw.write([]byte(": this stream fell too far behind and is closed; reconnect with Last-Event-ID\nretry: 1000\n"), reset)
}

// followLog streams a run's log: the lines so far, then each new one, then
// a run.finished event when the run ends. Event ids are line numbers, so a
// client that reconnects with Last-Event-ID gets the lines it missed.
func (s *Server) followLog(w http.ResponseWriter, r *http.Request, id string) {
	caller, ok := s.streamAuth(w, r)
	if !ok {
		return
	}
	var after int64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		after, _ = strconv.ParseInt(v, 10, 64)
	}
	// Watch before reading, so no line falls between the two; only this
	// run's lines and its end wake the stream. The runner publishes a line
	// before it stores it (lines are stored in batches, a short run's with
	// its finish), so a line published before the watch and not stored yet
	// is in neither the store nor the watcher: the broker's history, which
	// the watch replays, has it. Lines are sent by sequence number, so one
	// in the store and in the history is sent once.
	watcher, replay, _, ok := s.watchHistory(w, caller, func(f *events.Frame) bool {
		return f.Run != nil && f.Run.ID == id && (f.Type == api.EventRunLog && f.Log != nil || f.Type == api.EventRunFinished)
	})
	if !ok {
		return
	}
	defer watcher.Close()
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
	defer sw.done()
	// sendStoredUpTo sends the stored lines after the last sent up to and
	// including line last (all of them when last is 0).
	sendStoredUpTo := func(last int64) bool {
		for {
			lines, err := s.cfg.Store.RunLogList(r.Context(), id, after, 1000)
			if err != nil {
				return false
			}
			full := len(lines) == 1000
			if last > 0 {
				if i := slices.IndexFunc(lines, func(l store.LogLine) bool { return l.Seq > last }); i >= 0 {
					lines, full = lines[:i], false
				}
			}
			batch := make([][]byte, 0, len(lines))
			for _, l := range lines {
				b, err := sseFrame(strconv.FormatInt(l.Seq, 10), api.EventRunLog, apiLogLine(l))
				if err != nil {
					return false
				}
				batch = append(batch, b)
			}
			if sw.write(batch...) != nil {
				return false
			}
			if len(lines) > 0 {
				after = lines[len(lines)-1].Seq
			}
			if !full {
				return true
			}
		}
	}
	sendStored := func() bool { return sendStoredUpTo(0) }
	finish := func(run store.Run) {
		if sendStored() {
			_ = sw.event(strconv.FormatInt(after, 10), api.EventRunFinished, apiRunWithOutput(run))
		}
	}
	if !sendStored() {
		return
	}
	if run.Status.Terminal() {
		finish(run)
		return
	}
	// line sends a line from the broker, unless sent already; lines
	// missing before it (published before the history reaches, or relayed
	// late) are looked for in the store first.
	line := func(f *events.Frame) bool {
		if f.Log.Seq <= after {
			return true
		}
		if f.Log.Seq > after+1 && !sendStoredUpTo(f.Log.Seq-1) {
			return false
		}
		if f.Log.Seq <= after {
			return true
		}
		if sw.write(s.logFrame(f)) != nil {
			return false
		}
		after = f.Log.Seq
		return true
	}
	for _, f := range replay {
		switch f.Type {
		case api.EventRunLog:
			if !line(f) {
				return
			}
		case api.EventRunFinished:
			// The history keeps a run without a large output: the
			// store has it whole.
			run := *f.Run
			if stored, err := s.cfg.Store.RunGet(r.Context(), id); err == nil && stored.Status.Terminal() {
				run = stored
			}
			finish(run)
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
		case <-watcher.Dropped:
			s.log.Info("log stream closed: the client fell too far behind", "run", id, "token", caller.token.Name, "client", caller.addr)
			_ = sw.write([]byte(": this stream fell too far behind and is closed; reconnect with Last-Event-ID\nretry: 1000\n\n"))
			return
		case <-heartbeat.C:
			if !s.stillAllowed(r.Context(), caller) {
				s.log.Info("log stream closed: its token was revoked", "run", id, "token", caller.token.Name, "client", caller.addr)
				_ = sw.comment("the token was revoked; the stream is closed")
				return
			}
			if sw.comment("heartbeat") != nil {
				return
			}
		case f := <-watcher.C:
			switch {
			case f.Type == api.EventRunLog:
				if !line(f) {
					return
				}
			case f.Type == api.EventRunFinished:
				finish(*f.Run)
				return
			}
		}
	}
}
