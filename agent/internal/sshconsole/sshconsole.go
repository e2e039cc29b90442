// Package sshconsole serves the jobbridge console over SSH with wish. Each
// session gets its own Bubble Tea program, sized to that session's terminal
// and drawn by a renderer for that terminal, so colours fit the client.
//
// Only public-key authentication is offered. Each key in the authorized-keys
// file maps to a role (a "role=viewer|operator|admin" comment; viewer by
// default), and the console of a session talks to the agent's HTTP API with
// a token of that role — so the API, not the SSH server, decides what a
// session may do. The session's key is looked up again when the session
// starts, from the key the SSH layer authenticated (golang.org/x/crypto/ssh
// guarantees the last key passed to the key callback is the one that
// signed), never from a key a client merely offered.
package sshconsole

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/ssh"
	"github.com/charmbracelet/wish"
	"github.com/muesli/termenv"
	gossh "golang.org/x/crypto/ssh"

	"github.com/jobbridge/jobbridge/shared/client"
	"github.com/jobbridge/jobbridge/tui"
)

// Config configures the SSH console.
type Config struct {
	// Addr is where to listen ("127.0.0.1:2222"). Required.
	Addr string
	// AuthorizedKeys is the authorized_keys file. Required.
	AuthorizedKeys string
	// HostKeyPath is the host's private key; created (ed25519) on first
	// start and kept. Required.
	HostKeyPath string
	// AgentURL is the agent's base URL the consoles call. Required.
	AgentURL string
	// Token returns the API token of a role. Required, unless KeyToken
	// is set.
	Token func(role string) (string, error)
	// KeyToken, when set, is used instead of Token: it returns the API
	// token for a session of key, so that the API, and its audit trail,
	// know which key acts, and release, called when the session ends.
	KeyToken func(key Key) (token string, release func(), err error)
	// HTTPClient calls the agent (for its TLS settings). Default a plain
	// http.Client.
	HTTPClient *http.Client
	// IdleTimeout closes a session without input for this long. Default
	// none.
	IdleTimeout time.Duration
	// KeyCheck is how often an open session's key is looked up again in
	// the authorized-keys file (read anew): a session whose key was
	// removed, or whose role changed, ends within this, with a message.
	// Default 15s, the API's stream heartbeat.
	KeyCheck time.Duration
	// RefusedLogInterval is how often a refused key from one address is
	// logged: the first in each interval, with how many were refused
	// since without a line. Default DefaultRefusedLogInterval.
	RefusedLogInterval time.Duration
	// Now is the clock of that interval. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultKeyCheck is Config.KeyCheck's default.
const DefaultKeyCheck = 15 * time.Second

// Server is the SSH console.
type Server struct {
	cfg  Config
	keys *keyFile
	srv  *ssh.Server
	log  *slog.Logger

	refused refusals

	mu       sync.Mutex
	closed   bool
	listener net.Listener
	served   chan struct{} // closed when Serve returns
}

// New checks the configuration, reads the authorized keys and the host key
// (creating it the first time) and prepares the server.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Addr == "":
		return nil, errors.New("ssh console: no listen address")
	case cfg.AuthorizedKeys == "":
		return nil, errors.New("ssh console: no authorized keys file (public-key authentication is the only way in)")
	case cfg.HostKeyPath == "":
		return nil, errors.New("ssh console: no host key path")
	case cfg.AgentURL == "" || cfg.Token == nil && cfg.KeyToken == nil:
		return nil, errors.New("ssh console: no agent to talk to")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.KeyCheck <= 0 {
		cfg.KeyCheck = DefaultKeyCheck
	}
	if cfg.RefusedLogInterval <= 0 {
		cfg.RefusedLogInterval = DefaultRefusedLogInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	keys, err := loadKeyFile(cfg.AuthorizedKeys)
	if err != nil {
		return nil, fmt.Errorf("ssh console: %w", err)
	}
	s := &Server{cfg: cfg, keys: keys, log: cfg.Logger,
		refused: refusals{every: cfg.RefusedLogInterval, now: cfg.Now}}
	opts := []ssh.Option{
		wish.WithAddress(cfg.Addr),
		wish.WithHostKeyPath(cfg.HostKeyPath),
		wish.WithPublicKeyAuth(s.allow),
		wish.WithMiddleware(s.console),
	}
	if cfg.IdleTimeout > 0 {
		opts = append(opts, wish.WithIdleTimeout(cfg.IdleTimeout))
	}
	if s.srv, err = wish.NewServer(opts...); err != nil {
		return nil, fmt.Errorf("ssh console: %w", err)
	}
	return s, nil
}

// allow is the public-key callback: the key must be in the file (read again
// if it changed).
// A refused key is logged with its fingerprint, as ssh-keygen -l shows it,
// so an operator can tell whose key it was and add it, or see a stranger
// knocking; the SSH layer asks once per key and connection.
func (s *Server) allow(ctx ssh.Context, key ssh.PublicKey) bool {
	if err := s.keys.reload(); err != nil {
		s.log.Warn("ssh console: keeping the previous authorized keys", "err", err)
	}
	_, ok := s.keys.lookup(key)
	if !ok {
		log, skipped := s.refused.note(ctx.RemoteAddr())
		if !log {
			return false
		}
		remote := ""
		if a := ctx.RemoteAddr(); a != nil {
			remote = a.String()
		}
		args := []any{"fingerprint", gossh.FingerprintSHA256(key), "type", key.Type(),
			"user", escapeUser(ctx.User()), "remote", remote}
		if skipped > 0 {
			args = append(args, "refused_since_last_line", skipped)
		}
		s.log.Warn("ssh console: public key refused: not in the authorized keys", args...)
	}
	return ok
}

// maxLoggedUser is how much of a user name the log keeps.
const maxLoggedUser = 64

// escapeUser makes a user name, which the client chose, safe to log: no
// control character or invalid byte reaches the log as itself (each is
// written as a Go escape), and a long name is cut.
func escapeUser(user string) string {
	cut := false
	if len(user) > maxLoggedUser {
		n := maxLoggedUser
		for n > maxLoggedUser-utf8.UTFMax && !utf8.RuneStart(user[n]) {
			n-- // not in the middle of a character
		}
		user, cut = user[:n], true
	}
	q := strconv.QuoteToGraphic(user)
	q = q[1 : len(q)-1]
	if cut {
		q += "…"
	}
	return q
}

// Serve accepts sessions on l until Shutdown; it returns nil then.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listener, s.served = l, make(chan struct{})
	served := s.served
	s.mu.Unlock()
	defer close(served)
	err := s.srv.Serve(l)
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed || errors.Is(err, ssh.ErrServerClosed) {
		return nil
	}
	return err
}

