package secrets

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jobbridge/jobbridge/agent/internal/store"
)

// Finding the key, checking it against the database's, and saying what to
// do when it is the wrong one.

// resolve finds the key (once): JOBBRIDGE_SECRETS_KEY, or the key file,
// created when an agent starts on a database that records no key. It
// refuses a key other than the one the database records, and no key when
// the database records one.
func (s *Store) resolve(ctx context.Context) (*Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resolveLocked(ctx)
}

func (s *Store) resolveLocked(ctx context.Context) (*Key, error) {
	if s.resolved {
		return s.key, nil
	}
	recorded, err := s.recordedCheck(ctx)
	if err != nil {
		return nil, err
	}
	key, err := s.findKey(recorded == "")
	if err != nil {
		return nil, err
	}
	if recorded != "" {
		if key == nil {
			return nil, s.noKeyError(recorded)
		}
		if key.check != recorded {
			return nil, s.wrongKeyError(recorded, key)
		}
	}
	s.key, s.resolved, s.recorded = key, true, recorded != ""
	return key, nil
}

// keyForWriting returns the key to encrypt with, first recording its check
// in the database if it is not yet: of agents with different keys, the
// first to encrypt wins and the others learn their key is wrong.
func (s *Store) keyForWriting(ctx context.Context) (*Key, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key, err := s.resolveLocked(ctx)
	if err != nil {
		return nil, err
	}
	if key == nil {
		return nil, fmt.Errorf("no secrets key: set %s, or start the agent once on this data dir so that it creates %s",
			KeyEnv, filepath.Join(s.cfg.DataDir, KeyFile))
	}
	if s.recorded {
		return key, nil
	}
	got, err := s.sup.MetaInit(ctx, keyCheckName, key.check)
	if err != nil {
		return nil, fmt.Errorf("record the secrets key check: %w", err)
	}
	if got != key.check {
		return nil, s.wrongKeyError(got, key)
	}
	s.recorded = true
	return key, nil
}

// recordedCheck returns the key check the database records, "" for none.
func (s *Store) recordedCheck(ctx context.Context) (string, error) {
	v, err := s.sup.MetaGet(ctx, keyCheckName)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the secrets key check: %w", err)
	}
	return v, nil
}

// findKey returns the configured key, or the key file's; with mayCreate, an
// agent creates the key file when there is none. nil: no key.
func (s *Store) findKey(mayCreate bool) (*Key, error) {
	if s.cfg.Key != "" {
		return ParseKey(s.cfg.Key)
	}
	path := filepath.Join(s.cfg.DataDir, KeyFile)
	key, err := readKeyFile(path)
	if err != nil || key != nil || !mayCreate || !s.cfg.Agent {
		return key, err
	}
	if key, err = createKeyFile(path); err != nil {
		return nil, err
	}
	if s.Kind() == "postgres" {
		s.log.Warn("created a new secrets key: every agent sharing this PostgreSQL database must use the same key, so copy this file to the others' data dirs or give them all "+KeyEnv,
			"file", path)
	} else {
		s.log.Info("created a secrets key file: back it up with the database, which cannot give its secret parameters back without it", "file", path)
	}
	return key, nil
}

// keyError is an ErrWrongKey with its own message.
type keyError struct{ msg string }

func (e *keyError) Error() string { return e.msg }
func (e *keyError) Unwrap() error { return ErrWrongKey }

func (s *Store) wrongKeyError(recorded string, key *Key) error {
	return &keyError{fmt.Sprintf("the database's secret parameters are encrypted with another key (fingerprint %s) than this agent's (fingerprint %s, from %s): %s",
		fingerprint(recorded), key.Fingerprint(), key.Source(), s.keyHint())}
}

func (s *Store) noKeyError(recorded string) error {
	return &keyError{fmt.Sprintf("the database's secret parameters are encrypted (key fingerprint %s) and this agent has no key: %s",
		fingerprint(recorded), s.keyHint())}
}

// keyHint says how to give the agent the right key.
func (s *Store) keyHint() string {
	path := filepath.Join(s.cfg.DataDir, KeyFile)
	if s.Kind() == "postgres" {
		return fmt.Sprintf("set %s to the key the other agents use, or copy their %s to %s", KeyEnv, KeyFile, path)
	}
	return fmt.Sprintf("set %s to the key they were encrypted with, or put that key's file back at %s", KeyEnv, path)
}

// warnIfShared warns when users other than the owner may enter the data
// dir: it holds the secrets key and the admin token, and on SQLite the
// database.
func (s *Store) warnIfShared() {
	info, err := os.Stat(s.cfg.DataDir)
	if err != nil {
		return
	}
	holds := "the secrets key and the admin token"
	if s.Kind() == "sqlite" {
		holds = "the secrets key, the admin token and the database"
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		s.log.Warn("the data dir is open to other users, and it holds "+holds+": make it private with chmod 700",
			"dir", s.cfg.DataDir, "mode", fmt.Sprintf("%04o", perm))
	}
}
