// Package events is the agent's in-process publish/subscribe of run and rule
// changes. The runner and the rule service publish; the API's event streams
// and the notifiers subscribe. A ring of recent events lets a client that
// reconnects (SSE's Last-Event-ID) catch up on what it missed.
//
// Publish never waits for a subscriber: one that falls a buffer behind is
// dropped and must come back with the last id it saw. Streams to clients
// use Watch rather than Subscribe: every watcher gets the same *Frame of an
// event, so the event is encoded once for all of them however many streams
// are open, and a watcher's filter runs in Publish, so a stream that wants
// one run's events is not woken for the others.
package events

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// Event is one change. Type is one of the api.Event* types, declared once
// in shared/api for the agent and its clients; here api.EventReset says
// events were lost on the way from another agent, and carries no run or
// rule. Run is set for run events (its state after the change), Log for
// run.log, Rule for rule events (RuleName always).
type Event struct {
	ID       uint64         `json:"-"`
	Type     string         `json:"t"`
	Time     time.Time      `json:"ts"`
	RuleName string         `json:"n,omitempty"`
	Run      *store.Run     `json:"r,omitempty"`
	Log      *store.LogLine `json:"l,omitempty"`
	Rule     *store.Rule    `json:"u,omitempty"`
	// Maintenance is the mode after a maintenance event.
	Maintenance *store.Maintenance `json:"m,omitempty"`
	// Origin is the node of the agent where it happened when that is
	// another agent (events relayed between agents); "" for this one.
	Origin string `json:"o,omitempty"`
	// Cause, on a run.finished event of this agent, is why the run's
	// context was cancelled, nil if it was not: it wraps one of the
	// runner's ErrCancelled, ErrTimeout or ErrShutdown (match it with
	// errors.Is). It is not relayed to other agents.
	Cause error `json:"-"`
	// Retry, on a run.finished event of this agent, is the retry its
	// finish queued (the rule's retry policy has attempts left), nil if
	// none: the series goes on. It is not relayed either.
	Retry *store.Run `json:"-"`
}

// Local reports whether the event happened on this agent.
func (e Event) Local() bool { return e.Origin == "" }

// Broker fans events out to subscribers. The zero value is not usable; use
// NewBroker.
type Broker struct {
	mu       sync.Mutex
	nextID   uint64
	ring     []*Frame // circular: the most recent events
	start    int      // index of the oldest event in ring
	size     int
	subs     map[*subscription]struct{}
	watchers map[*Watcher]struct{}
	held     map[string]int // open watchers by quota holder
}

type subscription struct {
	ch chan Event
}

// MaxReplayedOutput is the largest run output the broker's history keeps
// with an event: a run.finished replayed after a reconnect carries a larger
// output not at all (GET /runs/{id} has it), while subscribers that are
// connected get it whole.
const MaxReplayedOutput = 4 << 10

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
		nextID:   uint64(time.Now().UnixMicro()),
		size:     history,
		subs:     make(map[*subscription]struct{}),
		watchers: make(map[*Watcher]struct{}),
		held:     make(map[string]int),
	}
}

// Publish assigns the event its id and time and delivers it to every
// subscriber and watcher without blocking. It returns the event as
// delivered.
func (b *Broker) Publish(e Event) Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.nextID++
	e.ID = b.nextID
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	f := &Frame{Event: e}
	kept := f
	if e.Run != nil && len(e.Run.Output) > MaxReplayedOutput {
		// The history keeps the run without its large output: 4,096
		// events of 64 KiB each, encoded too, would hold half a GiB.
		lean := *e.Run
		lean.Output = nil
		kept = &Frame{Event: e}
		kept.Run = &lean
	}
	if len(b.ring) < b.size {
		b.ring = append(b.ring, kept)
	} else {
		b.ring[b.start] = kept
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
	for w := range b.watchers {
		if w.filter != nil && !w.filter(f) {
			continue
		}
		select {
		case w.ch <- f:
		default:
			delete(b.watchers, w)
			close(w.dropped)
		}
	}
	return e
}

// replayLocked returns the frames after lastID still in the ring (none when
// lastID is 0), and whether nothing in between was lost.
func (b *Broker) replayLocked(lastID uint64) (replay []*Frame, ok bool) {
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
	return replay, ok
}

// Subscribe returns the events after lastID that are still in the ring
// (none when lastID is 0), and a channel of every event published from now
// on. ok is false when lastID is older than the ring, i.e. some events in
// between are lost. The channel is closed by cancel, or when the subscriber
// falls too far behind.
func (b *Broker) Subscribe(lastID uint64) (replay []Event, ch <-chan Event, ok bool, cancel func()) {
	return b.SubscribeBuffered(lastID, subscriberBuffer)
}

// SubscribeBuffered is Subscribe with a channel that holds buffer events
// before the subscriber is dropped: for a subscriber that must see every
// event of a burst, such as the relay to other agents.
func (b *Broker) SubscribeBuffered(lastID uint64, buffer int) (replay []Event, ch <-chan Event, ok bool, cancel func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	frames, ok := b.replayLocked(lastID)
	for _, f := range frames {
		replay = append(replay, f.Event)
	}
	s := &subscription{ch: make(chan Event, max(buffer, 1))}
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

// Subscribers counts the current subscribers and watchers.
func (b *Broker) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs) + len(b.watchers)
}

