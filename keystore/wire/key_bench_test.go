package wire_test

import (
	"testing"

	"github.com/sagate/sagate/keystore/wire"
)

// Key generation and the checks the sidecar runs on every request before any lookup.
// Run: go test -run '^$' -bench . -benchmem ./keystore/

func BenchmarkGenerateKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wire.GenerateKey(); err != nil {
			b.Fatal(err)
		}
	}
}

// benchKey is a well-formed key generated once.
func benchKey(b *testing.B) string {
	b.Helper()
	k, err := wire.GenerateKey()
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
				if err := wire.CheckKey(tc.key); (err == nil) != tc.ok {
					b.Fatalf("CheckKey: %v, want ok=%v", err, tc.ok)
				}
			}
		})
	}
}

func BenchmarkHashKey(b *testing.B) {
	key := benchKey(b)
	b.ReportAllocs()
	var h wire.KeyHash
	for b.Loop() {
		h = wire.HashKey(key)
	}
	if h == (wire.KeyHash{}) {
		b.Fatal("zero hash")
	}
}

// BenchmarkCheckAndHashKey is the sidecar's per-request work on the key itself: the
// format and checksum check, then the SHA-256 it looks up by.
func BenchmarkCheckAndHashKey(b *testing.B) {
	key := benchKey(b)
	b.ReportAllocs()
	var h wire.KeyHash
	for b.Loop() {
		if err := wire.CheckKey(key); err != nil {
			b.Fatal(err)
		}
		h = wire.HashKey(key)
	}
	if h == (wire.KeyHash{}) {
		b.Fatal("zero hash")
	}
}

// BenchmarkCheckAndHashKeyParallel runs the same work on every CPU at once.
func BenchmarkCheckAndHashKeyParallel(b *testing.B) {
	key := benchKey(b)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := wire.CheckKey(key); err != nil {
				b.Error(err)
				return
			}
			_ = wire.HashKey(key)
		}
	})
}

// BenchmarkRedisKey is the record name built on a cache miss.
func BenchmarkRedisKey(b *testing.B) {
	h := wire.HashKey(benchKey(b))
	b.ReportAllocs()
	for b.Loop() {
		if s := wire.RedisKey(h); len(s) != len(wire.RedisKeyPrefix)+64 {
			b.Fatalf("RedisKey length %d", len(s))
		}
	}
}
