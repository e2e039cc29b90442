package eventbridge

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// state is what the backend keeps between runs, in a small JSON file in the
// data dir: what AWS cannot tell back (the key last given to the connection)
// and what must not be forgotten (deletes not yet applied).
type state struct {
	// ConnectionARN and AuthHash: the connection whose API key and header
	// were last set to the values hashed in AuthHash.
	ConnectionARN string `json:"connectionArn,omitempty"`
	AuthHash      string `json:"authHash,omitempty"`
	// PendingDeletes names the stored rules (without the prefix) that were
	// deleted but whose EventBridge rules may still exist.
	PendingDeletes []string `json:"pendingDeletes,omitempty"`
}

// stateFile guards the state and writes it through to its file, atomically
// (a temporary file renamed over it).
type stateFile struct {
	path string
	mu   sync.Mutex
	s    state
}

func loadState(path string) (*stateFile, error) {
	f := &stateFile{path: path}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read EventBridge state: %w", err)
	}
	if err := json.Unmarshal(b, &f.s); err != nil {
		return nil, fmt.Errorf("read EventBridge state %s: %w (delete the file to start afresh: the connection's key is then set again)", path, err)
	}
	return f, nil
}

// authHash is what the state keeps of an API key and its header: enough to
// tell that either changed, nothing to recover the key from.
func authHash(header, key string) string {
	sum := sha256.Sum256([]byte("jobbridge eventbridge connection\x00" + header + "\x00" + key))
	return hex.EncodeToString(sum[:])
}

func (f *stateFile) get() state {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.s
	s.PendingDeletes = slices.Clone(s.PendingDeletes)
	return s
}

// update changes the state with fn and writes it if fn reports a change.
func (f *stateFile) update(fn func(s *state) bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	next := f.s
	next.PendingDeletes = slices.Clone(f.s.PendingDeletes)
	if !fn(&next) {
		return nil
	}
	if err := writeFileAtomic(f.path, next); err != nil {
		return err
	}
	f.s = next
	return nil
}

func (f *stateFile) setConnection(arn, hash string) error {
	return f.update(func(s *state) bool {
		if s.ConnectionARN == arn && s.AuthHash == hash {
			return false
		}
		s.ConnectionARN, s.AuthHash = arn, hash
		return true
	})
}

func (f *stateFile) addPendingDelete(name string) error {
	return f.update(func(s *state) bool {
		if slices.Contains(s.PendingDeletes, name) {
			return false
		}
		s.PendingDeletes = append(s.PendingDeletes, name)
		slices.Sort(s.PendingDeletes)
		return true
	})
}

func (f *stateFile) removePendingDelete(name string) error {
	return f.update(func(s *state) bool {
		i := slices.Index(s.PendingDeletes, name)
		if i < 0 {
			return false
		}
		s.PendingDeletes = slices.Delete(s.PendingDeletes, i, i+1)
		return true
	})
}

func writeFileAtomic(path string, s state) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encode EventBridge state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".eventbridge-state-*")
	if err != nil {
		return fmt.Errorf("write EventBridge state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write EventBridge state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write EventBridge state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write EventBridge state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write EventBridge state: %w", err)
	}
	return nil
}
