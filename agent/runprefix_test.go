package agent_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// GET /runs?idPrefix= and ?idSuffix= find runs by the start or the end of
// their id, in any case, and refuse what cannot be part of an id with a
// 400 naming the query field.
func TestRunsByIDPrefix(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "p", Job: "demo", Schedule: "rate(1 day)",
			Parameters: map[string]string{"duration": "1ms", "steps": "1"}}); err != nil {
			t.Fatal(err)
		}
		var runs []api.Run
		for range 3 {
			r, err := ta.admin.TriggerRule(ctx, "p", nil)
			if err != nil {
				t.Fatal(err)
			}
			runs = append(runs, r)
		}
		last := runs[2]
		for _, prefix := range []string{last.ID, strings.ToUpper(last.ID[:30]), last.ID[:30]} {
			page, err := ta.admin.Runs(ctx, api.RunQuery{IDPrefix: prefix})
			if err != nil || len(page.Items) != 1 || page.Items[0].ID != last.ID {
				t.Errorf("runs by id prefix %q: %v %v; want %s alone", prefix, page.Items, err, last.ID)
			}
		}
		// UUIDv7 ids made in the same millisecond share their first 8 characters.
		page, err := ta.admin.Runs(ctx, api.RunQuery{IDPrefix: runs[0].ID[:4]})
		if err != nil || len(page.Items) != 3 {
			t.Errorf("runs by a prefix all share: %d runs, %v; want 3", len(page.Items), err)
		}
		for _, suffix := range []string{last.ID[28:], strings.ToUpper(last.ID[20:])} {
			page, err := ta.admin.Runs(ctx, api.RunQuery{IDSuffix: suffix})
			if err != nil || len(page.Items) != 1 || page.Items[0].ID != last.ID {
				t.Errorf("runs by id suffix %q: %v %v; want %s alone", suffix, page.Items, err, last.ID)
			}
		}
		_, err = ta.admin.Runs(ctx, api.RunQuery{IDSuffix: "zz"})
		if !contains(problemLocations(err), "query.idSuffix") || !strings.Contains(err.Error(), "not the end of a run id") {
			t.Errorf("runs by id suffix zz: %v; want a 400 at query.idSuffix", err)
		}
		for _, bad := range []string{"0193%", "01_3", "nightly", " ", strings.Repeat("0", 37)} {
			_, err := ta.admin.Runs(ctx, api.RunQuery{IDPrefix: bad})
			wantStatus(t, err, 400, "runs by id prefix "+bad)
			var ce *client.Error
			if !errors.As(err, &ce) || !contains(problemLocations(err), "query.idPrefix") ||
				!strings.Contains(ce.Error(), "not the start of a run id") {
				t.Errorf("runs by id prefix %q: %v; want a 400 at query.idPrefix saying why", bad, err)
			}
		}
	})
}
