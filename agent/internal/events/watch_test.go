package events

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/shared/api"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

func TestWatchersShareOneFrameAndOneEncoding(t *testing.T) {
	t.Parallel()
	b := NewBroker(8)
	const n = 50
	ws := make([]*Watcher, n)
	for i := range ws {
		w, _, _, err := b.Watch(0, WatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		ws[i] = w
	}
	b.Publish(Event{Type: api.EventRuleCreated, RuleName: "r"})
	var encodes atomic.Int32
	type key struct{}
	encode := func(e Event) []byte {
		encodes.Add(1)
		time.Sleep(time.Millisecond) // let the others arrive while it encodes
		return []byte(e.RuleName)
	}
	frames := make([]*Frame, n)
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() {
			f := <-w.C
			frames[i] = f
			if got := string(f.Encoded(key{}, encode)); got != "r" {
				t.Errorf("watcher %d: encoded %q", i, got)
			}
		})
	}
	wg.Wait()
	for i, f := range frames {
		if f != frames[0] {
			t.Fatalf("watcher %d got its own copy of the frame; all should share one", i)
		}
	}
	if got := encodes.Load(); got != 1 {
		t.Errorf("%d watchers encoded the event %d times, want once", n, got)
	}
	// Another encoding of the same frame is made once too, beside the first.
	type other struct{}
	frames[0].Encoded(other{}, func(Event) []byte { encodes.Add(1); return []byte("x") })
	frames[0].Encoded(other{}, func(Event) []byte { encodes.Add(1); return []byte("x") })
	frames[0].Encoded(key{}, encode)
	if got := encodes.Load(); got != 2 {
		t.Errorf("after a second kind of encoding: %d encodes, want 2", got)
	}
}

