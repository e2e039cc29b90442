package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/creack/pty"

	"github.com/jobbridge/jobbridge/shared/api"
	"github.com/jobbridge/jobbridge/shared/client"
)

// buildBinary builds a command of this module into dir and returns its path.
func buildBinary(t *testing.T, dir, pkg, name string) string {
	t.Helper()
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the binaries with")
	}
	out := filepath.Join(dir, name)
	cmd := exec.Command(goCmd, "build", "-o", out, pkg)
	cmd.Dir = moduleRoot(t)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}

// terminal runs a program in a pseudo-terminal and reads what it draws. It
// answers the terminal queries a real terminal answers (background colour,
// cursor position), as termenv asks them before the console starts.
type terminal struct {
	t    *testing.T
	pty  *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	raw  bytes.Buffer
	mark int // the screen text before this was seen by earlier waits
	done chan struct{}
	// background is the colour the terminal says it has, as "rrrr/gggg/bbbb".
	background string
}

func startTerminal(t *testing.T, cmd *exec.Cmd, cols, rows int) *terminal {
	return startTerminalWith(t, cmd, cols, rows, "1c1c/1c1c/1c1c")
}

// startTerminalWith is startTerminal with the terminal's background colour.
func startTerminalWith(t *testing.T, cmd *exec.Cmd, cols, rows int, background string) *terminal {
	t.Helper()
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)})
	if err != nil {
		t.Fatalf("start %s in a pty: %v", cmd.Path, err)
	}
	term := &terminal{t: t, pty: f, cmd: cmd, done: make(chan struct{}), background: background}
	go term.read()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-term.done
		_ = f.Close()
	})
	return term
}

func (term *terminal) read() {
	defer close(term.done)
	buf := make([]byte, 32<<10)
	for {
		n, err := term.pty.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			term.mu.Lock()
			term.raw.Write(chunk)
			term.mu.Unlock()
			if bytes.Contains(chunk, []byte("\x1b]11;?")) {
				_, _ = term.pty.WriteString("\x1b]11;rgb:" + term.background + "\x1b\\")
			}
			if bytes.Contains(chunk, []byte("\x1b[6n")) {
				_, _ = term.pty.WriteString("\x1b[1;1R")
			}
		}
		if err != nil {
			return
		}
	}
}

// rawText is everything written, escape sequences included.
func (term *terminal) rawText() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.raw.String()
}

// text is everything drawn so far, without escape sequences.
func (term *terminal) text() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return ansi.Strip(term.raw.String())
}

