package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// What one client may hold open of the two streams (GET /events and a log
// followed) together. A console holds one or two; the SSH console's
// sessions share one token per role and all come from the agent's own
// address, which is why neither cap is tighter.
const (
	// MaxStreamsPerToken caps the streams open with one token.
	MaxStreamsPerToken = 64
	// MaxStreamsPerAddress caps the streams open from one client address.
	MaxStreamsPerAddress = 256
)

// streamWriteTimeout is how long one write to a stream may take: a client
// that reads nothing for this long is gone, and its stream ends rather than
// hold a goroutine and a place in its caps.
const streamWriteTimeout = 20 * time.Second

// streamBatch is how many frames of a replay are written before a flush.
const streamBatch = 64

// streamCoalesce is how long, on average, an event stream woken by an
// event waits for more before it writes: what a client sees is at most 1.5
// times this late. Each stream waits its own share of 0.5 to 1.5 times it,
// so that streams woken by the same event do not all write at once, in a
// burst that would hold up the webhook.
const streamCoalesce = 50 * time.Millisecond

// coalesceDelay is one stream's wait, drawn when it opens.
func coalesceDelay() time.Duration {
	return streamCoalesce/2 + rand.N(streamCoalesce)
}

// sseWriter writes Server-Sent Events.
type sseWriter struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	deadline time.Time // of the writes, renewed as it nears
}

// frameBuffers gather the frames of a write into a few large writes. They
// are shared by all streams rather than kept by each, so an idle stream
// holds none.
var frameBuffers = sync.Pool{New: func() any {
	b := make([]byte, 0, 32<<10)
	return &b
}}

func startSSE(w http.ResponseWriter) (*sseWriter, bool) {
	if _, ok := w.(http.Flusher); !ok {
		writeProblem(w, api.Problem{Status: http.StatusInternalServerError, Detail: "streaming is not supported here"})
		return nil, false
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	// Over HTTP/1.1, the stream is not chunked but ends with the
	// connection, as the Server-Sent Events recommendation suggests and
	// net/http supports: a write is then one system call, not three (the
	// chunk's header and trailer each cost one). HTTP/2 ignores this.
	h.Set("Transfer-Encoding", "identity")
	sw := &sseWriter{w: w, rc: http.NewResponseController(w)}
	sw.renewDeadline()
	w.WriteHeader(http.StatusOK)
	return sw, sw.flush() == nil
}

// renewDeadline gives the writes from now at least 3/4 of
// streamWriteTimeout; it costs a system call, so it is not done at every
// write. Writers that cannot (a test recorder) are left without one.
func (sw *sseWriter) renewDeadline() {
	now := time.Now()
	if sw.deadline.Sub(now) > streamWriteTimeout*3/4 {
		return
	}
	sw.deadline = now.Add(streamWriteTimeout)
	_ = sw.rc.SetWriteDeadline(sw.deadline)
}

// done clears the write deadline.
func (sw *sseWriter) done() { _ = sw.rc.SetWriteDeadline(time.Time{}) }

func (sw *sseWriter) flush() error { return sw.rc.Flush() }

// write writes encoded frames and flushes.
func (sw *sseWriter) write(frames ...[]byte) error {
	return sw.frames(len(frames), func(i int) []byte { return frames[i] })
}

// frames writes n encoded frames, frame(0) to frame(n-1), gathered into as
// few writes as their size allows (each is a chunk of the response and a
// system call), and flushes.
func (sw *sseWriter) frames(n int, frame func(i int) []byte) error {
	if n == 0 {
		return nil
	}
	sw.renewDeadline()
	if n == 1 {
		if _, err := sw.w.Write(frame(0)); err != nil {
			return err
		}
		return sw.flush()
	}
	bp := frameBuffers.Get().(*[]byte)
	defer frameBuffers.Put(bp)
	buf := (*bp)[:0]
	for i := range n {
		f := frame(i)
		if len(buf) > 0 && len(buf)+len(f) > cap(buf) {
			if _, err := sw.w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
		if len(f) > cap(buf) { // larger than a buffer: on its own
			if _, err := sw.w.Write(f); err != nil {
				return err
			}
			continue
		}
		buf = append(buf, f...)
	}
	if len(buf) > 0 {
		if _, err := sw.w.Write(buf); err != nil {
			return err
		}
	}
	return sw.flush()
}

func (sw *sseWriter) event(id, typ string, data any) error {
	b, err := sseFrame(id, typ, data)
	if err != nil {
		return err
	}
	return sw.write(b)
}

func (sw *sseWriter) comment(text string) error {
	return sw.write([]byte(": " + text + "\n\n"))
}

// sseFrame encodes one message: id (omitted when empty), event type, and
// data as one line of JSON.
func sseFrame(id, typ string, data any) ([]byte, error) {
	js, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	b := make([]byte, 0, len(js)+len(id)+len(typ)+24)
	if id != "" {
		b = append(append(append(b, "id: "...), id...), '\n')
	}
	b = append(append(append(b, "event: "...), typ...), '\n')
	b = append(append(append(b, "data: "...), js...), "\n\n"...)
	return b, nil
}

// The keys of the two encodings of a frame this server makes: what GET
// /events sends and what a followed log sends. A frame's encoding is made
// once and shared by every stream that carries it.
type (
	eventFrameKey struct{ s *Server }
	logFrameKey   struct{ s *Server }
)

// eventFrame is a broker frame as GET /events sends it.
func (s *Server) eventFrame(f *events.Frame) []byte {
	return f.Encoded(eventFrameKey{s}, func(e events.Event) []byte {
		ae := s.apiEvent(e)
		b, err := sseFrame(ae.ID, ae.Type, ae)
		if err != nil {
			s.log.Error("event stream", "event", ae.ID, "err", err)
			return []byte(": an event could not be encoded\n\n")
		}
		return b
	})
}

// logFrame is a run.log frame as a followed log sends it: the line, its
// number as the id.
func (s *Server) logFrame(f *events.Frame) []byte {
	return f.Encoded(logFrameKey{s}, func(e events.Event) []byte {
		b, err := sseFrame(strconv.FormatInt(e.Log.Seq, 10), api.EventRunLog, apiLogLine(*e.Log))
		if err != nil {
			s.log.Error("log stream", "run", e.Run.ID, "err", err)
			return []byte(": a log line could not be encoded\n\n")
		}
		return b
	})
}

// streamCaller is who opened a stream: the token it authenticated with and
// the secret, to check again on every heartbeat.
type streamCaller struct {
	token  store.Token
	secret string
	addr   string       // for the log
	host   netip.Prefix // what the address cap counts by, as the other caps do (hostKey)
}

// streamAuth authenticates a stream request, answering the problem itself.
func (s *Server) streamAuth(w http.ResponseWriter, r *http.Request) (streamCaller, bool) {
	tok, status, detail := s.authenticate(r.Context(), r.RemoteAddr, r.Header.Get("Authorization"))
	if status != 0 {
		if status == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "5")
		} // a 429's Retry-After is set by answerWriter
		writeProblem(w, api.Problem{Status: status, Detail: detail})
		return streamCaller{}, false
	}
	secret, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	client := requestOf(r.Context()).client
	if !client.IsValid() {
		client = parseAddr(r.RemoteAddr)
	}
	return streamCaller{token: tok, secret: strings.TrimSpace(secret), addr: addrString(client), host: hostKey(client)}, true
}

