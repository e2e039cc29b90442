package builtin

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// maxOutputLine caps one line of a program's output in the run's log.
const maxOutputLine = 8 << 10

// outputPipes carry a program's standard output and error to the run's log.
type outputPipes struct {
	stdoutR, stdoutW *os.File
	stderrR, stderrW *os.File
	done             sync.WaitGroup
}

// newOutputPipes makes the pipes and connects their write ends to cmd.
func newOutputPipes(cmd *exec.Cmd) (*outputPipes, error) {
	o := &outputPipes{}
	var err error
	if o.stdoutR, o.stdoutW, err = os.Pipe(); err != nil {
		return nil, fmt.Errorf("make the stdout pipe: %w", err)
	}
	if o.stderrR, o.stderrW, err = os.Pipe(); err != nil {
		o.closeWriters()
		o.closeReaders()
		return nil, fmt.Errorf("make the stderr pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = o.stdoutW, o.stderrW
	return o, nil
}

// closeWriters closes our copies of the write ends, once the program has
// its own, so the readers see EOF when the program's side closes.
func (o *outputPipes) closeWriters() {
	for _, f := range []*os.File{o.stdoutW, o.stderrW} {
		if f != nil {
			f.Close()
		}
	}
}

func (o *outputPipes) closeReaders() {
	for _, f := range []*os.File{o.stdoutR, o.stderrR} {
		if f != nil {
			f.Close()
		}
	}
}

// forward logs stdout lines at info level and stderr lines at warn level.
func (o *outputPipes) forward(log *runLog) {
	o.done.Add(2)
	go func() { defer o.done.Done(); logLines(o.stdoutR, slog.LevelInfo, log) }()
	go func() { defer o.done.Done(); logLines(o.stderrR, slog.LevelWarn, log) }()
}

// wait waits up to limit for both streams to end, then closes the read ends.
// It reports whether the streams ended by themselves.
func (o *outputPipes) wait(limit time.Duration) bool {
	ended := make(chan struct{})
	go func() { o.done.Wait(); close(ended) }()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	byThemselves := true
	select {
	case <-ended:
	case <-timer.C:
		byThemselves = false
		o.closeReaders() // unblocks the readers
		<-ended
	}
	o.closeReaders()
	return byThemselves
}

// logLines logs each line read from r, cutting lines at maxOutputLine.
func logLines(r io.Reader, level slog.Level, log *runLog) {
	br := bufio.NewReaderSize(r, maxOutputLine)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			log.line(level, cleanLine(line)+fmt.Sprintf(" [line cut at %d bytes]", maxOutputLine))
			for errors.Is(err, bufio.ErrBufferFull) { // skip the rest of it
				_, err = br.ReadSlice('\n')
			}
			if err != nil {
				return
			}
			continue
		}
		if len(line) > 0 {
			log.line(level, cleanLine(line))
		}
		if err != nil {
			return
		}
	}
}

func cleanLine(b []byte) string {
	s := strings.TrimRight(string(b), "\r\n")
	return strings.ToValidUTF8(s, "\uFFFD")
}
