// Package keytest makes API keys for tests: fresh well-formed ones, and ones that fail
// their checksum.
package keytest

import (
	"bytes"

	"testing"

	"github.com/sagate/sagate/keystore/wire"
)

// New returns a fresh well-formed key.
func New(t testing.TB) string {
	t.Helper()
	k, err := wire.GenerateKey()
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

// SigningKey returns a fixed signing key for tests (seed: 32 bytes of 0x5a), so that an
// admin and the sidecars of one test agree without passing it around.
func SigningKey(t testing.TB) wire.SigningKey {
	t.Helper()
	k, err := wire.SigningKeyFromSeed(bytes.Repeat([]byte{0x5a}, 32))
	if err != nil {
		t.Fatalf("making the test signing key: %v", err)
	}
	return k
}
