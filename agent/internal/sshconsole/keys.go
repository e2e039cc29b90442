package sshconsole

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/jobbridge/jobbridge/shared/api"
)

// authorizedKey is one key of the authorized-keys file with its role.
type authorizedKey struct {
	key  gossh.PublicKey
	role string
	name string // the comment before role=, for the log
}

// parseAuthorizedKeys reads an authorized_keys file: one public key a line,
// then an optional comment in which "role=viewer|operator|admin" sets the
// key's role (viewer when absent). Blank lines and # comments are skipped;
// any other line that is not a key, or a role that is not one of the three,
// is an error naming the line.
func parseAuthorizedKeys(data []byte) ([]authorizedKey, error) {
	var keys []authorizedKey
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, comment, _, _, err := gossh.ParseAuthorizedKey([]byte(line))
		if err != nil {
			return nil, fmt.Errorf("line %d: not a public key: %w", n, err)
		}
		k := authorizedKey{key: key, role: api.RoleViewer}
		var name []string
		for _, word := range strings.Fields(comment) {
			role, ok := strings.CutPrefix(word, "role=")
			if !ok {
				name = append(name, word)
				continue
			}
			switch role {
			case api.RoleViewer, api.RoleOperator, api.RoleAdmin:
				k.role = role
			default:
				return nil, fmt.Errorf("line %d: role=%s is not viewer, operator or admin", n, role)
			}
		}
		k.name = strings.Join(name, " ")
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return keys, nil
}

// keyFile is the authorized-keys file, read again when it changes so that
// adding or removing a key needs no restart.
type keyFile struct {
	path string

	mu      sync.Mutex
	keys    []authorizedKey
	loaded  bool
	modTime time.Time
	size    int64
	readAt  time.Time
}

func loadKeyFile(path string) (*keyFile, error) {
	f := &keyFile{path: path}
	if err := f.reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// reload reads the file again if its size or modification time changed.
func (f *keyFile) reload() error { return f.refresh(0) }

// refresh is reload that also reads the file when the last read is older
// than maxAge (0: never on age alone), so that an edit that keeps the size
// and lands within the file system's time resolution is still seen. A file
// that no longer exists holds no keys: deleting it shuts everyone out. A
// file that does not parse (caught half-written, say) keeps the keys read
// before, and the error says so.
func (f *keyFile) refresh(maxAge time.Duration) error {
	st, err := os.Stat(f.path)
	f.mu.Lock()
	defer f.mu.Unlock()
	if errors.Is(err, fs.ErrNotExist) {
		f.keys, f.loaded = nil, false
		return fmt.Errorf("authorized keys: %w: no key is accepted until it is back", err)
	}
	if err != nil {
		return fmt.Errorf("authorized keys: %w", err)
	}
	fresh := maxAge <= 0 || time.Since(f.readAt) < maxAge
	if f.loaded && fresh && st.ModTime().Equal(f.modTime) && st.Size() == f.size {
		return nil
	}
	data, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		f.keys, f.loaded = nil, false
		return fmt.Errorf("authorized keys: %w: no key is accepted until it is back", err)
	}
	if err != nil {
		return fmt.Errorf("authorized keys: %w", err)
	}
	keys, err := parseAuthorizedKeys(data)
	if err != nil {
		return fmt.Errorf("authorized keys %s: %w", f.path, err)
	}
	f.keys, f.loaded, f.modTime, f.size, f.readAt = keys, true, st.ModTime(), st.Size(), time.Now()
	return nil
}

// lookup returns the entry of key, if the file lists it.
func (f *keyFile) lookup(key gossh.PublicKey) (authorizedKey, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	want := key.Marshal()
	for _, k := range f.keys {
		if bytes.Equal(k.key.Marshal(), want) {
			return k, true
		}
	}
	return authorizedKey{}, false
}
