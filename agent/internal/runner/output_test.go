package runner_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// runOutput runs a job whose Run is run once on every store, with a secret
// parameter "token" set to secret, and returns the finished run as stored
// and as the run.finished event carried it.
func runOutput(t *testing.T, s store.Store, secret string, run func(ctx context.Context) error) (stored, event store.Run) {
	t.Helper()
	job := funcJob{id: "result", params: []jobs.Param{{Name: "token", Secret: true}}, run: func(ctx context.Context, _ jobs.Params) error {
		return run(ctx)
	}}
	e := newEnv(t, s, 100, job)
	_, evs, _, cancel := e.events.Subscribe(0)
	defer cancel()
	r := start(t, e, e.rule(t, store.Rule{Name: "result", Job: "result", Parameters: map[string]string{"token": secret}}))
	stored = e.waitStatus(t, r.ID, api.StatusSucceeded, api.StatusFailed)
	for {
		select {
		case ev := <-evs:
			if ev.Type == api.EventRunFinished && ev.Run != nil && ev.Run.ID == r.ID {
				return stored, *ev.Run
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no run.finished event")
		}
	}
}

func TestSetOutputIsStoredWithTheRunAndInItsFinishedEvent(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		stored, event := runOutput(t, s, "unused-secret", func(ctx context.Context) error {
			return jobs.SetOutput(ctx, map[string]any{"rows": 42, "file": "s3://bucket/dump.gz", "ok": true})
		})
		const want = `{"file":"s3://bucket/dump.gz","ok":true,"rows":42}`
		if stored.Status != api.StatusSucceeded || string(stored.Output) != want {
			t.Errorf("stored run is %s (error %q) with output %s, want succeeded with %s", stored.Status, stored.Error, stored.Output, want)
		}
		if string(event.Output) != want {
			t.Errorf("the run.finished event carries output %s, want %s", event.Output, want)
		}
	})
}

func TestSetOutputLaterCallReplacesAndAnOutputTooLargeIsRefused(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		var tooLarge, replaced error
		stored, _ := runOutput(t, s, "unused-secret", func(ctx context.Context) error {
			if err := jobs.SetOutput(ctx, "first"); err != nil {
				return err
			}
			replaced = jobs.SetOutput(ctx, map[string]int{"second": 2})
			tooLarge = jobs.SetOutput(ctx, strings.Repeat("x", jobs.MaxOutputBytes))
			return nil
		})
		if replaced != nil {
			t.Fatalf("the second SetOutput: %v", replaced)
		}
		if !errors.Is(tooLarge, jobs.ErrOutputTooLarge) {
			t.Errorf("SetOutput of %d bytes of JSON: got %v, want ErrOutputTooLarge", jobs.MaxOutputBytes+2, tooLarge)
		}
		if got := string(stored.Output); got != `{"second":2}` {
			t.Errorf("output %s, want the second call's, kept past the refused third", got)
		}
	})
}

// Masking may make an output longer than the job's encoding of it: the
// limit holds for what is stored.
func TestSetOutputRefusesAnOutputThatMaskingMakesTooLarge(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		const secret = "k9"
		var tooLarge error
		stored, _ := runOutput(t, s, secret, func(ctx context.Context) error {
			_ = jobs.SetOutput(ctx, "kept")
			// Under the limit as written, 4 times over it once each "k9"
			// becomes "********".
			tooLarge = jobs.SetOutput(ctx, strings.Repeat(secret, jobs.MaxOutputBytes/2-2))
			return nil
		})
		if !errors.Is(tooLarge, jobs.ErrOutputTooLarge) {
			t.Errorf("SetOutput of an output too large once masked: got %v, want ErrOutputTooLarge", tooLarge)
		}
		if got := string(stored.Output); got != `"kept"` {
			t.Errorf("output %s, want the earlier one kept", got)
		}
	})
}

