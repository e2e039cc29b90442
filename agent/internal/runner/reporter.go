package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/procgroup"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/jobs"
	"github.com/jobbridge/jobbridge/shared/api"
)

// reporter is a run's jobs.Reporter. Log lines and progress are published
// as events at once and written to the store in batches by a flusher
// goroutine, so a chatty job costs one write per flush interval rather than
// one per line.
//
// While the database does not take them (it is down, or its disk is full),
// lines are held in memory up to LogBufferPerRun (and LogBufferTotal for
// all runs) and retried; the lines that do not fit are lost, and where they
// would have been the log says how many (see notes). Progress is retried
// until written: only the latest is kept.
type reporter struct {
	r    *Runner
	id   string // the run's id, fixed; run below changes
	mask masker

	mu       sync.Mutex
	run      store.Run // as last known: events carry it
	started  bool      // the flusher runs; started by the first line or progress
	seq      int64     // lines accepted so far
	dropped  int
	pending  []store.LogLine
	progress *api.Progress   // not yet written
	process  bool            // a process group is recorded with the run
	output   json.RawMessage // the job's result, masked (jobs.SetOutput)

	wake chan struct{}
	stop chan struct{}
	done chan struct{}

	// What the database has not taken yet, besides pending (under mu).
	held  int64 // bytes of pending lines and of those being written
	lost  int   // lines lost since the last one pending: a gap in the log
	final bool  // the job has returned: the last notes are due

	notesPending []int64 // numbers of the notes of lost lines among pending, in order

	flushing chan struct{} // held by the one flush that writes
}

// flushBatch is how many buffered lines wake the flusher before its tick.
const flushBatch = 256

func newReporter(r *Runner, run store.Run, mask masker) *reporter {
	return &reporter{
		r:        r,
		id:       run.ID,
		mask:     mask,
		run:      run,
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		flushing: make(chan struct{}, 1),
	}
}

// startFlusher starts the flusher if it is not running; a job that never
// logs costs no goroutine. Call with mu held.
func (rep *reporter) startFlusher() {
	if !rep.started {
		rep.started = true
		go rep.flusher()
	}
}

// flusherDone is closed once the flusher has stopped, or was never started.
func (rep *reporter) flusherDone() <-chan struct{} {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	if !rep.started {
		c := make(chan struct{})
		close(c)
		return c
	}
	return rep.done
}

// Log implements jobs.Reporter.
func (rep *reporter) Log(level slog.Level, message string) {
	message = rep.mask.mask(message)
	lvl := levelName(level)
	rep.mu.Lock()
	if rep.seq >= int64(rep.r.cfg.MaxLogLines) {
		rep.dropped++
		rep.mu.Unlock()
		return
	}
	// Once a line is lost, the ones after it are too until what came
	// before has been written (flush then notes the gap): the gap then has
	// one place in the log.
	if rep.lost > 0 || !rep.hold(lineCost(lvl, message)) {
		rep.lost++
		first, held := rep.lost == 1, rep.held
		rep.mu.Unlock()
		if first {
			rep.r.log.Warn("a run's log lines are lost: the database has not taken those before, and the buffer for them is full; the run's log will say how many",
				"run", rep.id, "bufferedBytes", held)
		}
		return
	}
	rep.startFlusher()
	rep.seq++
	line := store.LogLine{Seq: rep.seq, Time: time.Now().UTC(), Level: lvl, Message: message}
	rep.pending = append(rep.pending, line)
	full := len(rep.pending) >= flushBatch
	run := rep.run
	rep.mu.Unlock()

	rep.r.cfg.Events.Publish(events.Event{Type: api.EventRunLog, RuleName: run.Rule, Run: &run, Log: &line})
	if full {
		select {
		case rep.wake <- struct{}{}:
		default:
		}
	}
}

// update takes the run's state after a transition (cancelling), so the
// events that follow carry the run as it is, not as it started.
func (rep *reporter) update(run store.Run) {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	run.Progress = rep.run.Progress
	rep.run = run
}

// current returns the run as last known.
func (rep *reporter) current() store.Run {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	return rep.run
}

// Progress implements jobs.Reporter.
func (rep *reporter) Progress(percent int, message string) {
	p := api.Progress{Percent: percent, Message: rep.mask.mask(message)}
	rep.mu.Lock()
	rep.startFlusher()
	rep.progress = &p
	rep.run.Progress = p
	run := rep.run
	rep.mu.Unlock()
	rep.r.cfg.Events.Publish(events.Event{Type: api.EventRunProgress, RuleName: run.Rule, Run: &run})
}

var _ jobs.ProcessReporter = (*reporter)(nil)

// processRecordTimeout bounds how long a job waits for its process group
// to be recorded.
const processRecordTimeout = 5 * time.Second

// ProcessStarted implements jobs.ProcessReporter. The group is recorded
// before the job goes on, so that if the agent is killed from then on, the
// next agent on this machine finds it and stops it (package procgroup).
func (rep *reporter) ProcessStarted(p jobs.Process) {
	ctx, cancel := context.WithTimeout(context.Background(), processRecordTimeout)
	defer cancel()
	err := rep.r.cfg.Store.RunProcessSet(ctx, store.RunProcess{
		RunID: rep.id, PGID: p.PGID, StartTime: p.StartTime, BootID: procgroup.BootID(), Tag: p.Tag,
	})
	if err != nil {
		rep.r.log.Warn("record a run's process group; if the agent dies while it runs, the next agent will not stop it",
			"run", rep.id, "pgid", p.PGID, "err", err)
		return
	}
	rep.mu.Lock()
	rep.process = true
	rep.mu.Unlock()
}

// forgetProcess forgets the run's process group once the job has returned:
// a job stops the groups it reports before it returns.
func (rep *reporter) forgetProcess() {
	rep.mu.Lock()
	recorded := rep.process
	rep.mu.Unlock()
	if !recorded {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), processRecordTimeout)
	defer cancel()
	if err := rep.r.cfg.Store.RunProcessForget(ctx, []string{rep.id}); err != nil {
		// Harmless: the next agent to start finds the group gone.
		rep.r.log.Debug("forget a run's process group", "run", rep.id, "err", err)
	}
}

func levelName(l slog.Level) string {
	switch {
	case l >= slog.LevelError:
		return "error"
	case l >= slog.LevelWarn:
		return "warn"
	case l >= slog.LevelInfo:
		return "info"
	default:
		return "debug"
	}
}

// SetOutput implements jobs.OutputReporter: it keeps output, secret values
// masked, to be stored with the run's finish.
func (rep *reporter) SetOutput(output json.RawMessage) error {
	if output == nil {
		rep.mu.Lock()
		rep.output = nil
		rep.mu.Unlock()
		return nil
	}
	masked, err := rep.mask.maskJSON(output)
	if err != nil {
		return err
	}
	if len(masked) > jobs.MaxOutputBytes {
		return fmt.Errorf("it is %d bytes once masked: %w", len(masked), jobs.ErrOutputTooLarge)
	}
	rep.mu.Lock()
	rep.output = masked
	rep.mu.Unlock()
	return nil
}

// result returns the output the job set, nil if none.
func (rep *reporter) result() json.RawMessage {
	rep.mu.Lock()
	defer rep.mu.Unlock()
	return rep.output
}
