package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
)

// callHeaders is call with header fields that may repeat (several
// If-Match fields, say).
func (ta *testAgent) callHeaders(t *testing.T, method, path string, header http.Header, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, ta.URL()+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = header.Clone()
	req.Header.Set("Authorization", "Bearer "+ta.token)
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// TestIfMatchIsAListOfETagsComparedStrongly checks If-Match as RFC 9110
// (section 13.1.1) reads it, on PATCH, DELETE and disable: a list matches
// when any strong tag is the rule's ETag ("N"); weak tags never match;
// opaque tags compare as strings ("02" is not "2"); a list with no match is
// a 412 naming the current version, and only a value that cannot be parsed
// is a 400 at header.If-Match.
func TestIfMatchIsAListOfETagsComparedStrongly(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, ta *testAgent) {
		ctx := context.Background()
		if _, err := ta.admin.CreateRule(ctx, api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)"}); err != nil {
			t.Fatal(err)
		}
		version := int64(1)
		patch := func(what string, ifMatch ...string) (int, http.Header, []byte) {
			t.Helper()
			h := http.Header{}
			for _, v := range ifMatch {
				h.Add("If-Match", v)
			}
			return ta.callHeaders(t, http.MethodPatch, "/rules/r", h, fmt.Sprintf(`{"description": %q}`, what))
		}
		// Each matches the rule's current version (v, in the header built
		// from it) and writes the next.
		for _, c := range []struct {
			name    string
			ifMatch func(v int64) []string
		}{
			{"a list whose last tag matches", func(v int64) []string { return []string{fmt.Sprintf(`"%d", "%d"`, v+5, v)} }},
			{"a list whose first tag matches", func(v int64) []string { return []string{fmt.Sprintf(`"%d","x"`, v)} }},
			{"spaces, tabs and empty elements", func(v int64) []string { return []string{fmt.Sprintf(" ,\t\"77\" ,, \"%d\" , ", v)} }},
			{"a weak tag beside a strong one", func(v int64) []string { return []string{fmt.Sprintf(`W/"%d", "%d"`, v, v)} }},
			{"a quoted comma in another tag", func(v int64) []string { return []string{fmt.Sprintf(`"a,b", "%d"`, v)} }},
			{"two If-Match fields", func(v int64) []string { return []string{`"99"`, fmt.Sprintf(`"%d"`, v)} }},
			{"*", func(int64) []string { return []string{"*"} }},
		} {
			status, h, got := patch(c.name, c.ifMatch(version)...)
			if status != http.StatusOK || h.Get("ETag") != fmt.Sprintf(`"%d"`, version+1) {
				t.Fatalf("%s (If-Match %q): %d ETag %q %s, want 200 \"%d\"", c.name, c.ifMatch(version), status, h.Get("ETag"), got, version+1)
			}
			version++
		}
		cur := fmt.Sprintf(`"%d"`, version)
		long := `"` + strings.Repeat("x", 200) + `"`

		// None of these names the current version: 412, the rule unchanged.
		for _, c := range []struct {
			name, ifMatch string
			says          []string
		}{
			{"a weak tag of the current version", "W/" + cur, []string{"weak"}},
			{"weak tags only", "W/" + cur + `, W/"1"`, []string{"weak"}},
			{"a leading zero", fmt.Sprintf(`"0%d"`, version), nil},
			{"a plus sign", fmt.Sprintf(`"+%d"`, version), nil},
			{"an old version", `"1"`, nil},
			{"a list of old versions", `"1", "2"`, nil},
			{"not a version", `"three"`, nil},
			{"version 0", `"0"`, nil},
			{"an empty tag", `""`, nil},
			{"a list of empty elements", ` , ,`, nil},
			{"a long tag, cut", long, []string{`"` + strings.Repeat("x", 63) + "…"}},
		} {
			status, h, got := patch("refused", c.ifMatch)
			says := append([]string{fmt.Sprintf("at version %d", version), `(ETag \"` + fmt.Sprint(version) + `\")`}, c.says...)
			wantProblem(t, c.name, status, h, got, http.StatusPreconditionFailed, api.ProblemStale, says...)
			if strings.Contains(string(got), strings.Repeat("x", 65)) {
				t.Errorf("%s: the answer repeats more than 64 bytes of the header: %s", c.name, got)
			}
		}
		if r, err := ta.admin.Rule(ctx, "r"); err != nil || r.Version != version || r.Description != "*" {
			t.Fatalf("refused writes changed the rule: %+v, %v", r, err)
		}

		// Only what cannot be read is a 400, at header.If-Match.
		for _, c := range []struct{ name, ifMatch, says string }{
			{"unquoted", fmt.Sprint(version), "not an ETag"},
			{"unterminated", `"` + fmt.Sprint(version), "no closing double quote"},
			{"unterminated in a list", cur + `, "4`, "no closing double quote"},
			{"a lower-case weak prefix", "w/" + cur, "not an ETag"},
			{"tags without a comma", cur + ` "1"`, "not separated by commas"},
			{"* in a list", "*, " + cur, "* stands alone"},
			{"a space inside a tag", `"1 2"`, "space"},
			{"a long unquoted value, cut", strings.Repeat("y", 200), "not an ETag"},
		} {
			status, h, got := patch("refused", c.ifMatch)
			p := wantProblem(t, c.name, status, h, got, http.StatusBadRequest, "", c.says)
			if len(p.Errors) != 1 || p.Errors[0].Location != "header.If-Match" {
				t.Errorf("%s: errors %+v, want one at header.If-Match", c.name, p.Errors)
			} else if v, _ := p.Errors[0].Value.(string); len(c.ifMatch) > 64 && v != strings.Repeat("y", 64)+"…" {
				t.Errorf("%s: the error repeats %q, want the first 64 bytes and …", c.name, v)
			}
		}

		// DELETE and disable read the list the same way.
		h := http.Header{"If-Match": {`W/` + cur + `, "1"`}}
		status, rh, got := ta.callHeaders(t, http.MethodPost, "/rules/r/disable", h, "")
		wantProblem(t, "disable with no matching tag", status, rh, got, http.StatusPreconditionFailed, api.ProblemStale, fmt.Sprintf("at version %d", version))
		h = http.Header{"If-Match": {`"1", ` + cur}}
		if status, rh, got = ta.callHeaders(t, http.MethodPost, "/rules/r/disable", h, ""); status != http.StatusOK || rh.Get("ETag") != fmt.Sprintf(`"%d"`, version+1) {
			t.Fatalf("disable with a matching list: %d %q %s", status, rh.Get("ETag"), got)
		}
		version++
		status, rh, got = ta.callHeaders(t, http.MethodDelete, "/rules/r", http.Header{"If-Match": {cur}}, "")
		wantProblem(t, "delete at the version before", status, rh, got, http.StatusPreconditionFailed, api.ProblemStale, fmt.Sprintf("at version %d", version))
		if status, _, got = ta.callHeaders(t, http.MethodDelete, "/rules/r", http.Header{"If-Match": {fmt.Sprintf(`"x", "%d"`, version)}}, ""); status != http.StatusNoContent {
			t.Fatalf("delete with a matching list: %d %s", status, got)
		}
		status, rh, got = ta.callHeaders(t, http.MethodDelete, "/rules/r", http.Header{"If-Match": {`"1", "2"`}}, "")
		wantProblem(t, "a list on a deleted rule", status, rh, got, http.StatusNotFound, "")
		status, rh, got = ta.callHeaders(t, http.MethodDelete, "/rules/r", http.Header{"If-Match": {`*`}}, "")
		wantProblem(t, "* on a deleted rule", status, rh, got, http.StatusNotFound, "")
	})
}

