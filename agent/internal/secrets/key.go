package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/jobbridge/jobbridge/shared/localagent"
)

// KeyFile is the name of the key file in the data dir.
const KeyFile = localagent.SecretsKeyFile

// KeyEnv is the setting that gives the key.
const KeyEnv = "JOBBRIDGE_SECRETS_KEY"

// keySize is the size of a key: AES-256.
const keySize = 32

// Key encrypts secret parameters. Its check is an HMAC of a fixed label
// under the key: the database records it, so an agent can tell whether it
// has the key the stored values were encrypted with, while the database
// tells nobody anything about the key itself.
type Key struct {
	aead   cipher.AEAD
	check  string // hex
	source string // KeyEnv or the key file's path, for messages
}

// Fingerprint names the key for people comparing keys: the start of its
// check, which is what the database records.
func (k *Key) Fingerprint() string { return fingerprint(k.check) }

// Source says where the key came from: KeyEnv or the key file's path.
func (k *Key) Source() string { return k.source }

func fingerprint(check string) string {
	if len(check) > 12 {
		return check[:12]
	}
	return check
}

// ValidateKey reports what is wrong with a value of JOBBRIDGE_SECRETS_KEY;
// empty is fine (the key file is used). The error never quotes the value.
func ValidateKey(s string) error {
	if s == "" {
		return nil
	}
	_, err := ParseKey(s)
	return err
}

// ParseKey reads a key given as JOBBRIDGE_SECRETS_KEY: base64 (standard or
// URL alphabet, padded or not) of 32 bytes.
func ParseKey(s string) (*Key, error) {
	raw, err := decodeKey(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KeyEnv, err)
	}
	return newKey(raw, KeyEnv)
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if raw, err := enc.DecodeString(s); err == nil {
			if len(raw) != keySize {
				return nil, fmt.Errorf("want the base64 of %d random bytes (openssl rand -base64 %d), got %d bytes", keySize, keySize, len(raw))
			}
			return raw, nil
		}
	}
	return nil, fmt.Errorf("not base64: want the base64 of %d random bytes (openssl rand -base64 %d)", keySize, keySize)
}

// newKey derives the encryption key and the check from the raw key, each
// for its own purpose, so neither reveals the other.
func newKey(raw []byte, source string) (*Key, error) {
	encKey, err := hkdf.Key(sha256.New, raw, nil, "jobbridge secret parameters v1", keySize)
	if err != nil {
		return nil, fmt.Errorf("derive the secrets key: %w", err)
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secrets key: %w", err)
	}
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte("jobbridge secrets key check v1"))
	return &Key{aead: aead, check: hex.EncodeToString(mac.Sum(nil)), source: source}, nil
}

// readKeyFile reads the key file at path; (nil, nil) when there is none.
// A file others may read is made the owner's alone first.
func readKeyFile(path string) (*Key, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("secrets key file: %w", err)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		if err := os.Chmod(path, 0o600); err != nil {
			return nil, fmt.Errorf("make secrets key file %s private (mode %04o, want 0600): %w", path, perm, err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secrets key file: %w", err)
	}
	raw, err := decodeKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("secrets key file %s: %w", path, err)
	}
	return newKey(raw, path)
}

// createKeyFile writes a new random key to path, 0600; it fails if the file
// exists, so a key is never replaced.
func createKeyFile(path string) (*Key, error) {
	raw := make([]byte, keySize)
	rand.Read(raw)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create secrets key file: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(raw) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("write secrets key file %s: %w", path, err)
	}
	return newKey(raw, path)
}
