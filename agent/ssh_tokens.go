package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/sshconsole"
	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// sshTokenPrefix starts the names of the tokens the SSH console's sessions
// use: "ssh:NODE:KEY", one per agent and key (see sshTokenName). Its colon
// keeps API clients from making or taking such a name.
const sshTokenPrefix = "ssh:"

// sshTokens are this agent's SSH console tokens, one per key with an
// open session.
type sshTokens struct {
	store store.Store
	node  string

	mu   sync.Mutex
	held map[string]*sshToken // by name
}

type sshToken struct {
	secret string
	role   string
	users  int // open sessions
}

// sshTokenName names the token of key's sessions on node: the key by its
// comment and fingerprint, the node escaped so that no node's names start
// with another's prefix.
func sshTokenName(node string, key sshconsole.Key) string {
	id := key.Fingerprint
	if key.Name != "" {
		id = key.Name + " (" + key.Fingerprint + ")"
	}
	return sshTokenPrefix + url.QueryEscape(node) + ":" + id
}

// acquire returns the token of a session of key, made now if no session
// of that key is open here (or its role changed), and what gives it back.
func (t *sshTokens) acquire(key sshconsole.Key) (string, func(), error) {
	name := sshTokenName(t.node, key)
	t.mu.Lock()
	defer t.mu.Unlock()
	tok := t.held[name]
	if tok == nil || tok.role != key.Role {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := t.store.TokenDelete(ctx, name); err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", nil, fmt.Errorf("replace the SSH console's token of %s: %w", name, err)
		}
		secret := service.NewTokenSecret()
		if err := t.store.TokenCreate(ctx, store.Token{Name: name, Role: store.Role(key.Role), Hash: HashToken(secret), CreatedAt: time.Now().UTC()}); err != nil {
			return "", nil, fmt.Errorf("create the SSH console's token of %s: %w", name, err)
		}
		// Sessions of the key's old role lose their token; they end
		// within the key check anyway.
		tok = &sshToken{secret: secret, role: key.Role}
		t.held[name] = tok
	}
	tok.users++
	var once sync.Once
	return tok.secret, func() { once.Do(func() { t.release(name, tok) }) }, nil
}

// release gives back a session's token, deleting it with the last.
func (t *sshTokens) release(name string, tok *sshToken) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if tok.users--; tok.users > 0 || t.held[name] != tok {
		return
	}
	delete(t.held, name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = t.store.TokenDelete(ctx, name) // dropAll or the next start retries
}

// dropLeftovers deletes this node's SSH tokens that a previous run of the
// agent left (it was killed): nobody knows their secrets.
func (t *sshTokens) dropLeftovers(ctx context.Context) error {
	all, err := t.store.TokenList(ctx)
	if err != nil {
		return fmt.Errorf("ssh console: list tokens: %w", err)
	}
	mine := sshTokenPrefix + url.QueryEscape(t.node) + ":"
	for _, tok := range all {
		if strings.HasPrefix(tok.Name, mine) {
			if err := t.store.TokenDelete(ctx, tok.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("ssh console: delete a token a previous run left: %w", err)
			}
		}
	}
	return nil
}

// dropAll deletes every token still held, when the console stops.
// ctx bounds it: the shutdown's deadline, which an unreachable database
// must not stretch (the next start deletes what is left).
func (t *sshTokens) dropAll(ctx context.Context, log *slog.Logger) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name := range t.held {
		if err := t.store.TokenDelete(ctx, name); err != nil && !errors.Is(err, store.ErrNotFound) {
			log.Warn("delete the SSH console token", "token", name, "err", err)
		}
		delete(t.held, name)
	}
	if err := t.dropLeftovers(ctx); err != nil {
		log.Warn("delete the SSH console tokens", "err", err)
	}
}
