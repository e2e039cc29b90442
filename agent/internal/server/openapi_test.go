package server_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent/internal/server"
	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
)

// The published document says what POST /sync answers, field by field, so
// that clients generated from it can read the report.
func TestOpenAPIDescribesTheSyncReport(t *testing.T) {
	t.Parallel()
	st := storetesting.Open(t, "sqlite")
	srv := httptest.NewServer(server.New(server.Config{Store: st, Service: service.New(service.Config{Store: st})}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	type schema struct {
		Ref        string                     `json:"$ref"`
		Type       any                        `json:"type"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]struct {
					Schema schema `json:"schema"`
				} `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("openapi.json: %d, %v", resp.StatusCode, err)
	}
	var answer schema
	for path, ops := range doc.Paths {
		if strings.HasSuffix(path, "/sync") {
			answer = ops["post"].Responses["200"].Content["application/json"].Schema
		}
	}
	if name, ok := strings.CutPrefix(answer.Ref, "#/components/schemas/"); ok {
		answer = doc.Components.Schemas[name]
	}
	var fields []string
	for f := range answer.Properties {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	if want := []string{"deleted", "failed", "inStep", "orphans", "synced"}; !slices.Equal(fields, want) {
		t.Errorf("POST /sync answers fields %v, want %v", fields, want)
	}
}

// POST /rules/apply is published with its body and its answer, the plan.
func TestOpenAPIDescribesRulesApply(t *testing.T) {
	t.Parallel()
	st := storetesting.Open(t, "sqlite")
	srv := httptest.NewServer(server.New(server.Config{Store: st, Service: service.New(service.Config{Store: st})}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	type schema struct {
		Ref        string                     `json:"$ref"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	type content map[string]struct {
		Schema schema `json:"schema"`
	}
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string `json:"operationId"`
			RequestBody struct {
				Content content `json:"content"`
			} `json:"requestBody"`
			Responses map[string]struct {
				Content content `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("openapi.json: %d, %v", resp.StatusCode, err)
	}
	post, ok := doc.Paths["/api/v1/rules/apply"]["post"]
	if !ok || post.OperationID != "apply-rules" {
		t.Fatalf("no POST /api/v1/rules/apply in the document (paths: %v)", slices.Collect(maps.Keys(doc.Paths)))
	}
	fieldsOf := func(s schema) []string {
		if name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/"); ok {
			s = doc.Components.Schemas[name]
		}
		return slices.Sorted(maps.Keys(s.Properties))
	}
	if got, want := fieldsOf(post.RequestBody.Content["application/json"].Schema), []string{"dryRun", "prune", "rules"}; !slices.Equal(got, want) {
		t.Errorf("body fields %v, want %v", got, want)
	}
	if got, want := fieldsOf(post.Responses["200"].Content["application/json"].Schema),
		[]string{"applied", "changes", "create", "delete", "unchanged", "update"}; !slices.Equal(got, want) {
		t.Errorf("answer fields %v, want %v", got, want)
	}
}

// A run's output is any JSON value, not a string or bytes: the document
// gives it a schema without a type, and GET /runs takes parent.
func TestOpenAPIDescribesRunOutputAndChains(t *testing.T) {
	t.Parallel()
	st := storetesting.Open(t, "sqlite")
	srv := httptest.NewServer(server.New(server.Config{Store: st, Service: service.New(service.Config{Store: st})}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name string `json:"name"`
				In   string `json:"in"`
			} `json:"parameters"`
		} `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Properties map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("openapi.json: %d, %v", resp.StatusCode, err)
	}
	run, ok := doc.Components.Schemas["Run"]
	if !ok {
		t.Fatal("the document has no Run schema")
	}
	output, ok := run.Properties["output"]
	if !ok {
		t.Fatal("the Run schema has no output")
	}
	for _, k := range []string{"type", "format", "contentEncoding", "$ref"} {
		if v, ok := output[k]; ok {
			t.Errorf("Run.output has %s %v; want a free-form JSON value", k, v)
		}
	}
	if got := run.Properties["parentRun"]["type"]; got != "string" {
		t.Errorf("Run.parentRun has type %v, want string", got)
	}
	if got := fmt.Sprint(run.Properties["chained"]["type"]); !strings.Contains(got, "array") {
		t.Errorf("Run.chained has type %v, want an array", got)
	}
	var params []string
	for _, p := range doc.Paths["/api/v1/runs"]["get"].Parameters {
		params = append(params, p.In+"."+p.Name)
	}
	if !slices.Contains(params, "query.parent") {
		t.Errorf("GET /runs takes %v, want query.parent among them", params)
	}
}

// The writes to one rule are published with their If-Match header, their
// 412, the ETag of their answer, and PATCH with its merge-patch body.
func TestOpenAPIDescribesRuleVersions(t *testing.T) {
	t.Parallel()
	st := storetesting.Open(t, "sqlite")
	srv := httptest.NewServer(server.New(server.Config{Store: st, Service: service.New(service.Config{Store: st})}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	type operation struct {
		OperationID string `json:"operationId"`
		Parameters  []struct {
			Name string `json:"name"`
			In   string `json:"in"`
		} `json:"parameters"`
		RequestBody struct {
			Content map[string]json.RawMessage `json:"content"`
		} `json:"requestBody"`
		Responses map[string]struct {
			Headers map[string]json.RawMessage `json:"headers"`
		} `json:"responses"`
	}
	var doc struct {
		Paths map[string]map[string]operation `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("openapi.json: %d, %v", resp.StatusCode, err)
	}
	for _, w := range []struct{ path, method, id string }{
		{"/api/v1/rules/{name}", "put", "replace-rule"},
		{"/api/v1/rules/{name}", "patch", "patch-rule"},
		{"/api/v1/rules/{name}", "delete", "delete-rule"},
		{"/api/v1/rules/{name}/enable", "post", "enable-rule"},
		{"/api/v1/rules/{name}/disable", "post", "disable-rule"},
	} {
		o, ok := doc.Paths[w.path][w.method]
		if !ok || o.OperationID != w.id {
			t.Errorf("no %s %s (%s) in the document", w.method, w.path, w.id)
			continue
		}
		if !slices.ContainsFunc(o.Parameters, func(p struct {
			Name string `json:"name"`
			In   string `json:"in"`
		}) bool {
			return p.Name == "If-Match" && p.In == "header"
		}) {
			t.Errorf("%s: no If-Match header parameter", w.id)
		}
		if _, ok := o.Responses["412"]; !ok {
			t.Errorf("%s: no 412 answer (responses %v)", w.id, slices.Collect(maps.Keys(o.Responses)))
		}
		if w.method != "delete" {
			if _, ok := o.Responses["200"].Headers["ETag"]; !ok {
				t.Errorf("%s: its answer has no ETag header", w.id)
			}
		}
	}
	if _, ok := doc.Paths["/api/v1/rules/{name}"]["patch"].RequestBody.Content["application/merge-patch+json"]; !ok {
		t.Errorf("PATCH takes no application/merge-patch+json body")
	}
	if _, ok := doc.Paths["/api/v1/rules/{name}"]["get"].Responses["200"].Headers["ETag"]; !ok {
		t.Errorf("GET /rules/{name} answers no ETag header")
	}
}
