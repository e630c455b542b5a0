package keycache

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore/wire"
)

func (e *env) lastUsed(keyID string) int64 {
	e.t.Helper()
	s, err := e.rdb.HGet(context.Background(), wire.RedisLastUsed, keyID).Result()
	if err != nil {
		return 0
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		e.t.Fatalf("lastused %q: %v", s, err)
	}
	return ms
}

// request is one allowed request with the key of h at the clock's time: a lookup,
// then RecordUse, as the module does.
func (e *env) request(h wire.KeyHash) {
	e.t.Helper()
	now := e.clock.Now()
	ent, _, err := e.cache.LookupAt(context.Background(), h, testPolicy, now)
	if err != nil || !ent.Found() {
		e.t.Fatalf("lookup: found %v, %v", ent.Found(), err)
	}
	e.cache.RecordUse(&ent, now)
}

func TestRecordUseCoalesces(t *testing.T) {
	// Not started: no follower, so every lookup is a refetch from Redis, which must
	// keep the key's report clock.
	e := newEnv(t, envOpts{noStart: true, cfg: Config{UsageInterval: time.Minute}})
	h, rec := e.putNew()
	for range 100 {
		e.request(h)
		e.clock.Advance(time.Second / 2)
	}
	if got := len(e.cache.uses); got != 1 {
		t.Fatalf("%d reports queued for 100 uses within an interval, want 1", got)
	}
	e.clock.Advance(10 * time.Second) // a minute after the first
	t1 := e.clock.Now()
	e.request(h)
	if got := len(e.cache.uses); got != 2 {
		t.Fatalf("%d reports queued after an interval, want 2", got)
	}
	e.clock.Advance(time.Second)
	e.request(h)
	if got := len(e.cache.uses); got != 2 {
		t.Fatalf("reported again within the interval (%d queued)", got)
	}

	e.cache.Start()
	eventually(t, "use time written", func() bool { return e.lastUsed(rec.KeyID) == t1.UnixMilli() })
}

func TestRecordUseOfAHitDoesNotAllocate(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{UsageInterval: time.Minute}})
	h, _ := e.putNew()
	e.request(h) // cached and reported
	if got := len(e.cache.uses); got != 1 {
		t.Fatalf("%d reports queued, want 1", got)
	}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		now := e.clock.Now()
		ent, src, err := e.cache.LookupAt(ctx, h, testPolicy, now)
		if err != nil || src != SourceCache {
			t.Fatalf("lookup: %v %v, want a cache hit", src, err)
		}
		e.cache.RecordUse(&ent, now)
	})
	if allocs != 0 {
		t.Errorf("a hit and its RecordUse: %v allocations, want 0", allocs)
	}
	if got := len(e.cache.uses); got != 1 {
		t.Errorf("%d reports queued, want 1", got)
	}
}

func TestRecordUseDropsWhenFull(t *testing.T) {
	e := newEnv(t, envOpts{noStart: true, cfg: Config{UsageInterval: time.Second}})
	h, _ := e.putNew()
	for range usageQueue + 10 {
		e.request(h)
		e.clock.Advance(time.Second)
	}
	if got := e.cache.Stats().UsageDropped; got != 10 {
		t.Fatalf("dropped %d reports, want 10", got)
	}
	e.cache.RecordUse(&Entry{}, time.Now()) // no entry: nothing, no panic
}

func TestCloseWritesPendingUses(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.cache.Close() // stop the flusher of newEnv: use one that never ticks
	c := New(e.ccli, Config{Verifier: testVerifier(t)})
	c.flushEvery = time.Hour
	c.Start()
	recs := map[string]int64{}
	for range 3 {
		h, rec := e.putNew()
		ent, _, err := c.Lookup(context.Background(), h, testPolicy)
		if err != nil {
			t.Fatal(err)
		}
		now := time.Now()
		c.RecordUse(&ent, now)
		recs[rec.KeyID] = now.UnixMilli()
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	for id, ms := range recs {
		if got := e.lastUsed(id); got != ms {
			t.Errorf("%s: last used %d, want %d", id, got, ms)
		}
	}
}