func TestOutputNeverHoldsASecretValue(t *testing.T) {
	t.Parallel()
	// A secret holding what JSON escapes: masking the encoded text would
	// look for `p"w<1>` and not find `p\"w\u003c1\u003e`.
	const secret = `p"w<1>-secret-4e2`
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		stored, event := runOutput(t, s, secret, func(ctx context.Context) error {
			return jobs.SetOutput(ctx, json.RawMessage(`{
				"value": "the token is `+jsonEscape(secret)+`",
				"`+jsonEscape(secret)+`": "as a key",
				"escaped": "a\"`+jsonEscape(secret)+`",
				"list": [1, "`+jsonEscape(secret)+`", {"deep": "`+jsonEscape(secret)+`"}],
				"number": 1.50
			}`))
		})
		m := api.MaskedValue
		want := `{"` + m + `":"as a key","escaped":"a\"` + m + `","list":[1,"` + m + `",{"deep":"` + m + `"}],"number":1.50,"value":"the token is ` + m + `"}`
		for what, got := range map[string]json.RawMessage{"stored output": stored.Output, "event output": event.Output} {
			if string(got) != want {
				t.Errorf("%s:\n got %s\nwant %s", what, got, want)
			}
			var decoded any
			if err := json.Unmarshal(got, &decoded); err != nil {
				t.Errorf("%s is not JSON: %v", what, err)
			}
			if text, _ := json.Marshal(decoded); strings.Contains(string(got)+string(text), "secret-4e2") {
				t.Errorf("%s holds the secret: %s", what, got)
			}
		}
	})
}

// jsonEscape is s as it appears inside a JSON string.
func jsonEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// A secret of digits written as a JSON number is masked too (a PIN), and
// what JSON would escape for HTML stays as the job wrote it.
func TestOutputMasksANumericSecretAndKeepsItsText(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		stored, event := runOutput(t, s, "48151623", func(ctx context.Context) error {
			return jobs.SetOutput(ctx, map[string]any{"pin": json.Number("48151623"), "n": 7, "url": "https://x/?a=1&b=<2>"})
		})
		want := `{"n":7,"pin":"` + api.MaskedValue + `","url":"https://x/?a=1&b=<2>"}`
		for what, got := range map[string]json.RawMessage{"stored output": stored.Output, "event output": event.Output} {
			if string(got) != want {
				t.Errorf("%s:\n got %s\nwant %s", what, got, want)
			}
		}
	})
}

// SetOutput(nil) clears what an earlier call set; a refused output is said
// in the run's log, without its content.
func TestSetOutputNilClearsAndARefusalIsLogged(t *testing.T) {
	t.Parallel()
	storetesting.Each(t, func(t *testing.T, s store.Store) {
		var refused error
		stored, _ := runOutput(t, s, "unused-secret", func(ctx context.Context) error {
			if err := jobs.SetOutput(ctx, map[string]int{"a": 1}); err != nil {
				return err
			}
			if err := jobs.SetOutput(ctx, nil); err != nil {
				return err
			}
			refused = jobs.SetOutput(ctx, strings.Repeat("z", jobs.MaxOutputBytes))
			return nil
		})
		if stored.Output != nil {
			t.Errorf("output %s, want none after SetOutput(nil)", stored.Output)
		}
		if !errors.Is(refused, jobs.ErrOutputTooLarge) {
			t.Fatalf("SetOutput of 64 KiB + 2 = %v, want ErrOutputTooLarge", refused)
		}
		lines, err := s.RunLogList(context.Background(), stored.ID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, l := range lines {
			if l.Level == "warn" && strings.Contains(l.Message, "larger than 65536 bytes") {
				found = true
			}
			if strings.Contains(l.Message, "zzzz") {
				t.Errorf("the log quotes the refused output: %.80q", l.Message)
			}
		}
		if !found {
			t.Errorf("no warning about the refused output in the log: %v", lines)
		}
	})
}
