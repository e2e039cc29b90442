package sshconsole_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"
	gossh "golang.org/x/crypto/ssh"

	"github.com/jobbridge/jobbridge/agent/agenttest"
	"github.com/jobbridge/jobbridge/agent/internal/sshconsole"
	"github.com/jobbridge/jobbridge/shared/api"
)

func newKey(t *testing.T) gossh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := gossh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func authorizedLine(k gossh.Signer, comment string) string {
	return strings.TrimSpace(string(gossh.MarshalAuthorizedKey(k.PublicKey()))) + " " + comment + "\n"
}

type fixture struct {
	addr             string
	dir              string
	viewer, operator gossh.Signer
	admin, stranger  gossh.Signer
	hostKey          gossh.PublicKey
	mu               sync.Mutex
	rolesAsked       []string
	agent            *agenttest.Agent
}

// setup serves the console over SSH against a real agent, with an
// authorized-keys file of a viewer (no role comment), an operator and an
// admin.
func setup(t *testing.T, tweak ...func(*sshconsole.Config)) *fixture {
	t.Helper()
	agent := agenttest.Start(t, agenttest.Options{RoleTokens: true})
	f := &fixture{dir: t.TempDir(), viewer: newKey(t), operator: newKey(t), admin: newKey(t), stranger: newKey(t), agent: agent}
	keys := "# the console's users\n" +
		authorizedLine(f.viewer, "vera@laptop") +
		authorizedLine(f.operator, "otto@desk role=operator") +
		"\n" + authorizedLine(f.admin, "role=admin ada")
	keyFile := filepath.Join(f.dir, "authorized_keys")
	if err := os.WriteFile(keyFile, []byte(keys), 0o600); err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{api.RoleViewer: agenttest.ViewerToken, api.RoleOperator: agenttest.OperatorToken, api.RoleAdmin: agenttest.AdminToken}
	cfg := sshconsole.Config{
		Addr: "127.0.0.1:0", AuthorizedKeys: keyFile, HostKeyPath: filepath.Join(f.dir, "ssh_host_ed25519_key"),
		AgentURL: agent.URL(),
		Token: func(role string) (string, error) {
			f.mu.Lock()
			f.rolesAsked = append(f.rolesAsked, role)
			f.mu.Unlock()
			return tokens[role], nil
		},
	}
	for _, tw := range tweak {
		tw(&cfg)
	}
	srv, err := sshconsole.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = l.Addr().String()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := contextWithTimeout(2 * time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	pub, err := os.ReadFile(filepath.Join(f.dir, "ssh_host_ed25519_key.pub"))
	if err != nil {
		t.Fatalf("the host key was not kept in the data dir: %v", err)
	}
	if f.hostKey, _, _, _, err = gossh.ParseAuthorizedKey(pub); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) dial(t *testing.T, signers ...gossh.Signer) (*gossh.Client, error) {
	t.Helper()
	return gossh.Dial("tcp", f.addr, &gossh.ClientConfig{
		User:            "ops",
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(signers...)},
		HostKeyCallback: gossh.FixedHostKey(f.hostKey),
		Timeout:         5 * time.Second,
	})
}

// screen reads a session's output in the background.
type screen struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// raw is everything the session wrote, escape sequences included.
func (s *screen) raw() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func (s *screen) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return ansi.Strip(s.buf.String())
}