// ListenAndServe listens on the configured address and serves.
func (s *Server) ListenAndServe() error {
	l, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("ssh console: listen on %s: %w", s.cfg.Addr, err)
	}
	return s.Serve(l)
}

// Shutdown stops accepting sessions and waits for open ones to end until
// ctx is done, then closes them.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	l, served := s.listener, s.served
	s.mu.Unlock()
	if l != nil {
		// Close the listener ourselves and wait for Serve to return: the
		// ssh package's Shutdown misses a listener that Serve has not
		// registered yet, and Serve would then accept forever.
		l.Close()
		<-served
	}
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return s.srv.Close()
	}
	return err
}

// console is the session handler: one console per session.
func (s *Server) console(next ssh.Handler) ssh.Handler {
	return func(sess ssh.Session) {
		defer next(sess)
		pty, windows, ok := sess.Pty()
		if !ok {
			wish.Fatalln(sess, "jobbridge: the console needs a terminal (ssh -t)")
			return
		}
		entry, ok := s.keys.lookup(sess.PublicKey())
		if sess.PublicKey() == nil || !ok {
			wish.Fatalln(sess, "jobbridge: this key is not authorized")
			return
		}
		token, release, err := s.token(sess.PublicKey(), entry)
		if err != nil {
			s.log.Error("ssh console: no token for the role", "role", entry.role, "err", err)
			wish.Fatalln(sess, "jobbridge: the console is not available")
			return
		}
		defer release()
		s.log.Info("ssh console session", "user", sess.User(), "key", entry.name, "role", entry.role, "remote", sess.RemoteAddr().String())

		env := append(sess.Environ(), "TERM="+pty.Term)
		r := lipgloss.NewRenderer(sess, termenv.WithEnvironment(environ(env)), termenv.WithUnsafe(), termenv.WithColorCache(true))
		opts := []client.Option{}
		if s.cfg.HTTPClient != nil {
			opts = append(opts, client.WithHTTPClient(s.cfg.HTTPClient))
		}
		// The session's output carries the frames and the clipboard
		// sequence of y and Y to the operator's terminal: shared, so that
		// a copy never lands inside a frame (the channel sends a long
		// write in packets).
		out := tui.SharedOutput(sess)
		m := tui.New(sess.Context(), tui.Options{Client: client.New(s.cfg.AgentURL, token, opts...), Renderer: r, Clipboard: out})
		p := tea.NewProgram(m,
			tea.WithInput(sess), tea.WithOutput(out), tea.WithAltScreen(),
			tea.WithContext(sess.Context()), tea.WithEnvironment(env), tea.WithoutSignalHandler(),
		)
		go func() {
			for {
				select {
				case <-sess.Context().Done():
					return
				case w, ok := <-windows:
					if !ok {
						return
					}
					p.Send(tea.WindowSizeMsg{Width: w.Width, Height: w.Height})
				}
			}
		}()
		watchCtx, stopWatch := context.WithCancel(sess.Context())
		revoked := make(chan string, 1)
		go func() {
			if why := s.watchKey(watchCtx, sess.PublicKey(), entry); why != "" {
				revoked <- why
				p.Kill()
			}
		}()
		_, err = p.Run()
		stopWatch()
		select {
		case why := <-revoked:
			s.log.Info("ssh console session closed", "user", sess.User(), "key", entry.name, "why", why, "remote", sess.RemoteAddr().String())
			wish.Fatalln(sess, "\r\njobbridge: "+why+"; the session is closed.")
			return
		default:
		}
		if err != nil && !errors.Is(err, tea.ErrProgramKilled) {
			s.log.Warn("ssh console session ended", "err", err)
		}
	}
}

