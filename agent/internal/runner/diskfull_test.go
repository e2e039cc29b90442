package runner_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/runner"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/agent/internal/storetesting"
	"github.com/jobbridge/jobbridge/internal/testutil/wait"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// newDiskEnv is a runner on a SQLite store that a test can fill up.
func newDiskEnv(t *testing.T, cfg runner.Config, js ...jobs.Job) (*env, *watchedStore) {
	t.Helper()
	s := &watchedStore{Store: storetesting.Open(t, "sqlite")}
	reg := jobs.NewRegistry()
	if err := reg.Register(js...); err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Jobs, cfg.Events, cfg.Node = s, reg, events.NewBroker(0), "node-1"
	cfg.LogFlushInterval = 10 * time.Millisecond
	r, err := runner.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Shutdown(ctx)
	})
	return &env{store: s.Store, runner: r, events: cfg.Events}, s
}

// waitLines polls until the run has at least n lines stored.
func (e *env) waitLines(t *testing.T, id string, n int) {
	t.Helper()
	wait.For(t, 10*time.Second, func() (bool, string) {
		got := len(e.logLines(t, id))
		return got >= n, fmt.Sprintf("run %s has %d log line(s) stored, want %d", id, got, n)
	})
}

// kilobyteLine is a log line big enough that a few need a new page.
func kilobyteLine(i int) string {
	return fmt.Sprintf("line %03d %s", i, strings.Repeat(".", 1000))
}

// A run that ends while the disk is full keeps its last lines and progress
// until space returns, and only then is recorded as finished. Before, they
// were tried twice and dropped without a word in the run's log.
func TestARunEndingOnAFullDiskKeepsItsLogUntilSpaceReturns(t *testing.T) {
	t.Parallel()
	begun, full, returned := make(chan struct{}), make(chan struct{}), make(chan struct{})
	job := funcJob{id: "writer", run: func(ctx context.Context, _ jobs.Params) error {
		jobs.Logger(ctx).Info("before")
		close(begun)
		<-full
		for i := range 20 {
			jobs.Logger(ctx).Info(kilobyteLine(i))
		}
		jobs.Progress(ctx, 70, "most of it")
		close(returned)
		return nil
	}}
	e, s := newDiskEnv(t, runner.Config{}, job)
	run := start(t, e, e.rule(t, store.Rule{Name: "r", Job: "writer"}))
	<-begun
	e.waitLines(t, run.ID, 1)

	fillDisk(t, s.Store)
	close(full)
	<-returned
	// Let the runner find the disk full a few times after the job returned.
	failed := s.failedLogs.Load()
	wait.Poll(t, 10*time.Second, func() (bool, string) {
		if s.failedLogs.Load() >= failed+3 {
			return true, ""
		}
		got, _ := e.store.RunGet(context.Background(), run.ID)
		return got.Status != api.StatusRunning, "" // recorded as finished with the disk still full
	})
	if n := s.otherErrors.Load(); n != 0 {
		t.Errorf("%d log write(s) on a full disk failed with other than store.ErrUnavailable", n)
	}
	freeDisk(t, s.Store)

	got := e.waitStatus(t, run.ID, api.StatusSucceeded)
	lines := e.logLines(t, run.ID)
	want := []string{"before"}
	for i := range 20 {
		want = append(want, kilobyteLine(i))
	}
	if !equalMessages(lines, want) {
		t.Errorf("stored log: %s\nwant \"before\" and the 20 lines written on the full disk", describe(lines))
	}
	if got.Progress != (api.Progress{Percent: 70, Message: "most of it"}) {
		t.Errorf("stored progress = %+v, want the last one reported", got.Progress)
	}
}

