package agent_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// TestALogReadInPagesSaysWhenMoreLinesExist reads a log of 2,500 lines: a
// page of 1,000 carries nextCursor, passed back as cursor it reads on, the
// last page carries none; after still works, and a cursor that is not one
// is refused, naming it.
func TestALogReadInPagesSaysWhenMoreLinesExist(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "0s", "steps": "1"}}); err != nil {
			t.Fatal(err)
		}
		run, err := ta.admin.TriggerRule(ctx, "r", nil)
		if err != nil {
			t.Fatal(err)
		}
		ta.waitRun(t, run.ID, api.StatusSucceeded)
		stored, err := ta.admin.RunLog(ctx, run.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		const total = 2500
		more := make([]store.LogLine, total-len(stored))
		for i := range more {
			more[i] = store.LogLine{Level: "info", Message: fmt.Sprintf("line %d", len(stored)+i+1)}
		}
		if err := ta.Store().RunLogAppend(ctx, run.ID, more); err != nil {
			t.Fatal(err)
		}

		var all []api.LogLine
		var cursors []string
		q := api.LogQuery{}
		for range 10 {
			page, err := ta.admin.RunLogPage(ctx, run.ID, q)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page.Items...)
			cursors = append(cursors, page.NextCursor)
			if page.NextCursor == "" {
				break
			}
			q = api.LogQuery{Cursor: page.NextCursor}
		}
		if want := []string{"1000", "2000", ""}; fmt.Sprint(cursors) != fmt.Sprint(want) {
			t.Errorf("nextCursors %q, want %q", cursors, want)
		}
		if len(all) != total {
			t.Fatalf("read %d lines in pages, want %d", len(all), total)
		}
		for i, l := range all {
			if l.Seq != int64(i+1) {
				t.Fatalf("line %d has seq %d", i+1, l.Seq)
			}
		}
		// A page that ends exactly at the last line has no next page.
		page, err := ta.admin.RunLogPage(ctx, run.ID, api.LogQuery{After: 1500, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != 1000 || page.NextCursor != "" || page.Items[0].Seq != 1501 {
			t.Errorf("after=1500 limit=1000: %d lines from %d, nextCursor %q; want 1000 from 1501 and none", len(page.Items), page.Items[0].Seq, page.NextCursor)
		}
		if _, err := ta.admin.RunLogPage(ctx, run.ID, api.LogQuery{Cursor: "0190d1a8-0000-7000-8000-00000000dead"}); client.StatusOf(err) != http.StatusBadRequest {
			t.Errorf("a cursor that is not a line number: %v, want 400", err)
		} else if !containsAll(err.Error(), "query.cursor", "not a cursor of this log") {
			t.Errorf("a bad cursor's error does not name it: %v", err)
		}
		if _, err := ta.admin.RunLogPage(ctx, run.ID, api.LogQuery{Cursor: "1000", After: 5}); client.StatusOf(err) != http.StatusBadRequest {
			t.Errorf("after and cursor disagreeing: %v, want 400", err)
		} else if !containsAll(err.Error(), "query.after", "not both") {
			t.Errorf("after and cursor's error: %v", err)
		}
	})
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// TestALogPageOfTheLargestSizeSaysWhenMoreLinesExist reads a log of 10,500
// lines in pages of 10,000, the largest the API serves: the first page
// carries nextCursor 10000 (the handler asks the store for one line more
// than the page, which the store's own cap must allow), the second the
// last 500 lines and none.
func TestALogPageOfTheLargestSizeSaysWhenMoreLinesExist(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)", Parameters: map[string]string{"duration": "0s", "steps": "1"}}); err != nil {
			t.Fatal(err)
		}
		run, err := ta.admin.TriggerRule(ctx, "r", nil)
		if err != nil {
			t.Fatal(err)
		}
		ta.waitRun(t, run.ID, api.StatusSucceeded)
		stored, err := ta.admin.RunLog(ctx, run.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		const total, limit = 10500, 10000
		more := make([]store.LogLine, total-len(stored))
		for i := range more {
			more[i] = store.LogLine{Level: "info", Message: fmt.Sprintf("line %d", len(stored)+i+1)}
		}
		if err := ta.Store().RunLogAppend(ctx, run.ID, more); err != nil {
			t.Fatal(err)
		}
		page, err := ta.admin.RunLogPage(ctx, run.ID, api.LogQuery{Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != limit || page.NextCursor != "10000" {
			t.Fatalf("limit=%d of %d lines: %d lines, nextCursor %q; want %d and 10000", limit, total, len(page.Items), page.NextCursor, limit)
		}
		page, err = ta.admin.RunLogPage(ctx, run.ID, api.LogQuery{Cursor: page.NextCursor, Limit: limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) != total-limit || page.NextCursor != "" || page.Items[0].Seq != limit+1 {
			t.Fatalf("second page: %d lines, nextCursor %q; want %d from %d and none", len(page.Items), page.NextCursor, total-limit, limit+1)
		}
	})
}
