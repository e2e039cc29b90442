package tui_test

import (
	"bytes"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/jobbridge/jobbridge/tui"
)

// packetWriter writes each Write in small pieces, letting other writers
// in between, as an SSH channel sends a long write in packets.
type packetWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *packetWriter) Write(p []byte) (int, error) {
	for i := 0; i < len(p); i += 7 {
		w.mu.Lock()
		w.buf.Write(p[i:min(i+7, len(p))])
		w.mu.Unlock()
		runtime.Gosched()
	}
	return len(p), nil
}

// interleaved reports whether out is not made of whole blocks of 100 A's
// or 100 B's.
func interleaved(out string) bool {
	for i := 0; i+100 <= len(out); i += 100 {
		block := out[i : i+100]
		if block != strings.Repeat("A", 100) && block != strings.Repeat("B", 100) {
			return true
		}
	}
	return len(out)%100 != 0
}

func writeBoth(t *testing.T, w interface{ Write([]byte) (int, error) }) {
	t.Helper()
	var wg sync.WaitGroup
	for _, c := range []string{"A", "B"} {
		wg.Go(func() {
			for range 200 {
				if _, err := w.Write([]byte(strings.Repeat(c, 100))); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
}

func TestSharedOutputKeepsEachWriteWhole(t *testing.T) {
	direct := &packetWriter{}
	writeBoth(t, direct)
	if !interleaved(direct.buf.String()) {
		t.Skip("the writes never overlapped here; nothing to tell apart")
	}
	under := &packetWriter{}
	writeBoth(t, tui.SharedOutput(under))
	if interleaved(under.buf.String()) {
		t.Fatal("two Writes through SharedOutput interleaved")
	}
}

func TestSharedOutputOfATerminalFileIsOne(t *testing.T) {
	out := tui.SharedOutput(os.Stdout)
	f, ok := out.(interface{ Fd() uintptr })
	if !ok || f.Fd() != os.Stdout.Fd() {
		t.Fatal("SharedOutput(os.Stdout) lost the file descriptor Bubble Tea sizes the window with")
	}
	if _, ok := tui.SharedOutput(&bytes.Buffer{}).(interface{ Fd() uintptr }); ok {
		t.Fatal("SharedOutput of a buffer claims a file descriptor")
	}
}
