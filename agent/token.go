package agent

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jobbridge/jobbridge/agent/internal/service"
	"github.com/jobbridge/jobbridge/agent/internal/store"
	"github.com/jobbridge/jobbridge/shared/localagent"
)

// AdminTokenName is the name of the token the agent creates for itself.
const AdminTokenName = "admin"

// HashToken returns what the store keeps of a token.
func HashToken(token string) string { return service.HashToken(token) }

// ensureAdminToken makes sure an admin token exists. With
// JOBBRIDGE_ADMIN_TOKEN it stores (or replaces) the "admin" token with that
// value and returns "". Otherwise, on first start, it generates one, keeps
// its hash and writes the token to a 0600 file in the data dir, whose path
// it returns.
func ensureAdminToken(ctx context.Context, s store.Store, cfg Config) (string, error) {
	if cfg.AdminToken != "" {
		// A token generated before is no longer the admin's; drop its file.
		_ = os.Remove(filepath.Join(cfg.DataDir, localagent.AdminTokenFile))
		hash := HashToken(cfg.AdminToken)
		if existing, err := s.TokenGetByHash(ctx, hash); err == nil && existing.Name == AdminTokenName {
			return "", nil
		}
		if err := s.TokenDelete(ctx, AdminTokenName); err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("replace the admin token: %w", err)
		}
		if err := s.TokenCreate(ctx, store.Token{Name: AdminTokenName, Role: store.RoleAdmin, Hash: hash, CreatedAt: time.Now().UTC()}); err != nil {
			return "", fmt.Errorf("store the admin token from JOBBRIDGE_ADMIN_TOKEN: %w", err)
		}
		return "", nil
	}

	path := filepath.Join(cfg.DataDir, localagent.AdminTokenFile)
	tokens, err := s.TokenList(ctx)
	if err != nil {
		return "", fmt.Errorf("list tokens: %w", err)
	}
	for _, t := range tokens {
		if t.Name != AdminTokenName {
			continue
		}
		if _, err := os.Stat(path); err == nil {
			return path, nil // generated before; the file has it
		}
		// The file is gone, so nobody can use the token: rotate it.
		if err := s.TokenDelete(ctx, AdminTokenName); err != nil {
			return "", fmt.Errorf("rotate the admin token whose file is gone: %w", err)
		}
	}
	token := service.NewTokenSecret()
	if err := os.WriteFile(path, []byte(token+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write the admin token file: %w", err)
	}
	if err := s.TokenCreate(ctx, store.Token{Name: AdminTokenName, Role: store.RoleAdmin, Hash: HashToken(token), CreatedAt: time.Now().UTC()}); err != nil {
		return "", fmt.Errorf("store the admin token: %w", err)
	}
	return path, nil
}

// ownSecrets are the agent's own tokens, keys and passwords, which no run
// may write into its log: the runner masks them.
func (a *Agent) ownSecrets() []string {
	c := a.cfg
	out := []string{c.AdminToken, c.SecretsKey, c.EventBridge.APIKey, c.Notify.SMTPPassword, c.Notify.WebhookURL}
	for _, file := range []string{a.adminTokenFile, filepath.Join(c.DataDir, localagent.SecretsKeyFile)} {
		if b, err := os.ReadFile(file); file != "" && err == nil {
			out = append(out, strings.TrimSpace(string(b)))
		}
	}
	if u, err := url.Parse(c.Notify.WebhookURL); err == nil && len(u.Path) > 1 {
		out = append(out, u.Path, strings.TrimPrefix(u.Path, "/"))
	}
	if u, err := url.Parse(c.DatabaseURL); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok {
			out = append(out, pw)
		}
	}
	return out
}
