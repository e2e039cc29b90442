package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/shared/api"
)

// slowNotify is a store.Cluster whose NOTIFY takes its time, as a busy
// database's does, and keeps what was sent. Nothing else of it is used.
type slowNotify struct {
	store.Cluster
	delay time.Duration
	mu    sync.Mutex
	sent  []string
}

func (s *slowNotify) Notify(ctx context.Context, channel, payload string) error {
	time.Sleep(s.delay)
	if len(payload) > store.MaxNotifyPayload {
		return fmt.Errorf("payload of %d bytes", len(payload))
	}
	s.mu.Lock()
	s.sent = append(s.sent, payload)
	s.mu.Unlock()
	return nil
}

// A burst of runs on an agent whose NOTIFYs are slow reaches the others
// whole: taking events from the broker does not wait for the database, so
// the subscription is never dropped; state changes are relayed each, log
// lines all, and progress only when no state change of its run follows.
func TestASlowDatabaseDoesNotMakeTheRelayDropEvents(t *testing.T) {
	b := events.NewBroker(0)
	db := &slowNotify{delay: 30 * time.Millisecond}
	c := New(Config{Node: "agent-a", Events: b, Cluster: db})
	ctx, cancel := context.WithCancel(t.Context())
	_, ch, _, unsubscribe := b.SubscribeBuffered(0, RelayBuffer)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.relay(ctx, ch, unsubscribe)
	}()
	defer func() { cancel(); <-done }()

	const runs = 600 // 4,800 events, far more than a subscription holds
	// The longest rule name there may be, so that a message's every byte
	// is counted: one over PostgreSQL's limit would be lost.
	longRule := strings.Repeat("r", 64)
	for i := range runs {
		run := store.Run{ID: fmt.Sprintf("0190d1a8-0000-7000-8000-%012d", i), Rule: longRule, Job: "demo", Status: api.StatusRunning, Node: "agent-a",
			Parameters: map[string]string{"duration": "0s", "steps": "1"}}
		b.Publish(events.Event{Type: api.EventRunStarted, RuleName: longRule, Run: &run})
		for j := range 3 {
			p := run
			p.Progress = api.Progress{Percent: j * 50, Message: fmt.Sprint("step ", j)}
			b.Publish(events.Event{Type: api.EventRunProgress, RuleName: longRule, Run: &p})
			b.Publish(events.Event{Type: api.EventRunLog, RuleName: longRule, Run: &run, Log: &store.LogLine{Seq: int64(j + 1), Level: "info", Message: fmt.Sprint("line ", j+1)}})
		}
		fin := run
		fin.Status, fin.Progress = api.StatusSucceeded, api.Progress{Percent: 100, Message: "step 2"}
		b.Publish(events.Event{Type: api.EventRunFinished, RuleName: longRule, Run: &fin})
	}

	type tally struct {
		started, finished, progress int
		lines                       []int64
	}
	var byRun map[string]*tally
	wait.For(t, 30*time.Second, func() (bool, string) {
		db.mu.Lock()
		sent := append([]string(nil), db.sent...)
		db.mu.Unlock()
		byRun = map[string]*tally{}
		finished := 0
		for i, p := range sent {
			var m message
			if err := json.Unmarshal([]byte(p), &m); err != nil {
				t.Fatalf("message %d does not decode: %v", i+1, err)
			}
			if m.Gap || m.Seq != uint64(i+1) || m.Origin != "agent-a" {
				t.Fatalf("message %d: seq %d, gap %v, origin %q; want seq %d, no gap, agent-a", i+1, m.Seq, m.Gap, m.Origin, i+1)
			}
			for _, e := range m.Events {
				id := e.RunID
				if e.Run != nil {
					id = e.Run.ID
				}
				tl := byRun[id]
				if tl == nil {
					tl = &tally{}
					byRun[id] = tl
				}
				switch e.Type {
				case api.EventRunStarted:
					tl.started++
				case api.EventRunFinished:
					tl.finished++
					finished++
				case api.EventRunProgress:
					tl.progress++
				case api.EventRunLog:
					for _, l := range e.Lines {
						tl.lines = append(tl.lines, l.Seq)
					}
				}
			}
		}
		return finished == runs, fmt.Sprintf("%d of %d runs' ends relayed in %d messages", finished, runs, len(sent))
	})
	progress := 0
	for id, tl := range byRun {
		if tl.started != 1 || tl.finished != 1 || fmt.Sprint(tl.lines) != "[1 2 3]" {
			t.Fatalf("run %s relayed: %d starts, %d ends, lines %v; want 1, 1, [1 2 3]", id, tl.started, tl.finished, tl.lines)
		}
		progress += tl.progress
	}
	// The runs' events came one run after the other, so when a message
	// was sent at most one run was under way: only its progress can have
	// been relayed rather than replaced by its end.
	db.mu.Lock()
	messages := len(db.sent)
	db.mu.Unlock()
	if progress > messages {
		t.Fatalf("%d progress entries relayed in %d messages for %d runs; want at most one per message", progress, messages, runs)
	}
}

// A log line or progress message that encodes to more than a message may
// hold (here, control characters, six bytes each in JSON) is cut to fit,
// at a character's boundary, and says so: sent whole, its message would be
// refused by the database and the other agents' streams reset.
func TestLongTextIsCutToFitAMessage(t *testing.T) {
	limit := store.MaxNotifyPayload - 200
	text := strings.Repeat("\x01é", 1900) // 3,800 bytes; about 15,000 encoded
	line := encodeLine(store.LogLine{Seq: 1, Level: "info", Message: text}, limit)
	var l store.LogLine
	if err := json.Unmarshal([]byte(line), &l); err != nil || len(line) > limit || !strings.HasSuffix(l.Message, " […]") || !utf8.ValidString(l.Message) {
		t.Fatalf("line encoded in %d bytes (limit %d), message ends %q, valid UTF-8 %v, decode error %v",
			len(line), limit, l.Message[max(0, len(l.Message)-8):], utf8.ValidString(l.Message), err)
	}
	enc := encodeEntry(entry{Event: events.Event{Type: api.EventRunProgress}, RunID: "r", Progress: &api.Progress{Percent: 5, Message: text}}, limit)
	if len(enc) > limit {
		t.Fatalf("progress entry encoded in %d bytes; limit %d", len(enc), limit)
	}
}
