package storeutil_test

import (
	"fmt"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/store/internal/storeutil"
)

// Once a serial rule is found busy, its later queued runs wait without
// asking the database again: a backlog of a serial rule costs one look-up
// per claim, not one per run.
func TestClaimerAsksOncePerBusyRule(t *testing.T) {
	asked := 0
	c := &storeutil.Claimer{
		Active: func(string) (int, error) { return 0, nil },
		RuleBusy: func(rule, id string) (bool, error) {
			asked++
			return rule == "busy", nil
		},
	}
	for i := range 500 {
		if ok, err := c.May(store.Run{ID: fmt.Sprintf("%04d", i), Rule: "busy", Job: "j", Serial: true}); ok || err != nil {
			t.Fatalf("run %d of a busy rule may start: %v, %v", i, ok, err)
		}
	}
	if asked != 1 {
		t.Fatalf("asked the database %d times about a busy rule's 500 runs, want once", asked)
	}
	if ok, err := c.May(store.Run{ID: "x", Rule: "free", Job: "j", Serial: true}); !ok || err != nil {
		t.Fatalf("a free rule's run may not start: %v, %v", ok, err)
	}
}
