package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/sshconsole"
	"github.com/jobbridge/jobbridge/shared/localagent"
)

// prepareSSH listens for the SSH console when SSHListen is set, and returns
// what starts serving it (a no-op when it is off). Run prepares it before
// starting any part, so that a console that cannot start stops nothing. The console's sessions talk to this
// agent's HTTP API like any client: each with a token of its key's role,
// named after this agent and the key, so the audit trail says which key
// acted and agents sharing a database never touch each other's tokens.
// Only the tokens' hashes reach the store; the secrets stay in this
// process's memory, and a token is deleted when the last session of its
// key here ends.
func (a *Agent) prepareSSH() (start func() stopper, err error) {
	if a.cfg.SSHListen == "" {
		return func() stopper { return func(context.Context) error { return nil } }, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tokens := &sshTokens{store: a.store, node: a.cfg.Node, held: map[string]*sshToken{}}
	if err := tokens.dropLeftovers(ctx); err != nil {
		return nil, err
	}
	hc, err := a.selfClient()
	if err != nil {
		return nil, err
	}
	srv, err := sshconsole.New(sshconsole.Config{
		Addr:           a.cfg.SSHListen,
		AuthorizedKeys: a.cfg.SSHAuthorizedKeys,
		HostKeyPath:    filepath.Join(a.cfg.DataDir, localagent.SSHHostKeyFile),
		AgentURL:       a.URL(),
		HTTPClient:     hc,
		KeyToken:       tokens.acquire,
		Logger:         a.log,
	})
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", a.cfg.SSHListen)
	if err != nil {
		return nil, fmt.Errorf("ssh console: listen on %s: %w", a.cfg.SSHListen, err)
	}
	return func() stopper {
		a.sshAddr.set(l.Addr())
		a.log.Info("ssh console listening", "addr", l.Addr().String(), "authorizedKeys", a.cfg.SSHAuthorizedKeys)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := srv.Serve(l); err != nil {
				a.log.Error("ssh console stopped", "err", err)
			}
		}()
		// First to stop: its sessions are clients of the HTTP server.
		return func(ctx context.Context) error {
			sessions, cancel := context.WithTimeout(ctx, stopServingTime)
			defer cancel()
			if err := srv.Shutdown(sessions); err != nil {
				a.log.Warn("ssh console shutdown", "err", err)
			}
			<-done
			tokens.dropAll(ctx, a.log)
			return nil
		}
	}, nil
}

// SSHAddr is where the SSH console listens, once Run has started it; nil
// when it is off.
func (a *Agent) SSHAddr() net.Addr { return a.sshAddr.get() }

// guarded is a value one goroutine sets while others read it (the
// listeners' addresses, known only once Run binds them).
type guarded[T any] struct {
	mu sync.Mutex
	v  T
}

func (g *guarded[T]) set(v T) {
	g.mu.Lock()
	g.v = v
	g.mu.Unlock()
}

func (g *guarded[T]) get() T {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.v
}

// selfClient is the HTTP client with which the SSH console calls this
// agent. Over HTTPS it accepts exactly the agent's own certificate: it
// dials the agent's own listener, whose name may not be in the
// certificate (0.0.0.0, 127.0.0.1), so the certificate is pinned rather
// than checked against a name.
func (a *Agent) selfClient() (*http.Client, error) {
	if a.cfg.TLSCert == "" {
		return &http.Client{}, nil
	}
	own, err := tls.LoadX509KeyPair(a.cfg.TLSCert, a.cfg.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("ssh console: load the agent's certificate: %w", err)
	}
	leaf := own.Certificate[0]
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		InsecureSkipVerify: true, // replaced by the pin below
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], leaf) {
				return errors.New("the agent presented a certificate other than its own")
			}
			return nil
		},
	}}}, nil
}
