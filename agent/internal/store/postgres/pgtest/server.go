package pgtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"testing"
)

// Server is a private PostgreSQL server a test may stop and restart
// without disturbing the tests that share the machine's server.
type Server struct {
	URL  string // of its "postgres" database, trust authentication
	bin  string
	data string
	port int
	run  func(args ...string) ([]byte, error)
}

// NewServer starts a PostgreSQL server of its own for the test (initdb in a
// temporary directory, a free loopback port) and stops it at the end. It
// needs the server binaries of the machine's PostgreSQL; without them it
// skips, unless JOBBRIDGE_TEST_REQUIRE_POSTGRES=1. As root, the server runs
// as the postgres user (PostgreSQL refuses root). Under -short it skips: the
// tests that stop and start a server of their own take seconds each, and the
// full run has them.
func NewServer(t testing.TB) *Server {
	t.Helper()
	if testing.Short() {
		t.Skip("starts and stops a PostgreSQL server of its own; skipped under -short")
	}
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(bins) == 0 {
		if os.Getenv("JOBBRIDGE_TEST_REQUIRE_POSTGRES") == "1" {
			t.Fatal("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
		}
		t.Skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
	}
	s := &Server{bin: filepath.Dir(bins[len(bins)-1])}
	dir, err := os.MkdirTemp("", "jobbridge-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s.data = filepath.Join(dir, "data")
	s.run = func(args ...string) ([]byte, error) { return exec.Command(args[0], args[1:]...).CombinedOutput() }
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs a postgres user to run the server: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		s.run = func(args ...string) ([]byte, error) {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--"}, args...)...).CombinedOutput()
		}
	}
	if out, err := s.run(filepath.Join(s.bin, "initdb"), "-D", s.data, "-A", "trust", "-U", "postgres", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	s.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", s.port)
	s.Start(t)
	t.Cleanup(func() { _, _ = s.run(filepath.Join(s.bin, "pg_ctl"), "-D", s.data, "-m", "immediate", "-w", "stop") })
	return s
}

// Start starts the server and waits until it accepts connections.
func (s *Server) Start(t testing.TB) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -h 127.0.0.1 -k %s -c fsync=off", s.port, filepath.Dir(s.data))
	if out, err := s.run(filepath.Join(s.bin, "pg_ctl"), "-D", s.data, "-o", opts, "-l", filepath.Join(filepath.Dir(s.data), "log"), "-w", "start"); err != nil {
		t.Fatalf("start PostgreSQL: %v\n%s", err, out)
	}
}

// Stop stops the server the fast way: sessions are ended at once.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if out, err := s.run(filepath.Join(s.bin, "pg_ctl"), "-D", s.data, "-m", "fast", "-w", "stop"); err != nil {
		t.Fatalf("stop PostgreSQL: %v\n%s", err, out)
	}
}
