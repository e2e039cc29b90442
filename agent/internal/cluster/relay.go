package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// A relayed message is one NOTIFY on ChannelEvents:
//
//	{"o": node, "i": instance, "s": seq, "g": true, "e": [entry, ...]}
//
// seq counts the messages of one run of an agent (instance) from 1, every
// message it tried to send included, so a receiver that sees a number
// skipped knows events were lost on the way; "g" (gap) says the sender
// itself lost some before this message (its queue was full, or a NOTIFY
// failed). Either way the receiver's streams get a reset.
//
// Only state changes (a run started, skipped, cancelling or finished; a
// rule created, changed or deleted) are relayed whole, each encoded once.
// Progress and log lines, most of what a run says, are coalesced per run
// within a message: one entry with the run's id and its new lines, one
// with its latest progress (none when a state change of the run follows in
// the same message, which carries it). The receiver fills in the run from
// the last state it heard of it.
type message struct {
	Origin   string  `json:"o"`
	Instance string  `json:"i"`
	Seq      uint64  `json:"s"`
	Gap      bool    `json:"g,omitempty"`
	Events   []entry `json:"e"`
}

// entry is one relayed event: an events.Event, or a run's coalesced log
// lines or progress, which name the run by RunID only.
type entry struct {
	events.Event
	RunID    string          `json:"id,omitempty"`
	Lines    []store.LogLine `json:"ls,omitempty"`
	Progress *api.Progress   `json:"p,omitempty"`
}

// peer is the last message heard from an agent.
type peer struct {
	instance string
	seq      uint64
}

func newInstance() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// relayBatchDelay is how long relayed events wait for company: one NOTIFY
// carries all the events of that time that fit, so a busy agent sends a
// few notifications a second rather than one per event.
const relayBatchDelay = 20 * time.Millisecond

// gapRetry is how often a sender that lost events tries to say so while it
// has nothing else to send.
const gapRetry = time.Second

// sendQueueBytes bounds the messages waiting for their NOTIFY. Events keep
// being taken from the broker while the database is slow; past this much,
// messages are dropped and the next one says so (a gap), rather than the
// agent's memory growing without end.
const sendQueueBytes = 8 << 20

// RelayBuffer is how many events the relay's subscription holds: a burst
// of runs (thousands of events a second, each run's start, log lines,
// progress and end) is taken whole while the relay encodes the events
// before it.
const RelayBuffer = 16384

// relay sends this agent's events to the others, from the subscription
// Run made and from a new one each time the broker drops it. Taking events
// and sending them are apart: a NOTIFY that waits for the database does
// not hold up the broker's subscription.
func (c *Cluster) relay(ctx context.Context, ch <-chan events.Event, unsubscribe func()) {
	r := newRelayer(c)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.q.send(ctx, c, r.head)
	}()
	defer func() { <-done }()
	defer r.q.close()
	for {
		r.from(ctx, ch)
		unsubscribe()
		if ctx.Err() != nil {
			return
		}
		r.q.gap()
		c.log.Warn("cluster: relaying events fell behind; some were not relayed, and the other agents' streams are told to reload")
		_, ch, _, unsubscribe = c.cfg.Events.SubscribeBuffered(0, RelayBuffer)
	}
}

// relayer is the sending side's state: the message being gathered.
type relayer struct {
	c        *Cluster
	q        *sendQueue
	head     string   // the message's opening up to its sequence number
	overhead int      // the most a message adds to its entries
	entries  []string // encoded; "" for one dropped since
	size     int
	runs     map[string]*runEntries // this message's coalesced entries, by run
}

// runEntries are a run's coalesced entries in the message being gathered.
type runEntries struct {
	logAt    int // index of its log entry in entries, -1 for none
	lines    []string
	progress int // index of its progress entry, -1 for none
}

func newRelayer(c *Cluster) *relayer {
	r := &relayer{c: c, q: newSendQueue(), head: ownPrefix(c.cfg.Node, c.instance) + `"s":`, runs: make(map[string]*runEntries)}
	r.overhead = len(r.head) + len(`18446744073709551615,"g":true,"e":[]}`)
	r.size = r.overhead
	return r
}

// ownPrefix is how every message of this agent begins: a receiver knows
// its own messages, back from PostgreSQL, without decoding them.
func ownPrefix(node, instance string) string {
	n, _ := json.Marshal(node)
	return `{"o":` + string(n) + `,"i":"` + instance + `",`
}