// Lines that a full disk keeps out are held up to the run's buffer; those
// beyond it are lost, and the log says how many where they were.
func TestLinesBeyondTheRunsBufferAreLostAndTheGapIsNoted(t *testing.T) {
	t.Parallel()
	begun, full, logged, freed := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	job := funcJob{id: "chatty", run: func(ctx context.Context, _ jobs.Params) error {
		jobs.Logger(ctx).Info("before")
		close(begun)
		<-full
		for i := range 100 {
			jobs.Logger(ctx).Info(kilobyteLine(i))
		}
		close(logged)
		<-freed
		jobs.Logger(ctx).Info("after")
		return nil
	}}
	e, s := newDiskEnv(t, runner.Config{LogBufferPerRun: 16 << 10}, job)
	run := start(t, e, e.rule(t, store.Rule{Name: "r", Job: "chatty"}))
	<-begun
	e.waitLines(t, run.ID, 1)
	fillDisk(t, s.Store)
	close(full)
	<-logged
	s.waitRetriedSince(t, []string{run.ID}, s.failedLogsFor(run.ID))
	notes := e.watchNotes(t)
	freeDisk(t, s.Store)
	notes.wait(t, run.ID)
	close(freed)

	e.waitStatus(t, run.ID, api.StatusSucceeded)
	checkGap(t, e.logLines(t, run.ID), 100)
}

// The buffers of all runs together are capped too.
func TestTheAgentsLogBufferIsCappedAcrossRuns(t *testing.T) {
	t.Parallel()
	full, freed := make(chan struct{}), make(chan struct{})
	begun, logged := make(chan struct{}, 2), make(chan struct{}, 2)
	job := funcJob{id: "chatty", run: func(ctx context.Context, _ jobs.Params) error {
		jobs.Logger(ctx).Info("before")
		begun <- struct{}{}
		<-full
		for i := range 50 {
			jobs.Logger(ctx).Info(kilobyteLine(i))
		}
		logged <- struct{}{}
		<-freed
		jobs.Logger(ctx).Info("after")
		return nil
	}}
	e, s := newDiskEnv(t, runner.Config{LogBufferPerRun: 1 << 20, LogBufferTotal: 16 << 10}, job)
	a := start(t, e, e.rule(t, store.Rule{Name: "a", Job: "chatty"}))
	b := start(t, e, e.rule(t, store.Rule{Name: "b", Job: "chatty"}))
	<-begun
	<-begun
	e.waitLines(t, a.ID, 1)
	e.waitLines(t, b.ID, 1)
	fillDisk(t, s.Store)
	close(full)
	<-logged
	<-logged
	// A write taken from a run's buffer before its last lines were lost
	// could go through once the disk is freed, and its note would not count
	// them: wait until each run's buffer has been tried since.
	s.waitRetriedSince(t, []string{a.ID, b.ID}, s.failedLogsFor(a.ID, b.ID))
	notes := e.watchNotes(t)
	freeDisk(t, s.Store)
	notes.wait(t, a.ID)
	notes.wait(t, b.ID)
	close(freed)

	for _, run := range []store.Run{a, b} {
		e.waitStatus(t, run.ID, api.StatusSucceeded)
		checkGap(t, e.logLines(t, run.ID), 50)
	}
}

// Lines lost while the write that ends a gap is under way are noted once
// it is written, and the lines logged next are kept: the database takes
// them again. Before, they were lost too until the next flush wrote the
// note, a while after space had returned.
func TestLinesLoggedOnceSpaceReturnsAreKeptBeforeTheGapsLastNoteIsWritten(t *testing.T) {
	t.Parallel()
	full, some, more, freed := make(chan struct{}), make(chan struct{}), make(chan struct{}), make(chan struct{})
	after, done := make(chan struct{}), make(chan struct{})
	job := funcJob{id: "chatty", run: func(ctx context.Context, _ jobs.Params) error {
		jobs.Logger(ctx).Info("before")
		<-full
		for i := range 5 { // the first is held, the others lost
			jobs.Logger(ctx).Info(kilobyteLine(i))
		}
		close(some)
		<-more
		for i := 5; i < 8; i++ { // lost while the note of 4 is being written
			jobs.Logger(ctx).Info(kilobyteLine(i))
		}
		close(freed)
		<-after
		jobs.Logger(ctx).Info("after")
		close(done)
		return nil
	}}
	e, s := newDiskEnv(t, runner.Config{LogBufferPerRun: 1}, job)
	gate := s.gateLogs(t)
	run := start(t, e, e.rule(t, store.Rule{Name: "r", Job: "chatty"}))
	gate.next(t)
	gate.let()
	e.waitLines(t, run.ID, 1)
	fillDisk(t, s.Store)
	close(full)
	<-some
	// The first write may have been taken before the lines were lost; the
	// second is taken after it failed: line 0 and the note of 4.
	gate.next(t)
	gate.let()
	gate.next(t)
	close(more)
	<-freed
	notes := e.watchNotes(t)
	freeDisk(t, s.Store)
	gate.let()
	notes.wait(t, run.ID)
	// Nothing more is written until "after" is logged.
	close(after)
	<-done
	gate.openUp()

	e.waitStatus(t, run.ID, api.StatusSucceeded)
	lines := e.logLines(t, run.ID)
	want := []string{"before", kilobyteLine(0), lostMessage(4), lostMessage(3), "after"}
	if !equalMessages(lines, want) {
		t.Errorf("stored log: %s\nwant \"before\", line 0, notes of 4 and 3 lines lost, \"after\"", describe(lines))
	}
	for i, l := range lines {
		if l.Seq != int64(i+1) {
			t.Errorf("line %d is numbered %d", i+1, l.Seq)
		}
	}
}

