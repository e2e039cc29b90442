package tui

import (
	"context"
	"math/rand/v2"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
	"github.com/jobbridge/jobbridge/tui/internal/safe"
)

// connState is the state of the console's link to the agent, as the event
// stream sees it.
type connState int

const (
	connConnecting connState = iota // first connection, or a retry under way
	connLive                        // the stream is open
	connDown                        // the agent is unreachable; a retry is scheduled
	connRejected                    // the agent answered 401: the token is wrong
)

// connMsg reports a change of the connection.
type connMsg struct {
	state   connState
	err     error
	retryIn time.Duration
	attempt int
	// reload says events may have been missed: views must reload.
	reload bool
}

// eventsMsg carries the events that arrived since the last one was read,
// so a burst costs one render.
type eventsMsg struct{ events []api.Event }

type eventMsg struct{ ev api.Event }

// streamer keeps the event stream open: it reconnects with backoff, resumes
// after the last event seen (Last-Event-ID), and tells the model when
// events may have been lost so it reloads.
type streamer struct {
	c       *safe.Client
	out     chan tea.Msg
	pending tea.Msg // read by next() but not returned yet
	// backoff is the first retry delay; each failure doubles it up to
	// maxBackoff.
	backoff, maxBackoff time.Duration
}

func newStreamer(c *safe.Client) *streamer {
	return &streamer{c: c, out: make(chan tea.Msg, 1024), backoff: 500 * time.Millisecond, maxBackoff: 15 * time.Second}
}

func (s *streamer) send(ctx context.Context, m tea.Msg) bool {
	select {
	case s.out <- m:
		return true
	case <-ctx.Done():
		return false
	}
}

// run keeps the stream open until ctx is done.
func (s *streamer) run(ctx context.Context) {
	lastID := ""
	attempt := 0
	everOpen := false
	for ctx.Err() == nil {
		if !s.send(ctx, connMsg{state: connConnecting, attempt: attempt}) {
			return
		}
		err := s.c.StreamOpened(ctx, lastID, func() {
			attempt = 0
			// Without an event id to resume from, whatever happened
			// while we were away is lost: reload (but not on the very
			// first connection, which loads anyway).
			s.send(ctx, connMsg{state: connLive, reload: everOpen && lastID == ""})
			everOpen = true
		}, func(ev api.Event) error {
			if ev.Type == api.EventReset {
				lastID = ev.ID // may be ""; then the next reconnect reloads too
			} else if ev.ID != "" {
				lastID = ev.ID
			}
			if !s.send(ctx, eventMsg{ev: ev}) {
				return ctx.Err()
			}
			return nil
		})
		if ctx.Err() != nil {
			return
		}
		attempt++
		delay := s.delay(attempt)
		state := connDown
		if client.StatusOf(err) == 401 {
			state = connRejected
			delay = max(delay, 5*time.Second)
		}
		if !s.send(ctx, connMsg{state: state, err: err, retryIn: delay, attempt: attempt}) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}

// delay is the wait before retry n (1, 2, ...): doubling from backoff, at
// most maxBackoff, with a fifth of jitter so many consoles do not knock at
// once.
func (s *streamer) delay(n int) time.Duration {
	d := s.backoff
	for i := 1; i < n && d < s.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.maxBackoff)
	return d - time.Duration(rand.Int64N(int64(d)/5+1))
}

// next returns a command that waits for the stream's next message; events
// already waiting are read with it as one eventsMsg.
func (s *streamer) next(ctx context.Context) tea.Cmd {
	return func() tea.Msg {
		first := s.pending
		s.pending = nil
		if first == nil {
			select {
			case first = <-s.out:
			case <-ctx.Done():
				return nil
			}
		}
		ev, ok := first.(eventMsg)
		if !ok {
			return first
		}
		batch := []api.Event{ev.ev}
		for len(batch) < 512 {
			select {
			case m := <-s.out:
				if e, ok := m.(eventMsg); ok {
					batch = append(batch, e.ev)
					continue
				}
				s.pending = m
				return eventsMsg{events: batch}
			default:
				return eventsMsg{events: batch}
			}
		}
		return eventsMsg{events: batch}
	}
}
