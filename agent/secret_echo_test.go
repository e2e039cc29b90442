package agent_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/shared/api"
)

// A secret of any type that fails validation is refused with a message
// naming the parameter, never quoting the value: neither in the answer to
// a rule, nor to a trigger, nor in the agent's log.
func TestValidationNeverEchoesASecretWhateverItsType(t *testing.T) {
	t.Parallel()
	ta := startAgent(t, "sqlite")
	const secret = "98765432-not-a-number"
	if _, err := ta.admin.CreateRule(context.Background(), api.RuleInput{Name: "db", Job: "secretive", Schedule: "rate(1 day)", Parameters: map[string]string{"password": "p"}}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ path, body string }{
		{"/api/v1/rules", `{"name":"x","job":"secretive","schedule":"rate(1 day)","parameters":{"password":"p","pin":"` + secret + `"}}`},
		{"/api/v1/rules", `{"name":"x","job":"secretive","schedule":"rate(1 day)","parameters":{"password":98765432}}`},
		{"/api/v1/rules/db/trigger", `{"parameters":{"pin":"` + secret + `"}}`},
		{"/api/v1/rules/db/trigger", `{"parameters":{"pin":98765432}}`},
	} {
		req, _ := http.NewRequest(http.MethodPost, ta.URL()+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+adminToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST %s %s: status %d, want 400", c.path, c.body, resp.StatusCode)
		}
		if strings.Contains(string(got), "98765432") {
			t.Errorf("POST %s: the answer echoes the secret: %s", c.path, got)
		}
		if !strings.Contains(string(got), "body.parameters.") {
			t.Errorf("POST %s: the answer does not name the parameter: %s", c.path, got)
		}
	}
	if strings.Contains(ta.log.String(), "98765432") {
		t.Errorf("the agent's log holds the secret:\n%s", ta.log.String())
	}
}