func lostMessage(n int) string {
	return fmt.Sprintf("%d log line(s) were lost here: the database could not store them in time (disk full, or down?) and the agent's buffer for them was full", n)
}

// noteWatch follows the runs' log events for notes of lost lines. Once
// space returns the runner writes what it held and the note, and takes lines
// again: the note is in the store a moment before the runner takes lines,
// and only the note's event, published after, says that it does.
type noteWatch struct {
	e    *env
	ch   <-chan events.Event
	seen map[string]bool // runs whose note was published
}

// watchNotes starts following the notes; call it before space returns.
func (e *env) watchNotes(t *testing.T) *noteWatch {
	_, ch, _, cancel := e.events.Subscribe(0)
	t.Cleanup(cancel)
	return &noteWatch{e: e, ch: ch, seen: map[string]bool{}}
}

// wait waits until the runner has published run id's note of lost lines.
func (w *noteWatch) wait(t *testing.T, id string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for !w.seen[id] {
		select {
		case ev, ok := <-w.ch:
			if !ok {
				t.Fatal("the events subscription ended: the test fell behind")
			}
			if ev.Type == api.EventRunLog && ev.Run != nil && ev.Log != nil && lostNote.MatchString(ev.Log.Message) {
				w.seen[ev.Run.ID] = true
			}
		case <-timeout:
			t.Fatalf("run %s: no note of lost lines published once space returned; stored: %s", id, describe(w.e.logLines(t, id)))
		}
	}
}

var lostNote = regexp.MustCompile(`^(\d+) log line\(s\) were lost here: the database could not store them`)

// checkGap checks a log of "before", the first of n kilobyte lines, a note
// saying how many of the others were lost, and "after", numbered in order.
func checkGap(t *testing.T, lines []store.LogLine, n int) {
	t.Helper()
	kept, lost := 0, 0
	want := []string{"before"}
	for kept < n && 1+kept < len(lines) && lines[1+kept].Message == kilobyteLine(kept) {
		want = append(want, kilobyteLine(kept))
		kept++
	}
	if kept < n && 1+kept < len(lines) {
		if m := lostNote.FindStringSubmatch(lines[1+kept].Message); m != nil {
			lost, _ = strconv.Atoi(m[1])
			want = append(want, lines[1+kept].Message)
		}
	}
	want = append(want, "after")
	if !equalMessages(lines, want) || lost == 0 || kept+lost != n {
		t.Errorf("stored log: %s\nwant \"before\", the first of %d lines, a note of how many of them were lost, \"after\"", describe(lines), n)
	}
	for i, l := range lines {
		if l.Seq != int64(i+1) {
			t.Errorf("line %d is numbered %d", i+1, l.Seq)
		}
	}
}

func equalMessages(lines []store.LogLine, want []string) bool {
	if len(lines) != len(want) {
		return false
	}
	for i, l := range lines {
		if l.Message != want[i] {
			return false
		}
	}
	return true
}

// describe shows a log briefly: each line's start.
func describe(lines []store.LogLine) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d line(s):", len(lines))
	for _, l := range lines {
		m := l.Message
		if len(m) > 70 {
			m = m[:70] + "…"
		}
		fmt.Fprintf(&b, "\n  %d %s %q", l.Seq, l.Level, m)
	}
	return b.String()
}
