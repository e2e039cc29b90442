package service

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

var tokenNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// NewTokenSecret returns a fresh random API token.
func NewTokenSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand does not fail on supported platforms
	return "jb_" + base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns what the store keeps of a token.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// ParseRole checks a role name.
func ParseRole(s string) (store.Role, error) {
	switch r := store.Role(s); r {
	case store.RoleViewer, store.RoleOperator, store.RoleAdmin:
		return r, nil
	}
	return "", fmt.Errorf("%q is not a role (want viewer, operator or admin)", s)
}

// RoleAllows reports whether a token of role have may do what need requires.
func RoleAllows(have, need store.Role) bool { return roleRank(have) >= roleRank(need) }

func roleRank(r store.Role) int {
	switch r {
	case store.RoleViewer:
		return 1
	case store.RoleOperator:
		return 2
	case store.RoleAdmin:
		return 3
	}
	return 0
}

// TokenCreate creates a token and returns its secret, which is not stored
// and cannot be shown again.
func (s *Service) TokenCreate(ctx context.Context, actor, name, role string) (string, store.Token, error) {
	verr := &ValidationError{}
	if !tokenNamePattern.MatchString(name) {
		verr.add("body.name", "%q is not a token name: 1-64 of letters, digits, '.', '_' and '-', starting with a letter or digit", name)
	}
	r, err := ParseRole(role)
	if err != nil {
		verr.add("body.role", "%s", err)
	}
	if err := verr.orNil(); err != nil {
		return "", store.Token{}, err
	}
	secret := NewTokenSecret()
	t := store.Token{Name: name, Role: r, Hash: HashToken(secret), CreatedAt: time.Now().UTC()}
	if err := s.store.TokenCreate(ctx, t); err != nil {
		err = conflict(err, "a token named %q exists already: pick another name, or revoke that one first", name)
		return "", store.Token{}, fmt.Errorf("create token %q: %w", name, err)
	}
	s.audit(ctx, actor, "token.create", name, "role "+role)
	return secret, t, nil
}

// TokenRevoke deletes a token.
func (s *Service) TokenRevoke(ctx context.Context, actor, name string) error {
	if err := s.store.TokenDelete(ctx, name); err != nil {
		return fmt.Errorf("revoke token %q: %w", name, err)
	}
	s.audit(ctx, actor, "token.revoke", name, "")
	return nil
}

// ErrBadToken is returned by Authenticate for a token it does not know.
var ErrBadToken = errors.New("unknown token")

// Authenticate returns the token whose secret this is.
func (s *Service) Authenticate(ctx context.Context, secret string) (store.Token, error) {
	if secret == "" {
		return store.Token{}, ErrBadToken
	}
	t, err := s.store.TokenGetByHash(ctx, HashToken(secret))
	if errors.Is(err, store.ErrNotFound) {
		return store.Token{}, ErrBadToken
	}
	if err != nil {
		return store.Token{}, fmt.Errorf("authenticate: %w", err)
	}
	return t, nil
}
