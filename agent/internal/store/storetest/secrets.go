package storetest

import (
	"errors"
	"reflect"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

func secretsSupport(t *testing.T, s store.Store) store.SecretsSupport {
	t.Helper()
	ss, ok := s.(store.SecretsSupport)
	if !ok {
		t.Fatalf("%T does not implement store.SecretsSupport", s)
	}
	return ss
}

func testSecretsSupport(t *testing.T, setup func(*testing.T) store.Store) {
	t.Run("MetaFirstValueStays", func(t *testing.T) {
		t.Parallel()
		ss := secretsSupport(t, setup(t))
		_, err := ss.MetaGet(t.Context(), "key_check")
		wantErr(t, err, store.ErrNotFound, "read a name never recorded")
		got, err := ss.MetaInit(t.Context(), "key_check", "first")
		must(t, err, "record first")
		if got != "first" {
			t.Fatalf("MetaInit of a new name answered %q, want the value given", got)
		}
		got, err = ss.MetaInit(t.Context(), "key_check", "second")
		must(t, err, "record second")
		if got != "first" {
			t.Fatalf("MetaInit of a recorded name answered %q, want the value recorded first", got)
		}
		got, err = ss.MetaGet(t.Context(), "key_check")
		must(t, err, "read back")
		if got != "first" {
			t.Fatalf("MetaGet after two MetaInit: %q, want first", got)
		}
	})
	t.Run("RuleRewriteParams", func(t *testing.T) {
		t.Parallel()
		s := setup(t)
		ss := secretsSupport(t, s)
		var want []store.Rule
		for _, n := range []string{"a", "b", "c"} {
			r, err := s.RuleCreate(t.Context(), fullRule(n))
			must(t, err, "create rule "+n)
			want = append(want, r)
		}
		seen := map[string]bool{}
		n, err := ss.RuleRewriteParams(t.Context(), func(r store.Rule) (map[string]string, bool, error) {
			seen[r.Name] = true
			if r.Name != "b" {
				return nil, false, nil
			}
			p := map[string]string{"duration": "rewritten"}
			return p, true, nil
		})
		must(t, err, "rewrite")
		if n != 1 || len(seen) != 3 {
			t.Fatalf("rewrite: %d changed, %d rules seen; want 1 changed of 3 seen", n, len(seen))
		}
		want[1].Parameters = map[string]string{"duration": "rewritten"}
		rules, err := s.RuleList(t.Context())
		must(t, err, "list rules")
		if !reflect.DeepEqual(rules, want) {
			t.Fatalf("after rewriting b's parameters (the rest, UpdatedAt included, unchanged):\n got %+v\nwant %+v", rules, want)
		}

		boom := errors.New("boom")
		_, err = ss.RuleRewriteParams(t.Context(), func(r store.Rule) (map[string]string, bool, error) {
			if r.Name == "c" {
				return nil, false, boom
			}
			return map[string]string{}, true, nil
		})
		if !errors.Is(err, boom) {
			t.Fatalf("rewrite whose fn fails: got %v, want fn's error", err)
		}
		rules, err = s.RuleList(t.Context())
		must(t, err, "list rules")
		if !reflect.DeepEqual(rules, want) {
			t.Fatalf("a failed rewrite changed rules:\n got %+v\nwant %+v", rules, want)
		}
	})
}