func (s *screen) waitFor(t *testing.T, want ...string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		text := s.text()
		missing := ""
		for _, w := range want {
			if !strings.Contains(text, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the console did not show %q; it drew:\n%s", missing, text)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openConsole opens a session with a terminal of w×h and starts the shell.
func openConsole(t *testing.T, c *gossh.Client, w, h int) (*gossh.Session, io.Writer, *screen) {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sess.Close() })
	if err := sess.RequestPty("xterm-256color", h, w, gossh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out := &screen{}
	sess.Stdout, sess.Stderr = out, out
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	return sess, in, out
}

func TestAuthorizedKeyGetsTheConsoleWithItsRole(t *testing.T) {
	f := setup(t)
	for _, c := range []struct {
		name string
		key  gossh.Signer
		want string
	}{
		{"no role comment is a viewer", f.viewer, "viewer (read-only)"},
		{"role=operator", f.operator, "operator"},
		{"role=admin", f.admin, "admin"},
	} {
		t.Run(c.name, func(t *testing.T) {
			client, err := f.dial(t, c.key)
			if err != nil {
				t.Fatalf("an authorized key was refused: %v", err)
			}
			defer client.Close()
			sess, in, out := openConsole(t, client, 100, 30)
			out.waitFor(t, "jobbridge", c.want, "● live", "Runs")
			if _, err := io.WriteString(in, "q"); err != nil {
				t.Fatal(err)
			}
			if err := waitSession(sess, 5*time.Second); err != nil {
				t.Fatalf("the session did not end after q: %v", err)
			}
		})
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if got := strings.Join(f.rolesAsked, ","); got != "viewer,operator,admin" {
		t.Errorf("tokens asked for roles %s, want viewer,operator,admin", got)
	}
}

func TestTheConsoleFollowsTheClientsTerminalSize(t *testing.T) {
	f := setup(t)
	client, err := f.dial(t, f.operator)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	sess, _, out := openConsole(t, client, 132, 40)
	out.waitFor(t, "TRIGGER") // the runs list shows TRIGGER from 120 columns
	if err := sess.WindowChange(30, 80); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	lines := strings.Split(out.text(), "\n")
	last := lines[len(lines)-1]
	if w := ansi.StringWidth(last); w > 80 {
		t.Errorf("after the resize to 80 columns the last line is %d wide: %q", w, last)
	}
}

func TestUnknownKeyIsRefused(t *testing.T) {
	f := setup(t)
	if c, err := f.dial(t, f.stranger); err == nil {
		c.Close()
		t.Fatal("a key not in the authorized keys was let in")
	}
}

// lyingSigner offers one key and signs with another: the attack of
// CVE-2024-45337's kind, where a server trusts the key it was offered
// rather than the one that signed.
type lyingSigner struct {
	offered gossh.PublicKey
	signer  gossh.Signer
}

func (l lyingSigner) PublicKey() gossh.PublicKey { return l.offered }

func (l lyingSigner) Sign(r io.Reader, data []byte) (*gossh.Signature, error) {
	return l.signer.Sign(r, data)
}

func TestAClientThatOffersOneKeyAndSignsWithAnotherIsRefused(t *testing.T) {
	f := setup(t)
	// Offers the admin's key (the server says it would accept it), signs
	// with a stranger's.
	if c, err := f.dial(t, lyingSigner{offered: f.admin.PublicKey(), signer: f.stranger}); err == nil {
		c.Close()
		t.Fatal("a client that offered the admin's key and signed with its own got in")
	}
	// The server drops a connection whose signature does not verify, so
	// the lie costs the client its connection. A client that offers a
	// stranger's key first and then the viewer's gets in as the viewer:
	// the role is the key that signed, not one offered on the way.
	c, err := f.dial(t, f.stranger, f.viewer)
	if err != nil {
		t.Fatalf("the viewer's key was refused after a stranger's: %v", err)
	}
	defer c.Close()
	_, _, out := openConsole(t, c, 100, 30)
	out.waitFor(t, "viewer (read-only)")
}

func TestPasswordAndKeyboardInteractiveAreNotOffered(t *testing.T) {
	f := setup(t)
	_, err := gossh.Dial("tcp", f.addr, &gossh.ClientConfig{
		User: "ops",
		Auth: []gossh.AuthMethod{
			gossh.Password("hunter2"),
			gossh.KeyboardInteractive(func(string, string, []string, []bool) ([]string, error) { return nil, nil }),
		},
		HostKeyCallback: gossh.FixedHostKey(f.hostKey),
		Timeout:         5 * time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Fatalf("a client with a password and keyboard-interactive: %v, want refused", err)
	}
}

func TestASessionWithoutATerminalIsTurnedAway(t *testing.T) {
	f := setup(t)
	c, err := f.dial(t, f.admin)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	var stderr bytes.Buffer
	sess.Stderr = &stderr
	err = sess.Run("")
	if err == nil || !strings.Contains(stderr.String(), "needs a terminal") {
		t.Errorf("without a pty: err %v, stderr %q", err, stderr.String())
	}
}

func TestTheHostKeyIsCreatedOnceAndKept(t *testing.T) {
	f := setup(t)
	before, err := os.ReadFile(filepath.Join(f.dir, "ssh_host_ed25519_key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sshconsole.New(sshconsole.Config{
		Addr: "127.0.0.1:0", AuthorizedKeys: filepath.Join(f.dir, "authorized_keys"),
		HostKeyPath: filepath.Join(f.dir, "ssh_host_ed25519_key"), AgentURL: "http://x",
		Token: func(string) (string, error) { return "", nil },
	}); err != nil {
		t.Fatal(err)
	}
	after, err := os.ReadFile(filepath.Join(f.dir, "ssh_host_ed25519_key"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("a second start replaced the host key")
	}
}

func TestBadAuthorizedKeysAreReportedByLine(t *testing.T) {
	dir := t.TempDir()
	k := newKey(t)
	for _, c := range []struct{ content, want string }{
		{authorizedLine(k, "role=root"), "line 1: role=root is not viewer, operator or admin"},
		{"# ok\nnot a key\n", "line 2: not a public key"},
	} {
		path := filepath.Join(dir, "keys")
		if err := os.WriteFile(path, []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := sshconsole.New(sshconsole.Config{Addr: ":0", AuthorizedKeys: path, HostKeyPath: filepath.Join(dir, "hk"),
			AgentURL: "http://x", Token: func(string) (string, error) { return "", nil }})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New() error = %v, want one saying %q", err, c.want)
		}
	}
}

func waitSession(s *gossh.Session, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err := <-done:
		var exit *gossh.ExitMissingError
		if err != nil && !errorsAs(err, &exit) {
			return err
		}
		return nil
	case <-time.After(d):
		return fmt.Errorf("still running after %s", d)
	}
}

// syncBuffer is a log the server writes while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestARefusedKeyIsLoggedWithItsFingerprint offers a key the file does not
// have, from a real SSH client with a user name holding a terminal escape
// and a newline: the log says the key was refused, with its SHA256
// fingerprint, the client's address and the user name escaped, on one line.
func TestARefusedKeyIsLoggedWithItsFingerprint(t *testing.T) {
	logs := &syncBuffer{}
	clock := newTestClock()
	f := setup(t, func(c *sshconsole.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.Now = clock.now
	})
	user := "mallory\x1b[31m\nlevel=INFO msg=forged"
	c, err := gossh.Dial("tcp", f.addr, &gossh.ClientConfig{
		User:            user,
		Auth:            []gossh.AuthMethod{gossh.PublicKeys(f.stranger)},
		HostKeyCallback: gossh.FixedHostKey(f.hostKey),
		Timeout:         5 * time.Second,
	})
	if err == nil {
		c.Close()
		t.Fatal("a key not in the authorized keys was let in")
	}
	var refused []string
	for l := range strings.Lines(logs.String()) {
		if strings.Contains(l, "public key refused") {
			refused = append(refused, l)
		}
	}
	if len(refused) != 1 {
		t.Fatalf("want one line for the refused key, got %d; the log:\n%s", len(refused), logs)
	}
	line := refused[0]
	fp := gossh.FingerprintSHA256(f.stranger.PublicKey())
	for _, want := range []string{"level=WARN", "fingerprint=" + fp, "type=ssh-ed25519", "remote=127.0.0.1:", `user="mallory\\x1b[31m\\nlevel=INFO msg=forged"`} {
		if !strings.Contains(line, want) {
			t.Errorf("the refused key's line does not say %s:\n%s", want, line)
		}
	}
	if strings.Contains(logs.String(), "\x1b") || strings.Contains(logs.String(), "\nlevel=INFO msg=forged") {
		t.Errorf("the user name reached the log as it was sent:\n%q", logs)
	}
	// An authorized key is not logged as refused.
	ok, err := f.dial(t, f.viewer)
	if err != nil {
		t.Fatal(err)
	}
	ok.Close()
	if n := strings.Count(logs.String(), "public key refused"); n != 1 {
		t.Errorf("the viewer's key was logged as refused:\n%s", logs)
	}
	// A long user name is cut, between characters, and says so.
	long := strings.Repeat("é", 100)                // 200 bytes
	clock.add(sshconsole.DefaultRefusedLogInterval) // a refusal a minute is logged
	if c, err := gossh.Dial("tcp", f.addr, &gossh.ClientConfig{
		User: long, Auth: []gossh.AuthMethod{gossh.PublicKeys(f.stranger)},
		HostKeyCallback: gossh.FixedHostKey(f.hostKey), Timeout: 5 * time.Second,
	}); err == nil {
		c.Close()
		t.Fatal("a key not in the authorized keys was let in")
	}
	if want := "user=" + strings.Repeat("é", 32) + "…"; !strings.Contains(logs.String(), want+" ") {
		t.Errorf("a 200-byte user name is not logged as %s:\n%s", want, logs)
	}
}

// testClock is a clock the test moves.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func newTestClock() *testClock { return &testClock{t: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)} }

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// A stranger knocking again and again is one line an interval, which says
// how many were refused since the last: anyone can offer keys, and a line
// each would let them fill the log.
func TestRefusedKeysAreLoggedOnceAnIntervalWithACount(t *testing.T) {
	logs := &syncBuffer{}
	clock := newTestClock()
	f := setup(t, func(c *sshconsole.Config) {
		c.Logger = slog.New(slog.NewTextHandler(logs, nil))
		c.Now = clock.now
	})
	knock := func() {
		t.Helper()
		if c, err := f.dial(t, f.stranger); err == nil {
			c.Close()
			t.Fatal("a key not in the authorized keys was let in")
		}
	}
	for range 5 {
		knock()
	}
	if n := strings.Count(logs.String(), "public key refused"); n != 1 {
		t.Fatalf("5 refusals in a minute logged %d lines, want 1:\n%s", n, logs)
	}
	clock.add(sshconsole.DefaultRefusedLogInterval)
	knock()
	if n := strings.Count(logs.String(), "public key refused"); n != 2 {
		t.Fatalf("a refusal a minute later logged %d lines in all, want 2:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "refused_since_last_line=4") {
		t.Errorf("the second line does not count the 4 refusals not logged:\n%s", logs)
	}
}
