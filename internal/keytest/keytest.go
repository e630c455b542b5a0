// Package keytest makes API keys for tests: fresh well-formed ones, and ones that fail
// their checksum.
package keytest

import (
	"testing"

	"github.com/sagate/sagate/keystore"
)

// New returns a fresh well-formed key.
func New(t testing.TB) string {
	t.Helper()
	k, err := keystore.GenerateKey()
	if err != nil {
		t.Fatalf("generating a key: %v", err)
	}
	return k
}

// BadChecksum returns key with its last character changed, so the checksum fails.
func BadChecksum(key string) string {
	repl := byte('0')
	if key[len(key)-1] == '0' {
		repl = '1'
	}
	return key[:len(key)-1] + string(repl)
}
