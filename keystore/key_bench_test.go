package keystore_test

import (
	"testing"

	"github.com/sagate/sagate/keystore"
)

// Key generation and the checks the sidecar runs on every request before any lookup.
// Run: go test -run '^$' -bench . -benchmem ./keystore/

func BenchmarkGenerateKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := keystore.GenerateKey(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchKey is a well-formed key generated once.
func benchKey(b *testing.B) string {
	b.Helper()
	k, err := keystore.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	return k
}

func BenchmarkCheckKey(b *testing.B) {
	key := benchKey(b)
	typo := key[:10] + string(rune(key[10]^1)) + key[11:] // a one-character typo: checksum fails
	for _, tc := range []struct {
		name string
		key  string
		ok   bool
	}{
		{"valid", key, true},
		{"typo", typo, false},
		{"wrong-length", key[:20], false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := keystore.CheckKey(tc.key); (err == nil) != tc.ok {
					b.Fatalf("CheckKey: %v, want ok=%v", err, tc.ok)
				}
			}
		})
	}
}

func BenchmarkHashKey(b *testing.B) {
	key := benchKey(b)
	b.ReportAllocs()
	var h keystore.KeyHash
	for b.Loop() {
		h = keystore.HashKey(key)
	}
	if h == (keystore.KeyHash{}) {
		b.Fatal("zero hash")
	}
}

// BenchmarkCheckAndHashKey is the sidecar's per-request work on the key itself: the
// format and checksum check, then the SHA-256 it looks up by.
func BenchmarkCheckAndHashKey(b *testing.B) {
	key := benchKey(b)
	b.ReportAllocs()
	var h keystore.KeyHash
	for b.Loop() {
		if err := keystore.CheckKey(key); err != nil {
			b.Fatal(err)
		}
		h = keystore.HashKey(key)
	}
	if h == (keystore.KeyHash{}) {
		b.Fatal("zero hash")
	}
}

// BenchmarkCheckAndHashKeyParallel runs the same work on every CPU at once.
func BenchmarkCheckAndHashKeyParallel(b *testing.B) {
	key := benchKey(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := keystore.CheckKey(key); err != nil {
				b.Error(err)
				return
			}
			_ = keystore.HashKey(key)
		}
	})
}

// BenchmarkRedisKey is the record name built on a cache miss.
func BenchmarkRedisKey(b *testing.B) {
	h := keystore.HashKey(benchKey(b))
	b.ReportAllocs()
	for b.Loop() {
		if s := keystore.RedisKey(h); len(s) != len(keystore.RedisKeyPrefix)+64 {
			b.Fatalf("RedisKey length %d", len(s))
		}
	}
}