func (r *relayer) from(ctx context.Context, ch <-chan events.Event) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			r.flush()
		case e, ok := <-ch:
			if !ok {
				r.flush()
				return
			}
			if !e.Local() {
				continue
			}
			if len(r.entries) == 0 {
				timer.Reset(relayBatchDelay)
			}
			r.add(e)
		}
	}
}

// add puts an event in the message being gathered, flushing first what
// would not fit with it.
func (r *relayer) add(e events.Event) {
	limit := store.MaxNotifyPayload - r.overhead
	switch {
	case e.Type == api.EventRunLog && e.Log != nil && e.Run != nil:
		line := encodeLine(*e.Log, limit-200)
		re := r.run(e.Run.ID)
		if re.logAt < 0 {
			head := logEntryHead(e.Run.ID, e.Run.Rule)
			if !r.fits(len(head) + len(logEntryTail) + 1 + len(line) + 1) {
				r.flush()
				re = r.run(e.Run.ID)
			}
			re.logAt = len(r.entries)
			r.entries = append(r.entries, head) // its lines are added at flush
			r.size += len(head) + len(logEntryTail) + 1
		} else if !r.fits(len(line) + 1) {
			r.flush()
			r.add(e)
			return
		}
		re.lines = append(re.lines, line)
		r.size += len(line) + 1
	case e.Type == api.EventRunProgress && e.Run != nil:
		enc := encodeEntry(entry{Event: events.Event{Type: e.Type, Time: e.Time, RuleName: e.RuleName}, RunID: e.Run.ID, Progress: &e.Run.Progress}, limit)
		re := r.run(e.Run.ID)
		r.dropProgress(re) // this one replaces it
		if !r.fits(len(enc) + 1) {
			r.flush()
			re = r.run(e.Run.ID)
		}
		re.progress = len(r.entries)
		r.entries = append(r.entries, enc)
		r.size += len(enc) + 1
	default:
		e.Origin = r.c.cfg.Node
		enc := encodeEntry(entry{Event: e}, limit)
		if !r.fits(len(enc) + 1) {
			r.flush()
		}
		if e.Run != nil {
			if re := r.runs[e.Run.ID]; re != nil {
				r.dropProgress(re) // the state change carries the run's progress
			}
		}
		r.entries = append(r.entries, enc)
		r.size += len(enc) + 1
	}
}

// A run's log entry is logEntryHead, its lines separated by commas, then
// logEntryTail.
const logEntryTail = "]}"

func logEntryHead(id, rule string) string {
	i, _ := json.Marshal(id)
	n, _ := json.Marshal(rule)
	return `{"t":"` + api.EventRunLog + `","n":` + string(n) + `,"id":` + string(i) + `,"ls":[`
}

// dropProgress takes the run's progress entry, if any, out of the message
// being gathered.
func (r *relayer) dropProgress(re *runEntries) {
	if re.progress >= 0 {
		r.size -= len(r.entries[re.progress]) + 1
		r.entries[re.progress] = ""
		re.progress = -1
	}
}

func (r *relayer) fits(n int) bool { return r.size+n <= store.MaxNotifyPayload }

func (r *relayer) run(id string) *runEntries {
	re := r.runs[id]
	if re == nil {
		re = &runEntries{logAt: -1, progress: -1}
		r.runs[id] = re
	}
	return re
}