func TestAWatcherThatFallsBehindIsDroppedAndPublishNeverWaits(t *testing.T) {
	t.Parallel()
	b := NewBroker(16)
	w, _, _, err := b.Watch(0, WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	done := make(chan struct{})
	go func() {
		for range subscriberBuffer * 3 {
			b.Publish(Event{Type: api.EventRunLog})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Publish waited for a watcher that does not read")
	}
	select {
	case <-w.Dropped:
	default:
		t.Fatal("a watcher a buffer behind was not dropped")
	}
	if got := len(w.C); got != subscriberBuffer {
		t.Errorf("the dropped watcher holds %d frames, want the %d it had room for", got, subscriberBuffer)
	}
	if got := b.Subscribers(); got != 0 {
		t.Errorf("%d subscribers after the drop, want 0", got)
	}
}

func TestAWatchersFilterAppliesToReplayAndLiveFrames(t *testing.T) {
	t.Parallel()
	b := NewBroker(16)
	runEvent := func(id string) Event {
		return Event{Type: api.EventRunLog, Run: &store.Run{ID: id}, Log: &store.LogLine{Seq: 1}}
	}
	first := b.Publish(runEvent("a"))
	b.Publish(runEvent("b"))
	b.Publish(runEvent("a"))
	onlyA := func(f *Frame) bool { return f.Run != nil && f.Run.ID == "a" }
	w, replay, complete, err := b.Watch(first.ID-1, WatchOptions{Filter: onlyA})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if !complete || len(replay) != 2 || replay[0].Run.ID != "a" || replay[1].Run.ID != "a" {
		t.Fatalf("replay of run a = %d frames (complete %v), want its 2", len(replay), complete)
	}
	b.Publish(runEvent("b"))
	want := b.Publish(runEvent("a"))
	select {
	case f := <-w.C:
		if f.ID != want.ID {
			t.Errorf("first live frame is %d (run %s), want %d of run a", f.ID, f.Run.ID, want.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no live frame")
	}
	if len(w.C) != 0 {
		t.Errorf("%d more frames; run b's should not reach the watcher", len(w.C))
	}
}

func TestWatchQuotasRefuseBeyondTheirMaxUntilOneCloses(t *testing.T) {
	t.Parallel()
	b := NewBroker(8)
	quotas := func(token string) []Quota {
		return []Quota{{Holder: "token " + token, Max: 2}, {Holder: "addr 1", Max: 3}}
	}
	w1, _, _, err1 := b.Watch(0, WatchOptions{Quotas: quotas("x")})
	w2, _, _, err2 := b.Watch(0, WatchOptions{Quotas: quotas("x")})
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	_, _, _, err := b.Watch(0, WatchOptions{Quotas: quotas("x")})
	var qe *QuotaError
	if !errors.As(err, &qe) || qe.Quota.Holder != "token x" || qe.Quota.Max != 2 {
		t.Fatalf("a third watcher of token x: %v, want the token's quota of 2 named", err)
	}
	w3, _, _, err := b.Watch(0, WatchOptions{Quotas: quotas("y")})
	if err != nil {
		t.Fatalf("another token from the same address, under its cap: %v", err)
	}
	if _, _, _, err := b.Watch(0, WatchOptions{Quotas: quotas("z")}); !errors.As(err, &qe) || qe.Quota.Holder != "addr 1" {
		t.Fatalf("a fourth watcher from the address: %v, want the address's quota", err)
	}
	w1.Close()
	w1.Close() // twice gives back once
	w4, _, _, err := b.Watch(0, WatchOptions{Quotas: quotas("x")})
	if err != nil {
		t.Fatalf("after one closed: %v", err)
	}
	if _, _, _, err := b.Watch(0, WatchOptions{Quotas: quotas("z")}); !errors.As(err, &qe) {
		t.Fatalf("closing twice gave back two places: %v", err)
	}
	for _, w := range []*Watcher{w2, w3, w4} {
		w.Close()
	}
	if len(b.held) != 0 {
		t.Errorf("quotas still held after every watcher closed: %v", b.held)
	}
}

// BenchmarkPublishToWatchers is what Publish costs with n watchers: a
// non-blocking send each (the streams are waiting to write, not parked on
// the channel). The watchers are drained outside the timer before they
// fill, so none is dropped.
func BenchmarkPublishToWatchers(b *testing.B) {
	for _, n := range []int{1, 500} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			br := NewBroker(DefaultHistory)
			ws := make([]*Watcher, n)
			for i := range ws {
				w, _, _, err := br.Watch(0, WatchOptions{})
				if err != nil {
					b.Fatal(err)
				}
				defer w.Close()
				ws[i] = w
			}
			b.ReportAllocs()
			for i := range b.N {
				if i%(subscriberBuffer-1) == 0 {
					b.StopTimer()
					for _, w := range ws {
						for len(w.C) > 0 {
							<-w.C
						}
					}
					b.StartTimer()
				}
				br.Publish(Event{Type: api.EventRunLog})
			}
			if br.Subscribers() != n {
				b.Fatalf("%d watchers left of %d: some were dropped", br.Subscribers(), n)
			}
		})
	}
}

func TestAWatchWithHistoryReplaysTheWholeRingThroughItsFilter(t *testing.T) {
	t.Parallel()
	b := NewBroker(4)
	for i := range 6 { // the ring keeps the last 4: lines 3 to 6
		b.Publish(Event{Type: api.EventRunLog, Run: &store.Run{ID: "r" + strconv.Itoa(i%2)}, Log: &store.LogLine{Seq: int64(i + 1)}})
	}
	w, replay, _, err := b.Watch(0, WatchOptions{History: true, Filter: func(f *Frame) bool { return f.Run.ID == "r0" }})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var seqs []int64
	for _, f := range replay {
		seqs = append(seqs, f.Log.Seq)
	}
	if len(seqs) != 2 || seqs[0] != 3 || seqs[1] != 5 {
		t.Errorf("replayed lines %v, want r0's still in the ring: [3 5]", seqs)
	}
	if _, none, _, _ := b.Watch(0, WatchOptions{}); len(none) != 0 {
		t.Errorf("a watch from 0 without History replayed %d frames", len(none))
	}
}