// quotas are the caps a stream of c counts against.
func (c streamCaller) quotas() []events.Quota {
	return []events.Quota{
		{Holder: "the token " + c.token.Name, Max: MaxStreamsPerToken},
		{Holder: "the address " + keyString(c.host), Max: MaxStreamsPerAddress},
	}
}

// watch opens a broker watcher for a stream of c, or answers 429 naming the
// cap that is full.
func (s *Server) watch(w http.ResponseWriter, c streamCaller, lastID uint64, filter func(*events.Frame) bool) (*events.Watcher, []*events.Frame, bool, bool) {
	return s.openWatch(w, c, lastID, events.WatchOptions{Filter: filter})
}

// watchHistory is watch replaying the frames of the broker's whole history
// that pass filter.
func (s *Server) watchHistory(w http.ResponseWriter, c streamCaller, filter func(*events.Frame) bool) (*events.Watcher, []*events.Frame, bool, bool) {
	return s.openWatch(w, c, 0, events.WatchOptions{Filter: filter, History: true})
}

func (s *Server) openWatch(w http.ResponseWriter, c streamCaller, lastID uint64, opts events.WatchOptions) (*events.Watcher, []*events.Frame, bool, bool) {
	opts.Quotas = c.quotas()
	watcher, replay, complete, err := s.cfg.Events.Watch(lastID, opts)
	var qe *events.QuotaError
	if errors.As(err, &qe) {
		s.log.Info("stream refused: too many open", "holder", qe.Quota.Holder, "max", qe.Quota.Max)
		w.Header().Set("Retry-After", "10")
		writeProblem(w, api.Problem{Status: http.StatusTooManyRequests, Detail: fmt.Sprintf(
			"%s already has %d open streams (events and followed logs), the most it may have; close one and retry", qe.Quota.Holder, qe.Quota.Max)})
		return nil, nil, false, false
	}
	if err != nil {
		writeProblem(w, api.Problem{Status: http.StatusInternalServerError, Detail: "the stream could not be opened"})
		return nil, nil, false, false
	}
	return watcher, replay, complete, true
}

// stillAllowed checks again, at a heartbeat, that the stream's token exists
// and has the role it had: a revoked token's streams end within one
// heartbeat. A database that does not answer keeps the stream open (the
// token was good when it opened); the next heartbeat asks again.
func (s *Server) stillAllowed(ctx context.Context, c streamCaller) bool {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	tok, err := s.cfg.Service.Authenticate(ctx, c.secret)
	switch {
	case errors.Is(err, service.ErrBadToken):
		return false
	case err != nil:
		s.log.Debug("stream: could not check its token again", "token", c.token.Name, "err", err)
		return true
	}
	return tok.Name == c.token.Name && tok.Role == c.token.Role
}
