package sshconsole_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/shared/api"
)

// TestCopyReachesTheClientsTerminal: over SSH, y and Y write the
// terminal's clipboard sequence (OSC 52) into the session's output, so the
// copy lands in the operator's own terminal, whole, between frames.
func TestCopyReachesTheClientsTerminal(t *testing.T) {
	f := setup(t)
	long := strings.Repeat("a description that goes on and on, ", 14) // 490 of the 512 allowed
	if _, err := f.agent.Client(agenttest.AdminToken).CreateRule(t.Context(), api.RuleInput{
		Name: "ssh-copy", Job: "demo", Schedule: "rate(1 day)", Description: long,
	}); err != nil {
		t.Fatal(err)
	}
	client, err := f.dial(t, f.viewer)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_, in, out := openConsole(t, client, 100, 30)
	out.waitFor(t, "● live")
	send := func(keys string) {
		t.Helper()
		if _, err := io.WriteString(in, keys); err != nil {
			t.Fatal(err)
		}
	}
	send(":rules\r")
	out.waitFor(t, "ssh-copy")
	send("y")
	out.waitFor(t, "copied rule ssh-copy")
	want := "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte("ssh-copy")) + "\a"
	if !strings.Contains(out.raw(), want) {
		t.Fatalf("the session's output does not hold %q", want)
	}

	send("d")
	out.waitFor(t, "Rule ssh-copy", "description")
	send("Y")
	out.waitFor(t, "copied rule ssh-copy as JSON")
	raw := out.raw()
	start := strings.LastIndex(raw, "\x1b]52;c;")
	end := strings.Index(raw[start:], "\a")
	if start < 0 || end < 0 {
		t.Fatal("no OSC 52 sequence for Y in the session's output")
	}
	doc, err := base64.StdEncoding.DecodeString(raw[start+len("\x1b]52;c;") : start+end])
	if err != nil {
		t.Fatalf("Y's sequence did not arrive whole (something was written inside it): %v", err)
	}
	var rule api.Rule
	if err := json.Unmarshal(doc, &rule); err != nil || rule.Name != "ssh-copy" || rule.Description != long {
		t.Fatalf("Y copied %d bytes that are not the rule's JSON (%v)", len(doc), err)
	}
}
