// Package events is the agent's in-process publish/subscribe of run and rule
// changes. The runner and the rule service publish; the API's event stream
// and the notifiers subscribe. A ring of recent events lets a client that
// reconnects (SSE's Last-Event-ID) catch up on what it missed.
package events

import (
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/store"
)

// Type names what happened.
type Type string

// The event types.
const (
	RunStarted    Type = "run.started"
	RunSkipped    Type = "run.skipped"
	RunProgress   Type = "run.progress"
	RunLog        Type = "run.log"
	RunCancelling Type = "run.cancelling"
	RunFinished   Type = "run.finished"
	RuleCreated   Type = "rule.created"
	RuleChanged   Type = "rule.changed"
	RuleDeleted   Type = "rule.deleted"
)

// Event is one change. Run is set for run events (its state after the
// change), Log for run.log, Rule for rule events (RuleName always).
type Event struct {
	ID       uint64         `json:"-"`
	Type     Type           `json:"t"`
	Time     time.Time      `json:"ts"`
	RuleName string         `json:"n,omitempty"`
	Run      *store.Run     `json:"r,omitempty"`
	Log      *store.LogLine `json:"l,omitempty"`
	Rule     *store.Rule    `json:"u,omitempty"`
	// Origin is the node of the agent where it happened when that is
	// another agent (events relayed between agents); "" for this one.
	Origin string `json:"o,omitempty"`
}

// Local reports whether the event happened on this agent.
func (e Event) Local() bool { return e.Origin == "" }

// Broker fans events out to subscribers. The zero value is not usable; use
// NewBroker.
type Broker struct {
	mu     sync.Mutex
	nextID uint64
	ring   []Event // circular: the most recent events
	start  int     // index of the oldest event in ring
	size   int
	subs   map[*subscription]struct{}
}

type subscription struct {
	ch chan Event
}

// DefaultHistory is how many recent events a broker keeps for replay.
const DefaultHistory = 4096

// subscriberBuffer is how many events a subscriber may fall behind before it
// is dropped (its channel closed) rather than slowing publishers down; it
// reconnects with the last id it saw and replays from the ring.
const subscriberBuffer = 1024

// NewBroker returns a broker that keeps the last history events. Event ids
// start at the current time in microseconds, so ids keep growing across agent
// restarts and a client's old Last-Event-ID never matches a new event.
func NewBroker(history int) *Broker {
	if history <= 0 {
		history = DefaultHistory
	}
	return &Broker{
		nextID: uint64(time.Now().UnixMicro()),
		size:   history,
		subs:   make(map[*subscription]struct{}),
	}
}

// Publish assigns the event its id and time and delivers it to every
// subscriber without blocking. It returns the event as delivered.
func (b *Broker) Publish(e Event) Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextID++
	e.ID = b.nextID
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	if len(b.ring) < b.size {
		b.ring = append(b.ring, e)
	} else {
		b.ring[b.start] = e
		b.start = (b.start + 1) % b.size
	}
	for s := range b.subs {
		select {
		case s.ch <- e:
		default:
			// Too slow: drop it rather than block the runner.
			delete(b.subs, s)
			close(s.ch)
		}
	}
	return e
}

// Subscribe returns the events after lastID that are still in the ring
// (none when lastID is 0), and a channel of every event published from now
// on. ok is false when lastID is older than the ring, i.e. some events in
// between are lost. The channel is closed by cancel, or when the subscriber
// falls too far behind.
func (b *Broker) Subscribe(lastID uint64) (replay []Event, ch <-chan Event, ok bool, cancel func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	ok = true
	if lastID > b.nextID {
		ok = false // an id this broker never gave: from before a restart
	}
	if lastID > 0 && len(b.ring) == 0 && lastID < b.nextID {
		ok = false // from before a restart; nothing to replay
	}
	if lastID > 0 && len(b.ring) > 0 {
		oldest := b.ring[b.start]
		if lastID < oldest.ID-1 {
			ok = false
		}
		// Ids are consecutive, so the first event to replay is found by
		// arithmetic rather than a scan.
		skip := 0
		if lastID >= oldest.ID {
			skip = int(min(lastID-oldest.ID+1, uint64(len(b.ring))))
		}
		for i := skip; i < len(b.ring); i++ {
			replay = append(replay, b.ring[(b.start+i)%len(b.ring)])
		}
	}
	s := &subscription{ch: make(chan Event, subscriberBuffer)}
	b.subs[s] = struct{}{}
	cancel = func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		if _, live := b.subs[s]; live {
			delete(b.subs, s)
			close(s.ch)
		}
	}
	return replay, s.ch, ok, cancel
}

// Subscribers counts the current subscribers.
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}