// flush queues the entries gathered as one message.
func (r *relayer) flush() {
	if len(r.entries) == 0 {
		return
	}
	for _, re := range r.runs {
		if re.logAt >= 0 {
			r.entries[re.logAt] += strings.Join(re.lines, ",") + logEntryTail
		}
	}
	var b strings.Builder
	b.Grow(r.size)
	b.WriteByte('[')
	first := true
	for _, e := range r.entries {
		if e == "" {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		b.WriteString(e)
	}
	b.WriteByte(']')
	r.entries, r.size = r.entries[:0], r.overhead
	clear(r.runs)
	r.q.put(b.String())
}

// encodeEntry packs an entry into at most limit bytes, dropping what does
// not fit (the receiver reads the run or rule from the database instead).
func encodeEntry(e entry, limit int) string {
	b, _ := json.Marshal(e)
	if len(b) <= limit {
		return string(b)
	}
	if e.Run != nil {
		e.Run = &store.Run{ID: e.Run.ID}
	}
	e.Rule = nil
	if e.Progress != nil {
		p := *e.Progress
		p.Message = cutToFit(p.Message, limit)
		e.Progress = &p
	}
	b, _ = json.Marshal(e)
	return string(b)
}

// encodeLine encodes a log line in at most limit bytes, cutting a long
// message.
func encodeLine(l store.LogLine, limit int) string {
	b, _ := json.Marshal(l)
	if len(b) <= limit {
		return string(b)
	}
	l.Message = cutToFit(l.Message, limit)
	b, _ = json.Marshal(l)
	return string(b)
}

// cutToFit cuts a message, at a character's boundary, so that it encodes
// in JSON within limit bytes with room to spare, whatever it holds (a
// control character encodes in six), and says where it was cut.
func cutToFit(s string, limit int) string {
	n := max(limit/6-100, 0)
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + " […]"
}

// sendQueue holds the messages waiting for their NOTIFY (their entries),
// up to sendQueueBytes. Its sender numbers them as it sends them.
type sendQueue struct {
	mu     sync.Mutex
	msgs   []string
	bytes  int
	lost   bool // events were lost since the last message sent
	wake   chan struct{}
	closed bool
}

func newSendQueue() *sendQueue { return &sendQueue{wake: make(chan struct{}, 1)} }

// put queues a message's entries; when the queue is full they are lost,
// and the next message says so.
func (q *sendQueue) put(entries string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.bytes+len(entries) > sendQueueBytes {
		q.lost = true
	} else {
		q.msgs = append(q.msgs, entries)
		q.bytes += len(entries)
	}
	q.signal()
}

// gap notes that events were lost before they reached the queue.
func (q *sendQueue) gap() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.lost = true
	q.signal()
}

func (q *sendQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.signal()
}

func (q *sendQueue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// send NOTIFYs the queued messages in order, numbered from 1, until the
// queue is closed and empty or ctx is done. A message the database refuses
// is lost: the next one says so, and while nothing else is to be sent a
// message with no events says it every gapRetry.
func (q *sendQueue) send(ctx context.Context, c *Cluster, head string) {
	var seq uint64
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	defer retry.Stop()
	for {
		q.mu.Lock()
		msgs, lost, closed := q.msgs, q.lost, q.closed
		q.msgs, q.bytes, q.lost = nil, 0, false
		q.mu.Unlock()
		if lost && len(msgs) == 0 {
			msgs = []string{"[]"}
		}
		for _, entries := range msgs {
			seq++
			var b strings.Builder
			b.Grow(len(head) + len(entries) + 40)
			b.WriteString(head)
			b.WriteString(strconv.FormatUint(seq, 10))
			if lost {
				b.WriteString(`,"g":true`)
			}
			b.WriteString(`,"e":`)
			b.WriteString(entries)
			b.WriteByte('}')
			if err := c.cfg.Cluster.Notify(ctx, ChannelEvents, b.String()); err != nil {
				if ctx.Err() != nil {
					return
				}
				c.log.Debug("cluster: relay events", "err", err)
				lost = true
				continue
			}
			lost = false
		}
		if lost { // the database refused the last: wait before the next try
			q.mu.Lock()
			q.lost = true
			q.mu.Unlock()
			retry.Reset(gapRetry)
			select {
			case <-retry.C:
			case <-ctx.Done():
				return
			}
			continue
		}
		if len(msgs) > 0 {
			continue
		}
		if closed {
			return
		}
		select {
		case <-q.wake:
		case <-ctx.Done():
			return
		}
	}
}

// receive publishes other agents' events on this one's broker, after a
// reset when some were lost on the way.
func (c *Cluster) receive(ctx context.Context, payload string) {
	if strings.HasPrefix(payload, c.ownPrefix) {
		return // our own, back from PostgreSQL
	}
	var m message
	var err error
	if strings.HasPrefix(payload, "[") { // an agent from before sequence numbers
		err = json.Unmarshal([]byte(payload), &m.Events)
	} else {
		err = json.Unmarshal([]byte(payload), &m)
	}
	if err != nil {
		c.log.Warn("cluster: undecodable events; the streams are told to reload", "err", err)
		c.publishReset("")
		return
	}
	if m.Origin == c.cfg.Node {
		return // our own, from an earlier run of this agent
	}
	if m.Origin != "" {
		if why := c.heard(m); why != "" {
			c.log.Warn("cluster: events of another agent were lost; the streams are told to reload", "agent", m.Origin, "why", why)
			c.publishReset(m.Origin)
		}
	}
	for _, e := range m.Events {
		switch {
		case e.RunID != "" && e.Type == api.EventRunLog:
			run, ok := c.runs.get(ctx, c.cfg.Store, e.RunID)
			if !ok {
				continue
			}
			for i := range e.Lines {
				c.cfg.Events.Publish(events.Event{Type: api.EventRunLog, RuleName: e.RuleName, Run: &run, Log: &e.Lines[i], Origin: m.Origin})
			}
		case e.RunID != "" && e.Type == api.EventRunProgress && e.Progress != nil:
			run, ok := c.runs.get(ctx, c.cfg.Store, e.RunID)
			if !ok {
				continue
			}
			run.Progress = *e.Progress
			c.runs.put(run)
			c.cfg.Events.Publish(events.Event{Type: api.EventRunProgress, Time: e.Time, RuleName: e.RuleName, Run: &run, Origin: m.Origin})
		default:
			c.receiveOne(ctx, e.Event)
		}
	}
}

// heard notes a message and says what was lost before it, if anything.
func (c *Cluster) heard(m message) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	last, known := c.peers[m.Origin]
	c.peers[m.Origin] = peer{instance: m.Instance, seq: m.Seq}
	switch {
	case m.Gap:
		return "the agent could not relay some of its events"
	case !known:
		return "" // the first heard since this agent listens
	case last.instance == m.Instance && m.Seq != last.seq+1:
		return fmt.Sprintf("message %d came after message %d", m.Seq, last.seq)
	case last.instance != m.Instance && m.Seq != 1:
		return fmt.Sprintf("the agent restarted, and its first message heard is number %d", m.Seq)
	}
	return ""
}

