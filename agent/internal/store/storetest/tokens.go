package storetest

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

func testTokens(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("Lifecycle", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		ci := store.Token{Name: "ci", Role: store.RoleOperator, Hash: "aa11", CreatedAt: oddTime(0)}
		must(t, s.TokenCreate(ctx, ci), "create token ci")
		must(t, s.TokenCreate(ctx, store.Token{Name: "admin", Role: store.RoleAdmin, Hash: "bb22"}), "create token admin")

		got, err := s.TokenGetByHash(ctx, "aa11")
		must(t, err, "get token by hash")
		want := ci
		want.CreatedAt = stored(ci.CreatedAt)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("token:\n got %+v\nwant %+v", got, want)
		}
		_, err = s.TokenGetByHash(ctx, "ffff")
		wantErr(t, err, store.ErrNotFound, "get a token by an unknown hash")

		used := oddTime(time.Hour)
		must(t, s.TokenTouch(ctx, "ci", used), "touch token")
		got, err = s.TokenGetByHash(ctx, "aa11")
		must(t, err, "get token")
		if !got.LastUsedAt.Equal(stored(used)) || got.LastUsedAt != stored(used) {
			t.Fatalf("LastUsedAt: got %v, want %v", got.LastUsedAt, stored(used))
		}
		wantErr(t, s.TokenTouch(ctx, "nope", used), store.ErrNotFound, "touch a missing token")

		list, err := s.TokenList(ctx)
		must(t, err, "list tokens")
		if len(list) != 2 || list[0].Name != "admin" || list[1].Name != "ci" || list[0].CreatedAt.IsZero() {
			t.Fatalf("tokens by name, with a default CreatedAt: got %+v", list)
		}
		must(t, s.TokenDelete(ctx, "ci"), "delete token")
		_, err = s.TokenGetByHash(ctx, "aa11")
		wantErr(t, err, store.ErrNotFound, "get a deleted token")
		wantErr(t, s.TokenDelete(ctx, "ci"), store.ErrNotFound, "delete a missing token")
	})
	t.Run("Conflicts", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		must(t, s.TokenCreate(ctx, store.Token{Name: "a", Role: store.RoleViewer, Hash: "h1"}), "create token")
		wantErr(t, s.TokenCreate(ctx, store.Token{Name: "a", Role: store.RoleViewer, Hash: "h2"}), store.ErrConflict, "create a token whose name is taken")
		wantErr(t, s.TokenCreate(ctx, store.Token{Name: "b", Role: store.RoleViewer, Hash: "h1"}), store.ErrConflict, "create a token whose hash is taken")
	})
}

