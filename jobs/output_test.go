package jobs_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/jobbridge/jobbridge/jobs"
)

// outputRecorder is a jobs.OutputReporter that keeps what SetOutput hands it.
type outputRecorder struct {
	recorder
	outputs []string
}

func (r *outputRecorder) SetOutput(output json.RawMessage) error {
	r.outputs = append(r.outputs, string(output))
	return nil
}

// plainReporter is a Reporter that keeps no output.
type plainReporter struct{}

func (plainReporter) Log(slog.Level, string) {}
func (plainReporter) Progress(int, string)   {}

func TestSetOutputHandsTheReporterCompactJSON(t *testing.T) {
	t.Parallel()
	rec := &outputRecorder{}
	ctx := jobs.WithReporter(context.Background(), rec)
	if err := jobs.SetOutput(ctx, map[string]any{"b": 1, "a": []string{"x"}}); err != nil {
		t.Fatal(err)
	}
	if err := jobs.SetOutput(ctx, json.RawMessage(" {\"k\" : 1.50}\n")); err != nil {
		t.Fatal(err)
	}
	want := []string{`{"a":["x"],"b":1}`, `{"k":1.50}`}
	if strings.Join(rec.outputs, " ") != strings.Join(want, " ") {
		t.Errorf("outputs handed over: %q, want %q", rec.outputs, want)
	}
}

func TestSetOutputRefusesWhatItCannotKeep(t *testing.T) {
	t.Parallel()
	rec := &outputRecorder{}
	ctx := jobs.WithReporter(context.Background(), rec)
	if err := jobs.SetOutput(ctx, strings.Repeat("x", jobs.MaxOutputBytes-1)); !errors.Is(err, jobs.ErrOutputTooLarge) {
		t.Errorf("an output of %d bytes of JSON: got %v, want ErrOutputTooLarge", jobs.MaxOutputBytes+1, err)
	}
	if err := jobs.SetOutput(ctx, strings.Repeat("x", jobs.MaxOutputBytes-2)); err != nil {
		t.Errorf("an output of exactly %d bytes of JSON: %v", jobs.MaxOutputBytes, err)
	}
	if err := jobs.SetOutput(ctx, json.RawMessage(`{"a":`)); err == nil {
		t.Errorf("SetOutput took JSON that ends too soon")
	}
	if err := jobs.SetOutput(ctx, func() {}); err == nil {
		t.Errorf("SetOutput took a value JSON cannot encode")
	}
	if len(rec.outputs) != 1 {
		t.Errorf("the reporter was handed %d outputs, want only the one of exactly the limit", len(rec.outputs))
	}
}

func TestSetOutputOutsideARunDoesNothing(t *testing.T) {
	t.Parallel()
	if err := jobs.SetOutput(context.Background(), map[string]int{"rows": 1}); err != nil {
		t.Errorf("SetOutput outside a run: %v, want nil", err)
	}
	if err := jobs.SetOutput(jobs.WithReporter(context.Background(), plainReporter{}), "x"); err != nil {
		t.Errorf("SetOutput with a reporter that keeps no output: %v, want nil", err)
	}
}