// resetPeers forgets what was heard: after a reconnection, sequence
// numbers start over from whatever is heard next.
func (c *Cluster) resetPeers() {
	c.mu.Lock()
	clear(c.peers)
	c.mu.Unlock()
}

func (c *Cluster) receiveOne(ctx context.Context, e events.Event) {
	if e.Origin == c.cfg.Node || e.Origin == "" {
		return // our own, back from PostgreSQL
	}
	if e.Run != nil && e.Run.Job == "" { // trimmed: read it
		run, err := c.cfg.Store.RunGet(ctx, e.Run.ID)
		if err != nil {
			return
		}
		e.Run = &run
	}
	if e.Run != nil {
		c.runs.put(*e.Run) // the state that the run's log and progress entries fill in
	}
	if e.Rule == nil && (e.Type == api.EventRuleCreated || e.Type == api.EventRuleChanged) {
		rule, err := c.cfg.Store.RuleGet(ctx, e.RuleName)
		if err != nil {
			return
		}
		e.Rule = &rule
	}
	if e.Type == api.EventRuleChanged || e.Type == api.EventRuleDeleted || e.Type == api.EventRuleCreated {
		c.cfg.Runner.ForgetRule(e.RuleName)
		if c.cfg.RuleChanged != nil {
			rule := store.Rule{Name: e.RuleName}
			if e.Rule != nil {
				rule = *e.Rule
			}
			c.cfg.RuleChanged(ctx, rule, e.Type == api.EventRuleDeleted)
		}
	}
	c.cfg.Events.Publish(e)
}

// maxRemoteRuns bounds the runs of other agents whose last state a
// receiver keeps, to fill in their log and progress entries.
const maxRemoteRuns = 10_000

// remoteRuns is the last state heard of other agents' active runs.
type remoteRuns struct {
	mu sync.Mutex
	m  map[string]store.Run
}

// put keeps an active run's state, and forgets a finished one.
func (rr *remoteRuns) put(r store.Run) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	if r.Status.Terminal() {
		delete(rr.m, r.ID)
		return
	}
	if rr.m == nil {
		rr.m = make(map[string]store.Run)
	}
	if _, ok := rr.m[r.ID]; !ok && len(rr.m) >= maxRemoteRuns {
		clear(rr.m) // runs whose end was never heard: read again when needed
	}
	rr.m[r.ID] = r
}

// get returns the last state heard of a run, read from the store when none
// was heard (this agent started listening after the run started).
func (rr *remoteRuns) get(ctx context.Context, s store.Store, id string) (store.Run, bool) {
	rr.mu.Lock()
	r, ok := rr.m[id]
	rr.mu.Unlock()
	if ok {
		return r, true
	}
	r, err := s.RunGet(ctx, id)
	if err != nil {
		return store.Run{}, false
	}
	rr.put(r)
	return r, true
}
