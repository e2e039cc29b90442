package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// A relayed message is one NOTIFY on ChannelEvents:
//
//	{"o": node, "i": instance, "s": seq, "g": true, "e": [event, ...]}
//
// seq counts the messages of one run of an agent (instance) from 1, every
// message it tried to send included, so a receiver that sees a number
// skipped knows events were lost on the way; "g" (gap) says the sender
// itself lost some before this message (its subscription fell behind, or
// a NOTIFY failed). Either way the receiver's streams get a reset.
type message struct {
	Origin   string         `json:"o"`
	Instance string         `json:"i"`
	Seq      uint64         `json:"s"`
	Gap      bool           `json:"g,omitempty"`
	Events   []events.Event `json:"e"`
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

// relay sends this agent's events to the others, from the subscription
// Run made and from a new one each time the broker drops it.
func (c *Cluster) relay(ctx context.Context, ch <-chan events.Event, unsubscribe func()) {
	r := newRelayer(c)
	for {
		r.from(ctx, ch)
		unsubscribe()
		if ctx.Err() != nil {
			return
		}
		r.lost = true
		c.log.Warn("cluster: relaying events fell behind; some were not relayed, and the other agents' streams are told to reload")
		_, ch, _, unsubscribe = c.cfg.Events.Subscribe(0)
	}
}

// relayer is the sending side's state.
type relayer struct {
	c        *Cluster
	head     string // the message's opening up to its sequence number
	overhead int    // the most a message adds to its events
	seq      uint64
	lost     bool // events were lost since the last message sent
	batch    []string
	size     int
}

func newRelayer(c *Cluster) *relayer {
	node, _ := json.Marshal(c.cfg.Node)
	r := &relayer{c: c, head: `{"o":` + string(node) + `,"i":"` + c.instance + `","s":`}
	r.overhead = len(r.head) + len(`18446744073709551615,"g":true,"e":[]}`)
	r.size = r.overhead
	return r
}

func (r *relayer) from(ctx context.Context, ch <-chan events.Event) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	if r.lost {
		timer.Reset(0) // say so at once
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			r.flush(ctx)
			if r.lost {
				timer.Reset(gapRetry)
			}
		case e, ok := <-ch:
			if !ok {
				r.flush(ctx)
				return
			}
			if !e.Local() {
				continue
			}
			e.Origin = r.c.cfg.Node
			enc := encode(e, store.MaxNotifyPayload-r.overhead)
			if r.size+len(enc)+1 > store.MaxNotifyPayload {
				r.flush(ctx)
			}
			if len(r.batch) == 0 {
				timer.Reset(relayBatchDelay)
			}
			r.batch = append(r.batch, enc)
			r.size += len(enc) + 1
		}
	}
}

// flush sends the batch, or only the news of a gap when there is one.
func (r *relayer) flush(ctx context.Context) {
	if len(r.batch) == 0 && !r.lost {
		return
	}
	r.seq++
	var b strings.Builder
	b.Grow(r.size)
	b.WriteString(r.head)
	b.WriteString(strconv.FormatUint(r.seq, 10))
	if r.lost {
		b.WriteString(`,"g":true`)
	}
	b.WriteString(`,"e":[`)
	b.WriteString(strings.Join(r.batch, ","))
	b.WriteString("]}")
	r.batch, r.size = r.batch[:0], r.overhead
	if err := r.c.cfg.Cluster.Notify(ctx, ChannelEvents, b.String()); err != nil {
		if ctx.Err() == nil {
			r.c.log.Debug("cluster: relay events", "err", err)
			r.lost = true
		}
		return
	}
	r.lost = false
}

// encode packs an event into at most limit bytes, dropping what does not
// fit (the receiver reads the run or rule from the database instead).
func encode(e events.Event, limit int) string {
	b, _ := json.Marshal(e)
	if len(b) <= limit {
		return string(b)
	}
	if e.Log != nil && len(e.Log.Message) > 2000 {
		l := *e.Log
		l.Message = l.Message[:2000] + " […]"
		e.Log = &l
	}
	if e.Run != nil {
		e.Run = &store.Run{ID: e.Run.ID}
	}
	if e.Rule != nil {
		e.Rule = nil
	}
	b, _ = json.Marshal(e)
	return string(b)
}

// receive publishes other agents' events on this one's broker, after a
// reset when some were lost on the way.
func (c *Cluster) receive(ctx context.Context, payload string) {
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
		return // our own, back from PostgreSQL
	}
	if m.Origin != "" {
		if why := c.heard(m); why != "" {
			c.log.Warn("cluster: events of another agent were lost; the streams are told to reload", "agent", m.Origin, "why", why)
			c.publishReset(m.Origin)
		}
	}
	for _, e := range m.Events {
		c.receiveOne(ctx, e)
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