// TestErrorsRepeatAtMost64BytesOfAHeader sends long Content-Type and
// Last-Event-ID headers that are refused: the error repeats the first 64
// bytes of each, then an ellipsis.
func TestErrorsRepeatAtMost64BytesOfAHeader(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	if _, err := ta.admin.CreateRule(context.Background(), api.RuleInput{Name: "r", Job: "demo", Schedule: "rate(1 day)"}); err != nil {
		t.Fatal(err)
	}
	ct := "text/plain; x=" + strings.Repeat("é", 100) // 2-byte runes: the cut falls between them
	status, h, got := ta.callHeaders(t, http.MethodPatch, "/rules/r", http.Header{"Content-Type": {ct}}, `{"description": "x"}`)
	p := wantProblem(t, "a long Content-Type", status, h, got, http.StatusUnsupportedMediaType, "", "application/merge-patch+json")
	if want := ct[:64] + "…"; !strings.Contains(p.Detail, want) || strings.Contains(p.Detail, ct[:66]) {
		t.Errorf("415 detail %q: want the first 64 bytes of the Content-Type (%q) and no more", p.Detail, want)
	}

	id := strings.Repeat("9", 300)
	status, h, got = ta.callHeaders(t, http.MethodGet, "/events", http.Header{"Last-Event-ID": {id}}, "")
	p = wantProblem(t, "a long Last-Event-ID", status, h, got, http.StatusBadRequest, "", "header.Last-Event-ID")
	if len(p.Errors) != 1 || p.Errors[0].Value != strings.Repeat("9", 64)+"…" {
		b, _ := json.Marshal(p.Errors)
		t.Errorf("Last-Event-ID error repeats %s, want its first 64 bytes and …", b)
	}
}
