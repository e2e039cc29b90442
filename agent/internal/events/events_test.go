package events

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

func TestSubscribersGetEventsInOrder(t *testing.T) {
	t.Parallel()
	b := NewBroker(8)
	_, ch, _, cancel := b.Subscribe(0)
	defer cancel()
	first := b.Publish(Event{Type: api.EventRuleCreated, RuleName: "a"})
	second := b.Publish(Event{Type: api.EventRuleDeleted, RuleName: "a"})
	if second.ID != first.ID+1 {
		t.Fatalf("ids %d then %d, want consecutive", first.ID, second.ID)
	}
	for _, want := range []Event{first, second} {
		select {
		case got := <-ch:
			if got.ID != want.ID || got.Type != want.Type {
				t.Fatalf("got event %d %s, want %d %s", got.ID, got.Type, want.ID, want.Type)
			}
		case <-time.After(time.Second):
			t.Fatal("no event delivered")
		}
	}
}

func TestReplayAfterLastID(t *testing.T) {
	t.Parallel()
	b := NewBroker(4)
	var ids []uint64
	for range 6 {
		ids = append(ids, b.Publish(Event{Type: api.EventRunLog}).ID)
	}
	replay, _, ok, cancel := b.Subscribe(ids[3])
	defer cancel()
	if !ok || len(replay) != 2 || replay[0].ID != ids[4] || replay[1].ID != ids[5] {
		t.Fatalf("replay after %d = %v (ok %v), want ids %v", ids[3], replay, ok, ids[4:])
	}
	// ids[0] is older than the ring of 4: events were lost.
	replay, _, ok, cancel2 := b.Subscribe(ids[0])
	defer cancel2()
	if ok {
		t.Errorf("Subscribe(%d) ok = true, want false: the ring starts at %d", ids[0], ids[2])
	}
	if len(replay) != 4 {
		t.Errorf("replay = %d events, want the 4 kept", len(replay))
	}
}

func TestSlowSubscriberIsDroppedNotBlocking(t *testing.T) {
	t.Parallel()
	b := NewBroker(16)
	_, ch, _, cancel := b.Subscribe(0)
	defer cancel()
	done := make(chan struct{})
	go func() {
		for range subscriberBuffer + 10 {
			b.Publish(Event{Type: api.EventRunLog})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a subscriber that does not read")
	}
	n := 0
	for range ch {
		n++
	}
	if n != subscriberBuffer {
		t.Errorf("slow subscriber got %d events before its channel closed, want %d", n, subscriberBuffer)
	}
}

func TestIDsGrowAcrossBrokers(t *testing.T) {
	t.Parallel()
	a := NewBroker(1).Publish(Event{})
	time.Sleep(2 * time.Microsecond)
	b := NewBroker(1).Publish(Event{})
	if b.ID <= a.ID {
		t.Errorf("a later broker's first id %d is not above an earlier one's %d", b.ID, a.ID)
	}
}

func TestReplayAcrossTheRingsWrap(t *testing.T) {
	t.Parallel()
	b := NewBroker(5)
	var ids []uint64
	for range 13 { // wraps the ring twice and a bit
		ids = append(ids, b.Publish(Event{Type: api.EventRunLog}).ID)
	}
	for after := 7; after < 13; after++ {
		replay, _, ok, cancel := b.Subscribe(ids[after])
		cancel()
		if !ok {
			t.Errorf("Subscribe(%d): ok false, but the ring holds ids %d..%d", ids[after], ids[8], ids[12])
		}
		want := ids[after+1:]
		if len(replay) != len(want) {
			t.Fatalf("after id %d: replayed %d events, want %d", ids[after], len(replay), len(want))
		}
		for i := range want {
			if replay[i].ID != want[i] {
				t.Errorf("after id %d: replay[%d] = %d, want %d", ids[after], i, replay[i].ID, want[i])
			}
		}
	}
}

func BenchmarkPublish(b *testing.B) {
	br := NewBroker(DefaultHistory)
	_, ch, _, cancel := br.Subscribe(0)
	defer cancel()
	go func() {
		for range ch {
		}
	}()
	b.ReportAllocs()
	for b.Loop() {
		br.Publish(Event{Type: api.EventRunLog})
	}
}

func TestAnIDFromBeforeARestartIsReportedLost(t *testing.T) {
	t.Parallel()
	old := NewBroker(8)
	lastSeen := old.Publish(Event{Type: api.EventRunLog}).ID
	time.Sleep(2 * time.Microsecond)
	restarted := NewBroker(8)
	if _, _, ok, cancel := restarted.Subscribe(lastSeen); ok {
		cancel()
		t.Error("a Last-Event-ID from before the restart was accepted with nothing to replay; want ok false")
	} else {
		cancel()
	}
	if _, _, ok, cancel := restarted.Subscribe(restarted.nextID + 100); ok {
		cancel()
		t.Error("an id the broker never gave was accepted")
	} else {
		cancel()
	}
	// The current position is fine.
	if _, _, ok, cancel := restarted.Subscribe(restarted.Publish(Event{}).ID); !ok {
		t.Error("the newest id was reported lost")
		cancel()
	} else {
		cancel()
	}
}

// A large run output goes to the subscribers connected, but the history
// keeps the run without it: a replay after a reconnect carries outputs of
// at most MaxReplayedOutput.
func TestTheHistoryKeepsNoLargeOutput(t *testing.T) {
	t.Parallel()
	b := NewBroker(8)
	_, ch, _, cancel := b.Subscribe(0)
	defer cancel()
	big := json.RawMessage(`"` + strings.Repeat("x", MaxReplayedOutput) + `"`)
	small := json.RawMessage(`{"rows":3}`)
	first := b.Publish(Event{Type: api.EventRunFinished, Run: &store.Run{ID: "big", Output: big}})
	b.Publish(Event{Type: api.EventRunFinished, Run: &store.Run{ID: "small", Output: small}})
	for _, want := range []json.RawMessage{big, small} {
		select {
		case got := <-ch:
			if !bytes.Equal(got.Run.Output, want) {
				t.Errorf("live %s: output of %d bytes, want %d", got.Run.ID, len(got.Run.Output), len(want))
			}
		case <-time.After(time.Second):
			t.Fatal("no event delivered")
		}
	}
	replay, _, ok, cancel2 := b.Subscribe(first.ID - 1)
	defer cancel2()
	if !ok || len(replay) != 2 {
		t.Fatalf("replay = %d events, ok %t", len(replay), ok)
	}
	if replay[0].Run.Output != nil || replay[0].Run.ID != "big" {
		t.Errorf("replayed big run: output of %d bytes, want none", len(replay[0].Run.Output))
	}
	if !bytes.Equal(replay[1].Run.Output, small) {
		t.Errorf("replayed small run: output %s, want %s", replay[1].Run.Output, small)
	}
	_, frames, _, err := b.Watch(first.ID-1, WatchOptions{})
	if err != nil || len(frames) != 2 || frames[0].Run.Output != nil {
		t.Errorf("watch replay: %d frames, %v; want the big run without output", len(frames), err)
	}
}
