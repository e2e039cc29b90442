package maintenance_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/maintenance"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// memStore is the mode as another agent would change it: behind the
// switch's back.
type memStore struct {
	mu    sync.Mutex
	m     store.Maintenance
	reads int
	audit []store.AuditEntry
}

func (s *memStore) MaintenanceGet(context.Context) (store.Maintenance, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return s.m, nil
}

func (s *memStore) MaintenanceSet(_ context.Context, m store.Maintenance) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m = m
	return nil
}

func (s *memStore) AuditAppend(_ context.Context, e store.AuditEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.audit = append(s.audit, e)
	return nil
}

// A change made elsewhere is seen once the TTL has passed, and the mode
// is read at most once per TTL however often it is asked.
func TestOnRereadsAfterTheTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &memStore{}
		sw := maintenance.New(maintenance.Config{Store: st, TTL: 2 * time.Second})
		if sw.On(time.Now()) {
			t.Fatal("on before anything was set")
		}
		_ = st.MaintenanceSet(context.Background(), store.Maintenance{On: true, Reason: "elsewhere"})
		for range 100 {
			if sw.On(time.Now()) {
				t.Fatal("took a change before its TTL passed")
			}
		}
		time.Sleep(2 * time.Second)
		if on, reason := sw.Active(context.Background()); !on || reason != "elsewhere" {
			t.Errorf("after the TTL: %v %q, want on, elsewhere", on, reason)
		}
		if st.reads != 2 {
			t.Errorf("%d reads of the store, want 2 (one per TTL)", st.reads)
		}
	})
}

// A mode past its end time is off on read, before any timer records it.
func TestEndTimeIsEvaluatedOnRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &memStore{m: store.Maintenance{On: true, Until: time.Now().Add(time.Minute)}}
		sw := maintenance.New(maintenance.Config{Store: st})
		if !sw.On(time.Now()) {
			t.Fatal("off before its end time")
		}
		if sw.On(time.Now().Add(time.Minute)) {
			t.Error("on at its end time")
		}
		if m, _ := sw.Get(context.Background()); !m.On {
			t.Error("Get says off before the end time")
		}
	})
}

// Another agent's change, relayed as an event, is taken at once; on the
// follower no timer records the end (the leader does).
func TestRelayedChangeIsTakenAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &memStore{}
		b := events.NewBroker(0)
		sw := maintenance.New(maintenance.Config{Store: st, Events: b, TTL: time.Hour,
			Leader: func(context.Context) (bool, error) { return false, nil }})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go sw.Run(ctx)
		synctest.Wait()
		until := time.Now().Add(time.Minute)
		m := store.Maintenance{On: true, Until: until, Reason: "relayed"}
		_ = st.MaintenanceSet(ctx, m)
		b.Publish(events.Event{Type: api.EventMaintenance, Origin: "other-agent", Maintenance: &m})
		synctest.Wait()
		if !sw.On(time.Now()) {
			t.Fatal("the relayed change was not taken")
		}
		time.Sleep(2 * time.Minute)
		if sw.On(time.Now()) {
			t.Error("on after its end time")
		}
		if len(st.audit) != 0 || !st.m.On {
			t.Errorf("a follower recorded the end: audit %+v, stored %+v", st.audit, st.m)
		}
	})
}
