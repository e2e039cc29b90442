package runner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/events"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/api"
)

// lineOverhead is what a buffered line costs besides its text.
const lineOverhead = 64

func lineCost(level, message string) int64 {
	return int64(len(level) + len(message) + lineOverhead)
}

// hold makes room for a line of the given cost in the run's buffer and the
// agent's, and reports whether there was room. An empty buffer takes any
// line, so that a long line is not lost while the database is well. Call
// with mu held.
func (rep *reporter) hold(cost int64) bool {
	if rep.held > 0 {
		if rep.held+cost > rep.r.cfg.LogBufferPerRun {
			return false
		}
		for {
			total := rep.r.logHeld.Load()
			if total+cost > rep.r.cfg.LogBufferTotal {
				return false
			}
			if rep.r.logHeld.CompareAndSwap(total, total+cost) {
				break
			}
		}
	} else {
		rep.r.logHeld.Add(cost)
	}
	rep.held += cost
	return true
}

// release gives back the room of lines that are written or given up, in
// order. Call with mu held.
func (rep *reporter) release(lines []store.LogLine) {
	var cost int64
	for _, l := range lines {
		if len(rep.notesPending) > 0 && l.Seq == rep.notesPending[0] {
			rep.notesPending = rep.notesPending[1:] // took no room
			continue
		}
		cost += lineCost(l.Level, l.Message)
	}
	rep.held -= cost
	rep.r.logHeld.Add(-cost)
}

// notes returns the lines that say what the log lacks, numbered after the
// last line accepted, to be written after the pending ones: how many lines
// were lost where the buffer was full, and, once the job has returned, how
// many were dropped over MaxLogLines. Call with mu held.
func (rep *reporter) notes() (notes []store.LogLine, lost, dropped int) {
	now := time.Now().UTC()
	add := func(msg string) {
		notes = append(notes, store.LogLine{Seq: rep.seq + int64(len(notes)) + 1, Time: now, Level: "warn", Message: msg})
	}
	if rep.lost > 0 {
		lost = rep.lost
		add(lostMessage(lost))
	}
	if rep.final && rep.dropped > 0 {
		dropped = rep.dropped
		add(fmt.Sprintf("%d more log line(s) dropped: a run keeps at most %d", dropped, rep.r.cfg.MaxLogLines))
	}
	return notes, lost, dropped
}

func lostMessage(n int) string {
	return fmt.Sprintf("%d log line(s) were lost here: the database could not store them in time (disk full, or down?) and the agent's buffer for them was full", n)
}

// noteLost ends the gap in the log: the note of the lines lost joins the
// pending lines, numbered where they were lost, and lines are taken again
// after it. The note takes no room in the buffers, so that a buffer holding
// only notes still takes a line of any length. It returns the note, to be
// published once mu is released. Call with mu held, once the lines before
// the gap are written.
func (rep *reporter) noteLost() store.LogLine {
	rep.seq++
	note := store.LogLine{Seq: rep.seq, Time: time.Now().UTC(), Level: "warn", Message: lostMessage(rep.lost)}
	rep.pending = append(rep.pending, note)
	rep.notesPending = append(rep.notesPending, note.Seq)
	rep.lost = 0
	return note
}

// flusher writes the buffer every LogFlushInterval, or sooner when a batch
// is full. While writes fail it waits longer between tries, as
// whileUnavailable does,
// and logs the failure once and the recovery once. It stops with the
// reporter, or when Shutdown gives up.
func (rep *reporter) flusher() {
	defer close(rep.done)
	interval := rep.r.cfg.LogFlushInterval
	wait := interval
	timer := time.NewTimer(wait)
	defer timer.Stop()
	failing := false
	for {
		select {
		case <-timer.C:
		case <-rep.wake:
			if failing {
				continue // a full batch does not bring the database back
			}
		case <-rep.stop:
			return
		case <-rep.r.live.Done():
			return
		}
		err := rep.flush(rep.r.live)
		switch {
		case err == nil && failing:
			rep.r.log.Info("the database takes the run's log and progress again", "run", rep.id)
			failing, wait = false, interval
		case err == nil:
		case !failing:
			rep.r.log.Warn("store the run's log and progress: keeping them to retry", "run", rep.id, "err", err)
			failing, wait = true, max(interval, whileUnavailable.First)
		default:
			wait = min(wait*2, whileUnavailable.Max)
		}
		timer.Reset(wait)
	}
}

