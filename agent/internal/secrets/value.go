package secrets

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strings"
)

// Prefix starts every encrypted value. An encrypted value is
//
//	jbenc:v1:BASE64URL(nonce || AES-256-GCM ciphertext and tag)
//
// with a random 12-byte nonce per value, and the rule's name and the
// parameter's name as additional data: a value moved to another rule or
// parameter does not decrypt. The version names the format and the key
// derivation, so a later one can be read beside it.
const Prefix = "jbenc:v1:"

// IsEncrypted reports whether v is a value in the encrypted format. Any other
// value is plaintext, which is how values stored before are recognised.
func IsEncrypted(v string) bool { return strings.HasPrefix(v, Prefix) }

// additionalData binds a value to its rule and parameter. Both names are
// length-prefixed, so no two pairs give the same bytes.
func additionalData(rule, param string) []byte {
	b := []byte(Prefix)
	b = binary.AppendUvarint(b, uint64(len(rule)))
	b = append(b, rule...)
	b = binary.AppendUvarint(b, uint64(len(param)))
	return append(b, param...)
}

// encrypt returns value in the encrypted format.
func (k *Key) encrypt(rule, param, value string) string {
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	sealed := k.aead.Seal(nonce, nonce, []byte(value), additionalData(rule, param))
	return Prefix + base64.RawURLEncoding.EncodeToString(sealed)
}

// errUndecryptable says a value is not one this key encrypted for this rule
// and parameter.
var errUndecryptable = errors.New("does not decrypt")

// decrypt returns the plaintext of an encrypted value.
func (k *Key) decrypt(rule, param, value string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(value, Prefix))
	n := k.aead.NonceSize()
	if err != nil || len(b) < n+k.aead.Overhead() {
		return "", errUndecryptable
	}
	plain, err := k.aead.Open(nil, b[:n], b[n:], additionalData(rule, param))
	if err != nil {
		return "", errUndecryptable
	}
	return string(plain), nil
}
