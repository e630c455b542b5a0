package keycache

import (
	"context"
	"testing"

	"github.com/sagate/sagate/keystore/wire"
)

// TestUnknownKeysNeverEvictKnown: a flood of unknown keys (any number: here ten times
// the cache's size) leaves every verified entry in place, fresh.
func TestUnknownKeysNeverEvictKnown(t *testing.T) {
	const size = 64 // 8 shards of 8
	e := newEnv(t, envOpts{cfg: Config{Size: size}})
	// One known key per shard at most a few: 8 keys never overflow a shard of 8.
	known := make([]wire.KeyHash, 8)
	for i := range known {
		known[i], _ = e.putNew()
		if ent, src := e.lookup(known[i]); ent == nil || src != SourceRedis {
			t.Fatalf("known key %d: %v %v", i, src, ent)
		}
	}
	for range 10 * size {
		if ent, _ := e.lookup(newHash(t)); ent != nil {
			t.Fatal("an unknown key was found")
		}
	}
	for i, h := range known {
		if ent, src := e.lookup(h); ent == nil || src != SourceCache {
			t.Errorf("known key %d after the flood: %v %v, want a cache hit", i, src, ent)
		}
	}
	if st := e.cache.Stats(); st.NegativeEntries > size/negativeShare+len(e.cache.shards) {
		t.Errorf("%d negative entries for Size %d", st.NegativeEntries, size)
	}
}

// TestFloodThenRedisDown: a key verified before a flood of made-up well-formed keys
// (three times the cache's size, none known to Redis) still answers, stale, once
// Redis is gone.
func TestFloodThenRedisDown(t *testing.T) {
	const size = 1000
	e := newEnv(t, envOpts{cfg: Config{Size: size}})
	h, _ := e.putNew()
	if ent, src := e.lookup(h); ent == nil || src != SourceRedis {
		t.Fatalf("verifying the key: %v %v", src, ent)
	}
	for range 3 * size {
		if ent, _ := e.lookup(wire.HashKey(newKey(t))); ent != nil {
			t.Fatal("a made-up key was found")
		}
	}
	e.srv.Kill()
	e.waitConnected(false)
	ent, src, err := foundOf(e.cache.Lookup(context.Background(), h, testPolicy))
	if err != nil || ent == nil || src != SourceStale {
		t.Fatalf("verified key with redis down after the flood: %v %v %v, want a stale answer", src, ent, err)
	}
}

// newKey returns a fresh well-formed key (its checksum passes).
func newKey(t testing.TB) string {
	t.Helper()
	k, err := wire.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := wire.CheckKey(k); err != nil {
		t.Fatal(err)
	}
	return k
}