// waitFor waits until every one of want has been drawn since the last wait.
func (term *terminal) waitFor(timeout time.Duration, want ...string) {
	term.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := term.text()
		since := s[min(term.mark, len(s)):]
		ok := true
		end := 0
		for _, w := range want {
			i := strings.Index(since, w)
			if i < 0 {
				ok = false
				break
			}
			end = max(end, i+len(w))
		}
		if ok {
			term.mark += end
			return
		}
		if time.Now().After(deadline) {
			tail := since
			if len(tail) > 3000 {
				tail = tail[len(tail)-3000:]
			}
			term.t.Fatalf("the console did not show %q within %s; it drew:\n%s", want, timeout, tail)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

func (term *terminal) send(keys ...string) {
	term.t.Helper()
	for _, k := range keys {
		// Plain text goes a character at a time, as a person types (the
		// console would read a burst as one paste); an escape sequence
		// goes whole.
		parts := []string{k}
		if !strings.HasPrefix(k, "\x1b") {
			parts = strings.Split(k, "")
		}
		for _, p := range parts {
			if _, err := term.pty.WriteString(p); err != nil {
				term.t.Fatalf("type %q: %v", p, err)
			}
			time.Sleep(15 * time.Millisecond)
		}
	}
}

// wait waits for the program to exit and returns its exit code.
func (term *terminal) wait(timeout time.Duration) int {
	term.t.Helper()
	exited := make(chan error, 1)
	go func() { exited <- term.cmd.Wait() }()
	select {
	case err := <-exited:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			term.t.Fatalf("wait: %v", err)
		}
		return 0
	case <-time.After(timeout):
		term.t.Fatalf("the console did not exit within %s", timeout)
		return -1
	}
}

const (
	keyTab   = "\t"
	keyEnter = "\r"
	keyEsc   = "\x1b"
	keyCtrlS = "\x13"
	keyDown  = "\x1b[B"
)

// write sends s to the console in one write, as a burst of fast typing, a
// slow SSH link or a paste delivers it: the console reads it in one read.
func (term *terminal) write(s string) {
	term.t.Helper()
	if _, err := term.pty.WriteString(s); err != nil {
		term.t.Fatalf("write %q: %v", s, err)
	}
}

// paste is text as a terminal in bracketed-paste mode sends it.
func paste(text string) string { return "\x1b[200~" + text + "\x1b[201~" }

// osc52 is the clipboard sequence that copies text.
func osc52(text string) string {
	return "\x1b]52;c;" + base64.StdEncoding.EncodeToString([]byte(text)) + "\a"
}

// TestKeysInOneWrite runs the real console in a real pseudo-terminal
// against a real agent and sends keys in one write each: several keys
// are each obeyed, pasted text goes whole into the input that has the
// keyboard and is never obeyed as keys, and y copies through the
// terminal's clipboard sequence.
func TestKeysInOneWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs both binaries")
	}
	bins := t.TempDir()
	agentBin := buildBinary(t, bins, "./cmd/agent", "agent")
	tuiBin := buildBinary(t, bins, "./cmd/tui", "tui")
	dataDir := t.TempDir()
	url := startAgent(t, agentBin, dataDir)
	c := client.New(url, readToken(t, dataDir))
	off := false
	for _, name := range []string{"alpha", "bravo", "charlie"} {
		if _, err := c.CreateRule(t.Context(), api.RuleInput{Name: name, Job: "demo", Schedule: "rate(1 day)", Enabled: &off}); err != nil {
			t.Fatalf("create rule %s: %v", name, err)
		}
	}
	console := func(t *testing.T, view string) *terminal {
		cmd := exec.Command(tuiBin, "--view", view)
		cmd.Env = append(os.Environ(), "JOBBRIDGE_DATA_DIR="+dataDir, "TERM=xterm-256color",
			"JOBBRIDGE_AGENT_URL=", "JOBBRIDGE_TOKEN=")
		term := startTerminal(t, cmd, 100, 30)
		term.t = t
		return term
	}

	t.Run("jj moves two rows and y copies the row's name", func(t *testing.T) {
		term := console(t, "rules")
		term.waitFor(15*time.Second, "live", "admin", "charlie", "── alpha ")
		term.write("jj")
		term.waitFor(5*time.Second, "── charlie ")
		term.write("y")
		term.waitFor(5*time.Second, "copied rule charlie")
		if raw := term.rawText(); !strings.Contains(raw, osc52("charlie")) {
			t.Errorf("the terminal did not get %q", osc52("charlie"))
		}
		term.write("kq") // up, then quit: both obeyed
		if code := term.wait(10 * time.Second); code != 0 {
			t.Errorf("the console exited %d, want 0", code)
		}
	})

	t.Run("pasted text is not obeyed as keys", func(t *testing.T) {
		term := console(t, "rules")
		term.waitFor(15*time.Second, "live", "admin", "charlie", "── alpha ")
		term.write(paste("jjq")) // obeyed, it would move to charlie and quit
		term.write("j")
		term.waitFor(5*time.Second, "── bravo ")
		term.write("q")
		if code := term.wait(10 * time.Second); code != 0 {
			t.Errorf("the console exited %d, want 0", code)
		}
	})

	t.Run("pasted text goes whole into the filter and the command line", func(t *testing.T) {
		term := console(t, "rules")
		term.waitFor(15*time.Second, "live", "admin", "charlie")
		term.write("/")
		term.write(paste("brav"))
		term.write("o")
		term.waitFor(5*time.Second, "Rules /bravo", ">  bravo")
		term.write(keyEnter)
		term.waitFor(5*time.Second, "Rules 1")
		term.write(":" + paste("jobs"))
		term.waitFor(5*time.Second, ":jobs")
		term.write(keyEnter)
		term.waitFor(5*time.Second, "Jobs", "DESCRIPTION")
		term.write("q")
		term.wait(10 * time.Second)
	})

	t.Run("pasted and burst text goes whole into the rule form", func(t *testing.T) {
		term := console(t, "rules")
		term.waitFor(15*time.Second, "live", "admin", "charlie")
		term.write("n")
		term.waitFor(5*time.Second, "New rule", "*Name")
		term.write(paste("pasted-name"))
		term.write("-and-typed") // a burst, not a paste: typed too
		term.waitFor(5*time.Second, "pasted-name-and-typed")
		term.write(keyTab + keyTab + paste("rate(2 hours)"))
		term.waitFor(5*time.Second, "Every 2 hours")
		term.write(keyEsc)
		term.waitFor(5*time.Second, "charlie")
		term.write("q")
		term.wait(10 * time.Second)
	})
}