func testAudit(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("RuleUpdateMatchesItsOldName", func(t *testing.T) {
		// rule.replace is what agents wrote for a PUT before it became
		// rule.update (and what one not upgraded yet, sharing the database,
		// still writes): either name lists both.
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		old := store.AuditEntry{ID: "0190d1a8-0000-7000-8000-000000000001", Time: oddTime(-time.Hour),
			Actor: "ops", Action: "rule.replace", Target: "nightly", Detail: "job demo, schedule rate(1 day), enabled true"}
		for _, e := range []store.AuditEntry{old, {Actor: "ops", Action: "rule.create", Target: "other"},
			{Actor: "ops", Action: "rule.update", Target: "nightly"}, {Actor: "ops", Action: "rule.delete", Target: "other"}} {
			must(t, s.AuditAppend(ctx, e), "append "+e.Action)
		}
		for _, action := range []string{"rule.update", "rule.replace"} {
			both, _, err := s.AuditList(ctx, store.AuditFilter{Action: action})
			must(t, err, "list by action "+action)
			if len(both) != 2 || both[0].Action != "rule.update" || both[1].ID != old.ID || both[1].Action != "rule.replace" {
				t.Fatalf("by action %s: got %+v, want the rule.update entry and the older rule.replace one, as stored", action, both)
			}
		}
		page, next, err := s.AuditList(ctx, store.AuditFilter{Action: "rule.update", Target: "nightly", Limit: 1})
		must(t, err, "list a page by action")
		if len(page) != 1 || page[0].Action != "rule.update" || next == "" {
			t.Fatalf("by action rule.update, a page of 1: %+v, next %q; want the newer entry and a next page", page, next)
		}
		rest, next, err := s.AuditList(ctx, store.AuditFilter{Action: "rule.update", Target: "nightly", Cursor: next})
		must(t, err, "list the next page by action")
		if len(rest) != 1 || rest[0].ID != old.ID || next != "" {
			t.Fatalf("by action rule.update, the next page: %+v, next %q; want the rule.replace entry, last", rest, next)
		}
		for _, action := range []string{"rule.create", "rule.replac"} {
			got, _, err := s.AuditList(ctx, store.AuditFilter{Action: action})
			must(t, err, "list by action "+action)
			if want := map[string]int{"rule.create": 1}[action]; len(got) != want {
				t.Fatalf("by action %s: %d entries, want %d", action, len(got), want)
			}
		}
	})
	t.Run("AppendAndList", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ctx := t.Context()
		explicit := store.AuditEntry{ID: "0190d1a8-0000-7000-8000-000000000001", Time: oddTime(0),
			Actor: "ops", Action: "rule.create", Target: "nightly", Detail: `{"schedule":"rate(1 hour)"}`}
		must(t, s.AuditAppend(ctx, explicit), "append entry with an id")
		entries := []store.AuditEntry{
			{Actor: "ops", Action: "rule.update", Target: "nightly",
				Before: json.RawMessage(`{"job":"demo","parameters":{"token":"********"}}`), After: json.RawMessage(`{"job":"demo","description":"ünï ✓"}`)},
			{Actor: "eventbridge", Action: "run.create", Target: "r-1"},
			{Actor: "ops", Action: "run.cancel", Target: "r-1", Detail: "deploy"},
			{Actor: "system", Action: "token.create", Target: "ci"},
		}
		for _, e := range entries {
			must(t, s.AuditAppend(ctx, e), "append "+e.Action)
		}
		all, next, err := s.AuditList(ctx, store.AuditFilter{})
		must(t, err, "list audit")
		var actions []string
		for _, e := range all {
			actions = append(actions, e.Action)
		}
		if want := []string{"token.create", "run.cancel", "run.create", "rule.update", "rule.create"}; !reflect.DeepEqual(actions, want) || next != "" {
			t.Fatalf("audit newest first: got %v (cursor %q), want %v", actions, next, want)
		}
		want := explicit
		want.Time = stored(explicit.Time)
		if !reflect.DeepEqual(all[4], want) {
			t.Fatalf("entry:\n got %+v\nwant %+v", all[4], want)
		}
		if _, err := uuid.Parse(all[0].ID); err != nil || all[0].Time.IsZero() {
			t.Fatalf("defaults: got id %q time %v, want a UUID and now", all[0].ID, all[0].Time)
		}

		byActor, _, err := s.AuditList(ctx, store.AuditFilter{Actor: "ops"})
		must(t, err, "list by actor")
		byTarget, _, err := s.AuditList(ctx, store.AuditFilter{Target: "r-1", Actor: "ops"})
		must(t, err, "list by target and actor")
		if len(byActor) != 3 || len(byTarget) != 1 || byTarget[0].Action != "run.cancel" {
			t.Fatalf("filters: %d by actor ops (want 3), %+v by target r-1 and actor ops (want run.cancel)", len(byActor), byTarget)
		}
		byAction, _, err := s.AuditList(ctx, store.AuditFilter{Action: "rule.update"})
		must(t, err, "list by action")
		if len(byAction) != 1 || byAction[0].Target != "nightly" ||
			string(byAction[0].Before) != string(entries[0].Before) || string(byAction[0].After) != string(entries[0].After) {
			t.Fatalf("by action rule.update: got %+v, want the one entry with its before and after", byAction)
		}
		none, _, err := s.AuditList(ctx, store.AuditFilter{Action: "rule.upd"})
		must(t, err, "list by a prefix of an action")
		if len(none) != 0 {
			t.Fatalf("action matches exactly: rule.upd listed %+v", none)
		}
		if all[0].Before != nil || all[0].After != nil {
			t.Fatalf("an entry without before and after read back with %q and %q", all[0].Before, all[0].After)
		}

		var paged []string
		f := store.AuditFilter{Limit: 2}
		for {
			page, next, err := s.AuditList(ctx, f)
			must(t, err, "list a page")
			for _, e := range page {
				paged = append(paged, e.Action)
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
		if !reflect.DeepEqual(paged, actions) {
			t.Fatalf("pages of 2: got %v, want %v", paged, actions)
		}
	})
}