// Key is an authorized key as KeyToken sees it.
type Key struct {
	Name        string // the authorized_keys comment, role= aside; may be empty
	Fingerprint string // SHA256:...
	Role        string
}

// token returns the API token of a session authenticated with key.
func (s *Server) token(key ssh.PublicKey, entry authorizedKey) (string, func(), error) {
	if s.cfg.KeyToken != nil {
		return s.cfg.KeyToken(Key{Name: entry.name, Fingerprint: gossh.FingerprintSHA256(key), Role: entry.role})
	}
	t, err := s.cfg.Token(entry.role)
	return t, func() {}, err
}

// watchKey looks the session's key up again every KeyCheck until ctx is
// done, reading the file anew. It returns why the session must end (the
// key was removed, or its role changed), or "" when ctx ended first.
func (s *Server) watchKey(ctx context.Context, key ssh.PublicKey, was authorizedKey) string {
	tick := time.NewTicker(s.cfg.KeyCheck)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ""
		case <-tick.C:
		}
		if err := s.keys.refresh(s.cfg.KeyCheck); err != nil {
			s.log.Warn("ssh console: check the authorized keys", "err", err)
		}
		now, ok := s.keys.lookup(key)
		switch {
		case !ok:
			return "this key was removed from the authorized keys"
		case now.role != was.role:
			return "this key's role changed from " + was.role + " to " + now.role + " (log in again to use it)"
		}
	}
}

// environ is a session's environment for termenv: what the client sent
// and its terminal type, not the agent's own.
type environ []string

func (e environ) Environ() []string { return e }

func (e environ) Getenv(key string) string {
	for i := len(e) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(e[i], "="); ok && k == key {
			return v
		}
	}
	return ""
}
