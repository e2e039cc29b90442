package tui

import (
	"io"
	"sync"
)

// SharedOutput wraps a terminal's output so that Bubble Tea's renderer and
// the console's clipboard (y, Y: an OSC 52 sequence) can both write to it.
// Each Write reaches w whole before the next one starts: the renderer
// writes a frame in one Write and a copy is one Write, so a copy lands
// between two frames, never inside one. (An *os.File keeps one Write whole
// by itself; an SSH channel does not: it sends a long Write in packets,
// and two Writes at once may interleave.) Give the result both to
// tea.WithOutput and as Options.Clipboard.
//
// When w is a terminal file (os.Stdout), so is the result: Bubble Tea
// still finds the terminal's size and descriptor through it.
func SharedOutput(w io.Writer) io.Writer {
	o := &sharedOutput{w: w}
	if f, ok := w.(terminalFile); ok {
		return &sharedFile{sharedOutput: o, f: f}
	}
	return o
}

// terminalFile is what Bubble Tea takes for a terminal (x/term's File).
type terminalFile interface {
	io.ReadWriteCloser
	Fd() uintptr
}

type sharedOutput struct {
	mu sync.Mutex
	w  io.Writer
}

func (o *sharedOutput) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(p)
}

// sharedFile is a sharedOutput over a terminal file.
type sharedFile struct {
	*sharedOutput
	f terminalFile
}

func (s *sharedFile) Read(p []byte) (int, error) { return s.f.Read(p) }
func (s *sharedFile) Close() error               { return s.f.Close() }
func (s *sharedFile) Fd() uintptr                { return s.f.Fd() }
