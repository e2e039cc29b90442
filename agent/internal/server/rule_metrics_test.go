package server_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/server"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/shared/api"
)

// ruleGauges are the per-rule gauges of rule r in a scrape, as Prometheus
// writes them: last success, last failure and the status that is 1.
func ruleGauges(body, r string) string {
	var success, failure, status string
	for line := range strings.SplitSeq(body, "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch {
		case k == `jobbridge_rule_last_success_timestamp_seconds{rule="`+r+`"}`:
			success = v
		case k == `jobbridge_rule_last_failure_timestamp_seconds{rule="`+r+`"}`:
			failure = v
		case strings.HasPrefix(k, `jobbridge_rule_last_status{rule="`+r+`"`) && v == "1":
			status = strings.TrimSuffix(strings.TrimPrefix(k, `jobbridge_rule_last_status{rule="`+r+`",status="`), `"}`)
		}
	}
	return fmt.Sprintf("success %s, failure %s, status %s", success, failure, status)
}

func gauges(success, failure time.Time, status api.RunStatus) string {
	return fmt.Sprintf("success %v, failure %v, status %s", float64(success.Unix()), float64(failure.Unix()), status)
}

// TestRuleGaugesFollowTheLastFinishOnEveryPath: a run created first may
// finish last. The gauges follow the run that finished last, whether a
// finish event moved them or the store was read again, whatever order the
// events came in: otherwise the last status flaps between the two at
// every read, goes back in time, and disagrees with the last failure.
func TestRuleGaugesFollowTheLastFinishOnEveryPath(t *testing.T) {
	storetesting.Each(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		if _, err := st.RuleCreate(ctx, store.Rule{Name: "r", Job: "demo", Schedule: "rate(1 day)", Enabled: true}); err != nil {
			t.Fatal(err)
		}
		m := server.NewMetrics()
		m.WatchRules(st, 0)
		at := func(h, min int) time.Time { return time.Date(2026, 12, 1, h, min, 0, 0, time.UTC) }
		start := func(h int) store.Run {
			r, _, err := st.RunCreate(ctx, store.RunCreateParams{Run: store.Run{Rule: "r", Job: "demo", Trigger: api.TriggerManual, StartedAt: at(h, 0)}})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		end := func(r store.Run, status api.RunStatus, when time.Time) events.Event {
			f, err := st.RunFinish(ctx, store.RunFinishParams{ID: r.ID, Status: status, FinishedAt: when})
			if err != nil {
				t.Fatal(err)
			}
			return events.Event{Type: api.EventRunFinished, Run: &f, RuleName: "r", Origin: "node-b"}
		}
		readAgain := func() { // a rule created elsewhere: the next scrape reads the store
			m.Observe(events.Event{Type: api.EventRuleCreated, RuleName: "other"})
		}
		check := func(what, want string) {
			t.Helper()
			if got := ruleGauges(scrape(t, m), "r"); got != want {
				t.Errorf("%s: %s, want %s", what, got, want)
			}
		}
		scrape(t, m) // the rules read before the runs

		// A created 10:00 fails at 12:00; B created 11:00 succeeds at 11:01.
		a, b := start(10), start(11)
		bEnd := end(b, api.StatusSucceeded, at(11, 1))
		aEnd := end(a, api.StatusFailed, at(12, 0))
		want := gauges(at(11, 1), at(12, 0), api.StatusFailed)
		m.Observe(bEnd)
		m.Observe(aEnd)
		check("after the finish events, in finish order", want)
		readAgain()
		check("after a read of the store", want)
		m.Observe(bEnd) // B's finish relayed late, or again
		check("after B's earlier finish is reported again", want)

		// C created 12:00 succeeds at 13:30; D created 13:00 at 13:10,
		// its event reported last.
		c, d := start(12), start(13)
		cEnd := end(c, api.StatusSucceeded, at(13, 30))
		dEnd := end(d, api.StatusSucceeded, at(13, 10))
		want = gauges(at(13, 30), at(12, 0), api.StatusSucceeded)
		m.Observe(cEnd)
		m.Observe(dEnd)
		check("after C's and then D's (earlier) finish", want)
		readAgain()
		check("after a read of the store", want)
	})
}

// heldHealth is a store whose RuleHealthList reads, then holds its answer
// until release is closed: a read that takes long, and answers what was
// true before the events that come meanwhile.
type heldHealth struct {
	store.Store
	once    sync.Once
	reading chan struct{} // closed once the first read has begun
	release chan struct{}
}

func (h *heldHealth) RuleHealthList(ctx context.Context, names []string) (map[string]store.RuleHealth, error) {
	out, err := h.Store.RuleHealthList(ctx, names)
	h.once.Do(func() { close(h.reading) })
	<-h.release
	return out, err
}

// TestRuleGaugesReadDoesNotHoldUpEvents: the metrics' event subscriber
// must not wait for a read of the store (up to 5 s): while it waits, its
// buffer fills, the broker drops it, and every counter loses events. And
// the read's answer, from before the events that came meanwhile, must not
// undo them: a run that finished, a rule that was deleted.
func TestRuleGaugesReadDoesNotHoldUpEvents(t *testing.T) {
	t.Parallel()
	st := storetesting.Open(t, "sqlite")
	ctx := t.Context()
	for _, name := range []string{"gone", "r"} {
		if _, err := st.RuleCreate(ctx, store.Rule{Name: name, Job: "demo", Schedule: "rate(1 day)", Enabled: true}); err != nil {
			t.Fatal(err)
		}
	}
	held := &heldHealth{Store: st, reading: make(chan struct{}), release: make(chan struct{})}
	m := server.NewMetrics()
	m.WatchRules(held, 0)
	released := false
	release := func() {
		if !released {
			released = true
			close(held.release)
		}
	}
	defer release()
	scraped := make(chan string, 1)
	go func() { scraped <- scrape(t, m) }()
	<-held.reading

	run, _, err := st.RunCreate(ctx, store.RunCreateParams{Run: store.Run{Rule: "r", Job: "demo", Trigger: api.TriggerManual, StartedAt: time.Now()}})
	if err != nil {
		t.Fatal(err)
	}
	fin, err := st.RunFinish(ctx, store.RunFinishParams{ID: run.ID, Status: api.StatusFailed, FinishedAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RuleDelete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	observed := make(chan struct{})
	go func() {
		defer close(observed)
		m.Observe(events.Event{Type: api.EventRunFinished, Run: &fin, RuleName: "r"})
		m.Observe(events.Event{Type: api.EventRuleDeleted, RuleName: "gone"})
	}()
	select {
	case <-observed:
	case <-time.After(2 * time.Second):
		t.Error("the events waited for the read of the store")
	}
	release()
	body := <-scraped // what the read swapped in, before any other read
	<-observed

	if got, want := ruleGauges(body, "r"), fmt.Sprintf("success 0, failure %v, status failed", float64(fin.FinishedAt.UnixMicro())/1e6); got != want {
		t.Errorf("after the read that began before r's run finished: %s, want %s", got, want)
	}
	if strings.Contains(body, `rule="gone"`) {
		t.Errorf("rule gone, deleted during the read, has series:\n%s", body)
	}
}
