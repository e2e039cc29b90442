package builtin_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/jobs/builtin"
	"github.com/jobbridge/jobbridge/jobs/egress"
)

// queryServer records each request's query, headers and body.
func queryServer(t *testing.T) (*httptest.Server, func() []*http.Request, func() []string) {
	t.Helper()
	var mu sync.Mutex
	var reqs []*http.Request
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs, bodies = append(reqs, r.Clone(r.Context())), append(bodies, string(b))
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv, func() []*http.Request {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(reqs)
		}, func() []string {
			mu.Lock()
			defer mu.Unlock()
			return slices.Clone(bodies)
		}
}

// Parameters reach a fixed request only where its spec puts them: a query
// value percent-encoded, a header value as it is, a JSON body escaped as
// inside a JSON string; bearer_token as the http job sends it.
func TestHTTPRequestPutsParametersWhereTheSpecSays(t *testing.T) {
	t.Parallel()
	srv, seen, bodies := queryServer(t)
	job, err := builtin.NewHTTPRequest("ping-partner", "Tells the partner.", builtin.HTTPRequestSpec{
		Method:  "post",
		URL:     srv.URL + "/ping?from=jobbridge&site=${param.site}",
		Headers: map[string]string{"X-From": "jobbridge", "x-run-mode": "${param.mode}", "X-Signature": "sig ${param.signature}"},
		Body:    `{"site": "${param.site}", "mode": "${param.mode}"}`,
	}, []jobs.Param{
		{Name: "site", Required: true},
		{Name: "mode", Type: jobs.TypeEnum, Choices: []string{"full", "quick"}, Default: "full"},
		{Name: "signature", Secret: true},
		{Name: "bearer_token", Secret: true},
	}, allowLoopback(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, _, rec := runContext(t)
	err = job.Run(ctx, resolve(t, job, map[string]string{"site": `a&b "c"`, "signature": "s1g", "bearer_token": "t0k3n"}))
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	reqs := seen()
	if len(reqs) != 1 {
		t.Fatalf("the server saw %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Method != http.MethodPost || r.URL.Path != "/ping" || r.URL.RawQuery != "from=jobbridge&site=a%26b+%22c%22" {
		t.Errorf("the server saw %s %s?%s, want POST /ping?from=jobbridge&site=a%%26b+%%22c%%22", r.Method, r.URL.Path, r.URL.RawQuery)
	}
	for name, want := range map[string]string{
		"X-From": "jobbridge", "X-Run-Mode": "full", "X-Signature": "sig s1g",
		"Authorization": "Bearer t0k3n", "Content-Type": "application/json",
	} {
		if got := r.Header.Get(name); got != want {
			t.Errorf("the server saw %s: %q, want %q", name, got, want)
		}
	}
	if got, want := bodies()[0], `{"site": "a&b \"c\"", "mode": "full"}`; got != want {
		t.Errorf("the server saw the body %s, want %s", got, want)
	}
	for _, l := range rec.Lines() {
		if strings.Contains(l.msg, "s1g") || strings.Contains(l.msg, "t0k3n") {
			t.Errorf("a secret leaked into the log: %s", l)
		}
	}
}

// Every mistake of a spec is refused at once, each naming its field.
func TestNewHTTPRequestRefusesABadSpecNamingEachField(t *testing.T) {
	t.Parallel()
	_, err := builtin.NewHTTPRequest("bad", "", builtin.HTTPRequestSpec{
		Method:       "BREW",
		URL:          "https://${param.host}/x?${param.name}=1",
		Headers:      map[string]string{"Bad Name": "x", "Host": "${param.host}", "X-Nl": "a\nb", "X-Who": "${param.nobody}", "X-Odd": "${env:HOME}"},
		Body:         "${param.bearer_token}",
		ExpectStatus: "banana",
		Timeout:      time.Hour,
	}, []jobs.Param{{Name: "host"}, {Name: "name"}, {Name: "unused"}, {Name: "bearer_token"}}, nil)
	var de *builtin.DeclarationError
	if !errors.As(err, &de) {
		t.Fatalf("NewHTTPRequest = %v, want a *DeclarationError", err)
	}
	got := map[string]string{}
	for _, p := range de.Problems {
		got[p.Field] += p.Reason + "|"
	}
	for field, want := range map[string]string{
		"method":              `"BREW" is not one of GET`,
		"url":                 "placeholder outside its query",
		"headers.Bad Name":    "is not a header name",
		"headers.Host":        "chooses where the request goes",
		"headers.X-Nl":        "line break",
		"headers.X-Who":       "${param.nobody} names no declared parameter",
		"headers.X-Odd":       `"${" that is not a ${param.NAME} placeholder`,
		"body":                "bearer_token is sent as the http job sends it",
		"expectStatus":        `"banana" is not a status code`,
		"timeout":             "1h0m0s is longer than",
		"params.unused":       "the request never uses it",
		"params.bearer_token": "declare it secret",
	} {
		if !strings.Contains(got[field], want) {
			t.Errorf("problem of %s = %q, want it to say %q", field, got[field], want)
		}
	}
	for _, c := range []struct{ url, want string }{
		{"ftp://x/", "is not an http:// or https:// URL"},
		{"https://user:pw@x/", "user name or password"},
		{"https://x/?a=${param.token}", "${param.token} is secret, and a URL is logged"},
		{"https://x/?${param.name}=1", "placeholder in a query name"},
		{"https://x/#top", "fragment"},
		{"http://127.0.0.1/", "JOBBRIDGE_HTTP_ALLOW"},
	} {
		_, err := builtin.NewHTTPRequest("bad", "", builtin.HTTPRequestSpec{URL: c.url},
			[]jobs.Param{{Name: "token", Secret: true, Default: "x"}, {Name: "name", Default: "x"}}, nil)
		if !errors.As(err, &de) || de.Problems[0].Field != "url" || !strings.Contains(de.Problems[0].Reason, c.want) {
			t.Errorf("url %s: %v, want a problem of url saying %q", c.url, err, c.want)
		}
		if strings.Contains(c.url, "pw@") && strings.Contains(err.Error(), "pw") {
			t.Errorf("the refusal quotes the URL's password: %v", err)
		}
	}
}

// A JSON body's placeholders must sit inside strings: a value is escaped
// for a string's content, so outside one it could turn a number into an
// object or break the body. Each refusal says how to write it.
func TestNewHTTPRequestKeepsJSONPlaceholdersInStrings(t *testing.T) {
	t.Parallel()
	params := []jobs.Param{{Name: "n"}, {Name: "k"}}
	for _, c := range []struct {
		body, contentType, want string // want "" for accepted
	}{
		{`{"n": ${param.n}, "k": "${param.k}"}`, "", `a placeholder in a JSON body must be inside a string, as its value is escaped for one: write "${param.n}"`},
		{`[${param.n}, ${param.k}, ${param.n}]`, "", `write "${param.n}", "${param.k}"`},
		{`${param.n}${param.k}`, "application/json; charset=utf-8", `write "${param.n}", "${param.k}"`},
		{`{"n": 1${param.n}, "k": "${param.k}"}`, "application/merge-patch+json", `write "${param.n}"`},
		{`{"n": "\${param.n}", "k": "${param.k}"}`, "", `write "${param.n}"`},
		{`{"n": "\u${param.n}", "k": "${param.k}"}`, "", "is not JSON"},
		{`{"n": "${param.n}", "k": "${param.k}"`, "", "is not JSON"},
		{`{"n": "${param.n}" "k": "${param.k}"}`, "", "is not JSON"},
		{`{"${param.k}": "a ${param.n} b", "x": [1, "\"${param.n}\\", "${param.k}"]}`, "", ""},
		{`{"n": "${param.n}${param.k}"}`, "application/vnd.api+json", ""},
	} {
		spec := builtin.HTTPRequestSpec{Method: "POST", URL: "https://partner.example/", Body: c.body}
		if c.contentType != "" {
			spec.Headers = map[string]string{"Content-Type": c.contentType}
		}
		_, err := builtin.NewHTTPRequest("call", "", spec, params, nil)
		var de *builtin.DeclarationError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("body %s: %v, want it accepted", c.body, err)
		case c.want == "":
		case !errors.As(err, &de) || len(de.Problems) != 1 || de.Problems[0].Field != "body" || !strings.Contains(de.Problems[0].Reason, c.want):
			t.Errorf("body %s: %v, want one problem of body saying %q", c.body, err, c.want)
		}
	}
}

// A form body's values are percent-encoded, so a value cannot add a
// field; a text/plain body takes them as they are.
func TestHTTPRequestEscapesAFormBody(t *testing.T) {
	t.Parallel()
	srv, seen, bodies := queryServer(t)
	for _, c := range []struct{ contentType, body, want string }{
		{"application/x-www-form-urlencoded", "user=${param.u}&note=a+b", "user=x%26role%3Dadmin+%C3%A9&note=a+b"},
		{"application/x-www-form-urlencoded; charset=utf-8", "a=1&user=pre-${param.u}", "a=1&user=pre-x%26role%3Dadmin+%C3%A9"},
		{"text/plain", "hello ${param.u}", "hello x&role=admin é"},
	} {
		job, err := builtin.NewHTTPRequest("form", "", builtin.HTTPRequestSpec{
			Method: "POST", URL: srv.URL + "/form", Headers: map[string]string{"Content-Type": c.contentType}, Body: c.body,
		}, []jobs.Param{{Name: "u"}}, allowLoopback(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx, _, _ := runContext(t)
		if err := job.Run(ctx, resolve(t, job, map[string]string{"u": "x&role=admin é"})); err != nil {
			t.Fatalf("Run: %v", err)
		}
		reqs, bs := seen(), bodies()
		last := reqs[len(reqs)-1]
		if got := bs[len(bs)-1]; got != c.want || last.Header.Get("Content-Type") != c.contentType {
			t.Errorf("%s body %s: the server saw %s (%s), want %s", c.contentType, c.body, got, last.Header.Get("Content-Type"), c.want)
		}
		if strings.HasPrefix(c.contentType, "application/x-www-form-urlencoded") {
			if form, err := url.ParseQuery(bs[len(bs)-1]); err != nil || len(form["role"]) != 0 {
				t.Errorf("the value added a field: %v (%v)", form, err)
			}
		}
	}
}

// A body takes placeholders only where its Content-Type says how to
// escape them, and nothing but the file chooses that Content-Type.
func TestNewHTTPRequestRefusesABodyItCannotEscape(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		headers     map[string]string
		body        string
		field, want string // want "" for accepted
	}{
		{map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "${param.u}=1", "body",
			"a placeholder in a form body must be in a field's value (name=${param.u}): parameters never name a field"},
		{map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "a=1&${param.u}", "body", "must be in a field's value"},
		{map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "a=1&user${param.u}=2", "body", "must be in a field's value"},
		{map[string]string{"Content-Type": "application/xml"}, "<u>${param.u}</u>", "body",
			`takes a parameter, and a body of Content-Type "application/xml" has no escaping the job knows`},
		{map[string]string{"Content-Type": "multipart/form-data; boundary=x"}, "${param.u}", "body", "has no escaping the job knows"},
		{map[string]string{"Content-Type": "application/${param.u}"}, `{"a": 1}`, "headers.Content-Type",
			"takes a parameter, and the Content-Type says how the body's values are escaped"},
		{map[string]string{"Content-Type": "text/plain", "content-type": "application/json", "X-U": "${param.u}"}, "x", "headers.content-type",
			"is given already, as Content-Type (header names differ only in case)"},
		{map[string]string{"Content-Type": "application/xml", "X-U": "${param.u}"}, "<u>fixed</u>", "", ""},
		{map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "a=&b=${param.u}${param.u}&c", "", ""},
	} {
		_, err := builtin.NewHTTPRequest("call", "", builtin.HTTPRequestSpec{
			Method: "POST", URL: "https://partner.example/", Headers: c.headers, Body: c.body,
		}, []jobs.Param{{Name: "u"}}, nil)
		var de *builtin.DeclarationError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v body %s: %v, want it accepted", c.headers, c.body, err)
		case c.want == "":
		case !errors.As(err, &de) || len(de.Problems) != 1 || de.Problems[0].Field != c.field || !strings.Contains(de.Problems[0].Reason, c.want):
			t.Errorf("%v body %s: %v, want one problem of %s saying %q", c.headers, c.body, err, c.field, c.want)
		}
	}
}

// A header carrying a credential takes secret parameters only: a
// non-secret one would show the credential to every viewer of the rule and
// its runs, as the http job's header parameter refuses too.
func TestNewHTTPRequestKeepsCredentialHeadersSecret(t *testing.T) {
	t.Parallel()
	params := []jobs.Param{{Name: "tok"}, {Name: "key", Secret: true}, {Name: "site"}}
	for _, c := range []struct {
		header, value, want string // want "" for accepted
	}{
		{"Authorization", "Bearer ${param.tok}", "${param.tok} is not secret, and Authorization carries a credential: declare tok secret"},
		{"x-api-key", "${param.tok}", "${param.tok} is not secret, and X-Api-Key carries a credential"},
		{"Cookie", "session=${param.key}; site=${param.tok}", "${param.tok} is not secret, and Cookie carries a credential"},
		{"Authorization", "Bearer ${param.key}", ""},
		{"X-Site", "${param.tok}", ""},
	} {
		_, err := builtin.NewHTTPRequest("call", "", builtin.HTTPRequestSpec{
			URL: "https://partner.example/?site=${param.site}", Headers: map[string]string{c.header: c.value, "X-Other": "${param.key} ${param.tok}"},
		}, params, nil)
		var de *builtin.DeclarationError
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %s: %v, want it accepted", c.header, c.value, err)
		case c.want == "":
		case !errors.As(err, &de) || len(de.Problems) != 1 || de.Problems[0].Field != "headers."+c.header || !strings.Contains(de.Problems[0].Reason, c.want):
			t.Errorf("%s: %s: %v, want one problem of headers.%s saying %q", c.header, c.value, err, c.header, c.want)
		}
	}
}

// A value that cannot go where the spec puts it, or credentials that
// conflict, are refused when the values are resolved, naming the parameter.
func TestHTTPRequestValidatesValuesWhenResolved(t *testing.T) {
	t.Parallel()
	job, err := builtin.NewHTTPRequest("call", "", builtin.HTTPRequestSpec{
		URL: "https://partner.example/", Headers: map[string]string{"X-Site": "${param.site}", "Authorization": "Token fixed"},
	}, []jobs.Param{{Name: "site"}, {Name: "bearer_token", Secret: true}, {Name: "basic_auth", Secret: true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		values      map[string]string
		param, want string
	}{
		{map[string]string{"site": "a\r\nX-Evil: 1"}, "site", "goes in the X-Site header, and holds a line break"},
		{map[string]string{"bearer_token": "t"}, "bearer_token", "sets Authorization, and so does the job's own Authorization header"},
		{map[string]string{"basic_auth": "no-colon"}, "basic_auth", `is not "user:password"`},
	} {
		_, err := jobs.Resolve(job, c.values)
		var ve *jobs.ValidationError
		if !errors.As(err, &ve) || ve.Fields[0].Param != c.param || !strings.Contains(ve.Fields[0].Reason, c.want) {
			t.Errorf("%v: Resolve = %v, want %s refused saying %q", c.values, err, c.param, c.want)
		}
		if strings.Contains(c.want, "user:password") && strings.Contains(err.Error(), "no-colon") {
			t.Errorf("the refusal quotes the secret: %v", err)
		}
	}
}

// A secret in the body is never sent to another host after a redirect.
func TestHTTPRequestKeepsASecretBodyOnItsHost(t *testing.T) {
	t.Parallel()
	other, seen, _ := queryServer(t)
	first := serveOn(t, "127.0.0.1", http.RedirectHandler(onHost(t, other.URL, "localhost")+"/next", http.StatusTemporaryRedirect))
	policy, err := egress.Parse("127.0.0.1, localhost")
	if err != nil {
		t.Fatal(err)
	}
	job, err := builtin.NewHTTPRequest("call", "", builtin.HTTPRequestSpec{Method: "POST", URL: first.URL, Body: `{"key": "${param.key}"}`},
		[]jobs.Param{{Name: "key", Secret: true}}, policy)
	if err != nil {
		t.Fatal(err)
	}
	ctx, _, _ := runContext(t)
	err = job.Run(ctx, resolve(t, job, map[string]string{"key": "k3y"}))
	if err == nil || !strings.Contains(err.Error(), "the request's body carries a secret") {
		t.Errorf("Run = %v, want the redirect to another host refused", err)
	}
	if n := len(seen()); n != 0 {
		t.Errorf("the other host got %d requests, want none", n)
	}
}