// Frame is an event as the broker keeps it and hands it to watchers: one
// value shared by all of them, with room for its encodings, so that an
// event is encoded once however many streams carry it. A frame and its
// Event are read-only.
type Frame struct {
	Event
	encodings atomic.Pointer[[]encoding] // copied on write
	mu        sync.Mutex                 // held while a new encoding is made
}

type encoding struct {
	key  any
	data []byte
}

// Encoded returns the frame encoded by encode. The first caller for a key
// encodes (the others asking meanwhile wait for it) and every later caller
// gets the same bytes, which it must not change. key names the encoding:
// a comparable value of the caller's own type, so that two encodings of
// one event never mix.
func (f *Frame) Encoded(key any, encode func(Event) []byte) []byte {
	if data, ok := f.lookup(key); ok {
		return data
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if data, ok := f.lookup(key); ok {
		return data
	}
	var next []encoding
	if old := f.encodings.Load(); old != nil {
		next = append(next, *old...)
	}
	data := encode(f.Event)
	next = append(next, encoding{key: key, data: data})
	f.encodings.Store(&next)
	return data
}

func (f *Frame) lookup(key any) ([]byte, bool) {
	if encs := f.encodings.Load(); encs != nil {
		for _, e := range *encs {
			if e.key == key {
				return e.data, true
			}
		}
	}
	return nil, false
}

// Quota caps how many watchers one holder (a token, a client address) may
// have open at once.
type Quota struct {
	Holder string // names the holder, e.g. "token ci"
	Max    int    // 0 or less: no cap
}

// QuotaError is Watch's answer when a holder already has its quota's
// worth of watchers.
type QuotaError struct {
	Quota Quota
}

func (e *QuotaError) Error() string {
	return fmt.Sprintf("%s already has %d open watchers, the most it may have", e.Quota.Holder, e.Quota.Max)
}

// WatchOptions shape a Watch. The zero value watches everything, with no
// quota.
type WatchOptions struct {
	// Filter picks the frames the watcher gets, replayed ones included.
	// It runs inside Publish, under the broker's lock: it must be quick,
	// must not block and must not call the broker.
	Filter func(*Frame) bool
	// History replays every frame still in the ring that passes the
	// filter, whatever the lastID given to Watch (which then only decides
	// complete). A followed log wants it: the runner publishes a line
	// before it stores it, so the lines published before the watcher
	// opened and not stored yet are in the ring only.
	History bool
	// Quotas are counted against while the watcher is open; Watch answers
	// a *QuotaError when one is full, and opens nothing.
	Quotas []Quota
}

// Watcher receives the frames published after Watch. Close it when done.
type Watcher struct {
	// C carries the frames, in order. It is never closed: select on
	// Dropped too.
	C <-chan *Frame
	// Dropped is closed when the watcher fell a buffer behind and the
	// broker stopped sending to it, rather than wait. The watcher should
	// end its stream so that its client comes back with the last id it
	// got.
	Dropped <-chan struct{}

	b       *Broker
	ch      chan *Frame
	dropped chan struct{}
	filter  func(*Frame) bool
	quotas  []Quota
	closed  bool // under b.mu
}

// Watch returns the frames after lastID still in the ring that pass the
// filter (none when lastID is 0), and a watcher of every frame published
// from now on. complete is false when lastID is older than the ring: some
// events in between are lost.
func (b *Broker) Watch(lastID uint64, opts WatchOptions) (w *Watcher, replay []*Frame, complete bool, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, q := range opts.Quotas {
		if q.Max > 0 && b.held[q.Holder] >= q.Max {
			return nil, nil, false, &QuotaError{Quota: q}
		}
	}
	for _, q := range opts.Quotas {
		b.held[q.Holder]++
	}
	frames, complete := b.replayLocked(lastID)
	if opts.History {
		frames = frames[:0]
		for i := range len(b.ring) {
			frames = append(frames, b.ring[(b.start+i)%len(b.ring)])
		}
	}
	for _, f := range frames {
		if opts.Filter == nil || opts.Filter(f) {
			replay = append(replay, f)
		}
	}
	w = &Watcher{
		b: b, ch: make(chan *Frame, subscriberBuffer), dropped: make(chan struct{}),
		filter: opts.Filter, quotas: opts.Quotas,
	}
	w.C, w.Dropped = w.ch, w.dropped
	b.watchers[w] = struct{}{}
	return w, replay, complete, nil
}

// Close stops the watcher and gives back its quotas. It may be called more
// than once.
func (w *Watcher) Close() {
	b := w.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if w.closed {
		return
	}
	w.closed = true
	delete(b.watchers, w)
	for _, q := range w.quotas {
		if b.held[q.Holder]--; b.held[q.Holder] <= 0 {
			delete(b.held, q.Holder)
		}
	}
}
