package builtin_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/jobs"
)

// recorder is a jobs.ProcessReporter and jobs.OutputReporter that keeps
// what a run says, for assertions.
type recorder struct {
	mu        sync.Mutex
	lines     []logLine
	progress  []progressReport
	processes []jobs.Process
	outputs   []string
}

type logLine struct {
	level slog.Level
	msg   string
}

func (l logLine) String() string { return l.level.String() + " " + l.msg }

type progressReport struct {
	percent int
	msg     string
}

func (r *recorder) Log(level slog.Level, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, logLine{level, msg})
}

func (r *recorder) Progress(percent int, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress = append(r.progress, progressReport{percent, msg})
}

func (r *recorder) ProcessStarted(p jobs.Process) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.processes = append(r.processes, p)
}

func (r *recorder) SetOutput(output json.RawMessage) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.outputs = append(r.outputs, string(output))
	return nil
}

// Outputs are the outputs the run set, in order.
func (r *recorder) Outputs() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.outputs...)
}

func (r *recorder) Processes() []jobs.Process {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]jobs.Process(nil), r.processes...)
}

func (r *recorder) Lines() []logLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]logLine(nil), r.lines...)
}

func (r *recorder) Progresses() []progressReport {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]progressReport(nil), r.progress...)
}

// dump formats the log for failure messages.
func (r *recorder) dump() string {
	var b strings.Builder
	for _, l := range r.Lines() {
		fmt.Fprintf(&b, "\n  %s", l)
	}
	return b.String()
}

// hasLine reports whether a line at level contains substr.
func (r *recorder) hasLine(level slog.Level, substr string) bool {
	for _, l := range r.Lines() {
		if l.level == level && strings.Contains(l.msg, substr) {
			return true
		}
	}
	return false
}

// runContext returns a context that reports to a new recorder and is
// cancelled when the test ends, or after 20s so that a run that hangs fails
// its test instead of the whole package's timeout.
func runContext(t *testing.T) (context.Context, context.CancelFunc, *recorder) {
	t.Helper()
	rec := &recorder{}
	ctx, cancel := context.WithTimeout(jobs.WithReporter(t.Context(), rec), 20*time.Second)
	t.Cleanup(cancel)
	return ctx, cancel, rec
}

// resolve applies the job's defaults to values, as the runner does.
func resolve(t *testing.T, job jobs.Job, values map[string]string) jobs.Params {
	t.Helper()
	params, err := jobs.Resolve(job, values)
	if err != nil {
		t.Fatalf("resolve parameters of %s: %v", job.ID(), err)
	}
	return params
}

// runAsync runs job in the background; the channel yields its error.
func runAsync(ctx context.Context, job jobs.Job, params jobs.Params) <-chan error {
	done := make(chan error, 1)
	go func() { done <- job.Run(ctx, params) }()
	return done
}

// waitErr waits up to limit for the run's result.
func waitErr(t *testing.T, done <-chan error, limit time.Duration) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("run did not return within %s", limit)
		return nil
	}
}
