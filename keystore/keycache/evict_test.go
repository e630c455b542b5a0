package keycache

import (
	"context"
	"errors"
	"testing"
	"time"
)

// setPolicy sets the test server's memory limit and eviction policy.
func (e *env) setPolicy(maxmemory, policy string) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.rdb.ConfigSet(ctx, "maxmemory", maxmemory).Err(); err != nil {
		e.t.Fatalf("setting maxmemory: %v", err)
	}
	if err := e.rdb.ConfigSet(ctx, "maxmemory-policy", policy).Err(); err != nil {
		e.t.Fatalf("setting maxmemory-policy: %v", err)
	}
}

// TestMissingRecordWhileRedisMayEvict: while Redis may evict, a missing record is
// "cannot tell" (stale if cached, else ErrUnavailable), cached negatives no longer
// answer and none are added; once it may not, a missing record is "no such key" again.
func TestMissingRecordWhileRedisMayEvict(t *testing.T) {
	// Negatives last long enough that only RedisMayEvict keeps the cached one from answering.
	e := newEnv(t, envOpts{cfg: Config{NegativeTTL: time.Hour}})
	ctx := context.Background()
	known, _ := e.putNew()
	unknown := newHash(t)
	if ent, _ := e.lookup(known); ent == nil {
		t.Fatal("known key not found")
	}
	if ent, _ := e.lookup(unknown); ent != nil {
		t.Fatal("unknown key found")
	}
	if e.cache.RedisMayEvict() {
		t.Fatal("RedisMayEvict under noeviction")
	}

	e.setPolicy("100mb", "allkeys-lru")
	eventually(t, "the cache sees the eviction policy", e.cache.RedisMayEvict)
	if !e.cache.Stats().RedisMayEvict {
		t.Error("Stats().RedisMayEvict is false")
	}
	negatives := e.cache.Stats().NegativeEntries

	// The known key's record is evicted; its entry has gone past its TTL.
	if err := e.rdb.Del(ctx, redisKey(known)).Err(); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(testPolicy.TTL + time.Second)
	ent, src, err := foundOf(e.cache.Lookup(ctx, known, testPolicy))
	if err != nil || ent == nil || src != SourceStale {
		t.Fatalf("evicted known key: %v %v %v, want a stale answer", src, ent, err)
	}
	e.clock.Advance(testPolicy.StaleIfError)
	if ent, src, err := foundOf(e.cache.Lookup(ctx, known, testPolicy)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("evicted known key past stale: %v %v %v, want ErrUnavailable", src, ent, err)
	}
	// The unknown key: its cached negative does not answer, and Redis cannot tell.
	e.clock.Advance(-testPolicy.TTL - testPolicy.StaleIfError - time.Second)
	for range 2 {
		if ent, src, err := foundOf(e.cache.Lookup(ctx, unknown, testPolicy)); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("unknown key: %v %v %v, want ErrUnavailable", src, ent, err)
		}
	}
	if got := e.cache.Stats().NegativeEntries; got > negatives {
		t.Errorf("%d negative entries, %d before: negatives cached while redis may evict", got, negatives)
	}
	if st := e.cache.Stats(); st.RedisErrors != 0 {
		t.Errorf("%d redis errors counted for records that were missing", st.RedisErrors)
	}

	e.setPolicy("100mb", "noeviction")
	eventually(t, "the cache sees noeviction", func() bool { return !e.cache.RedisMayEvict() })
	if ent, src, err := foundOf(e.cache.Lookup(ctx, unknown, testPolicy)); err != nil || ent != nil {
		t.Fatalf("unknown key under noeviction: %v %v %v, want no such key", src, ent, err)
	}
	e.clock.Advance(testPolicy.TTL + time.Second) // the known key's entry is no longer fresh
	if ent, src, err := foundOf(e.cache.Lookup(ctx, known, testPolicy)); err != nil || ent != nil {
		t.Fatalf("deleted key under noeviction: %v %v %v, want no such key", src, ent, err)
	}
}