// flush writes what is buffered, with the notes due, in one try. What
// could not be written is kept for the next (the database may be back by
// then). When ctx is done it does not touch the store.
func (rep *reporter) flush(ctx context.Context) error {
	select {
	case rep.flushing <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("store the log of run %s: %w", rep.id, context.Cause(ctx))
	}
	defer func() { <-rep.flushing }()

	rep.mu.Lock()
	lines, progress := rep.pending, rep.progress
	notes, lost, dropped := rep.notes()
	if len(lines) == 0 && len(notes) == 0 && progress == nil {
		rep.mu.Unlock()
		return nil
	}
	if ctx.Err() != nil {
		rep.mu.Unlock()
		return fmt.Errorf("store the log of run %s: %w", rep.id, context.Cause(ctx))
	}
	rep.pending, rep.progress = nil, nil
	run := rep.run
	rep.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, storeCallTimeout)
	defer cancel()
	var errs []error
	if batch := append(slices.Clip(lines), notes...); len(batch) > 0 {
		err := rep.r.cfg.Store.RunLogAppend(ctx, rep.id, batch)
		var more []store.LogLine // notes made after the write, published with its own
		rep.mu.Lock()
		if err != nil {
			// Lines accepted meanwhile come after these; the notes are
			// made again next time, with what is lost by then.
			rep.pending = append(lines, rep.pending...)
			errs = append(errs, fmt.Errorf("store %d log line(s): %w", len(batch), err))
		} else {
			// No line was accepted meanwhile if a gap was noted (see
			// Log), nor once the job had returned: the notes' numbers hold.
			rep.release(lines)
			rep.seq += int64(len(notes))
			rep.lost -= lost
			rep.dropped -= dropped
			// Lines lost while the write was under way are still counted:
			// they follow what it wrote, so their gap ends here. Noted now,
			// they no longer keep out the lines logged before the next flush,
			// which the database would take.
			if rep.lost > 0 {
				more = append(more, rep.noteLost())
			}
		}
		rep.mu.Unlock()
		if err == nil {
			for _, n := range append(notes, more...) {
				rep.r.cfg.Events.Publish(events.Event{Type: api.EventRunLog, RuleName: run.Rule, Run: &run, Log: &n})
			}
		}
	}
	if progress != nil {
		if err := rep.r.cfg.Store.RunSetProgress(ctx, rep.id, *progress); err != nil {
			rep.mu.Lock()
			if rep.progress == nil {
				rep.progress = progress
			}
			rep.mu.Unlock()
			errs = append(errs, fmt.Errorf("store progress: %w", err))
		}
	}
	return errors.Join(errs...)
}

// tail is what the store has not taken of a run's log and progress when its
// job returns: it is written with the run's finish, in the same statement,
// so that a short run's log costs no write of its own.
type tail struct {
	pending  []store.LogLine // lines not written yet, whose room is given back
	notes    []store.LogLine // the notes due after them, published once written
	progress *api.Progress
	lost     int // lines the notes count as lost
	dropped  int // lines the notes count as dropped
}

// lines are what the finish writes: the pending lines, then the notes.
func (t tail) lines() []store.LogLine { return append(slices.Clip(t.pending), t.notes...) }

// finalTail stops the flusher and takes what is left to write: the lines
// pending, the notes due (lines lost, lines dropped over the cap) and the
// last progress. settle says what became of them.
func (rep *reporter) finalTail() tail {
	rep.mu.Lock()
	started := rep.started
	rep.mu.Unlock()
	if started {
		close(rep.stop)
		<-rep.done // the flusher has stopped: no flush is under way
	}
	rep.mu.Lock()
	defer rep.mu.Unlock()
	rep.final = true
	notes, lost, dropped := rep.notes()
	t := tail{pending: rep.pending, notes: notes, progress: rep.progress, lost: lost, dropped: dropped}
	rep.pending, rep.progress = nil, nil
	return t
}

// settle gives back the room of the tail's lines once the finish that
// carried them is recorded (err nil) or given up, publishes the notes that
// were written, and says what was lost.
func (rep *reporter) settle(t tail, err error) {
	rep.mu.Lock()
	rep.release(t.pending)
	if err == nil {
		rep.seq += int64(len(t.notes))
		rep.lost -= t.lost
		rep.dropped -= t.dropped
	}
	run := rep.run
	rep.mu.Unlock()
	if err == nil {
		for _, n := range t.notes {
			rep.r.cfg.Events.Publish(events.Event{Type: api.EventRunLog, RuleName: run.Rule, Run: &run, Log: &n})
		}
		return
	}
	if errors.Is(err, store.ErrConflict) {
		return // finished already: by this finish, say, whose answer was lost
	}
	if lines := len(t.pending) + t.lost; lines > 0 || t.progress != nil {
		rep.r.log.Error("a run's last log lines or progress could not be stored and are lost",
			"run", rep.id, "lines", lines, "progress", t.progress != nil, "err", err)
	}
}
