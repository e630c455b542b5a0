package keycache

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore"
)

func (e *env) lastUsed(keyID string) int64 {
	e.t.Helper()
	s, err := e.rdb.HGet(context.Background(), keystore.RedisLastUsed, keyID).Result()
	if err != nil {
		return 0
	}
	ms, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		e.t.Fatalf("lastused %q: %v", s, err)
	}
	return ms
}

func TestRecordUseCoalesces(t *testing.T) {
	e := newEnv(t, envOpts{noStart: true, cfg: Config{UsageInterval: time.Minute}})
	h, rec := e.putNew()
	ent, _ := e.lookup(h)
	t0 := time.UnixMilli(1_700_000_000_000)
	for i := range 100 {
		e.cache.RecordUse(ent, t0.Add(time.Duration(i)*time.Second/2))
	}
	if got := len(e.cache.uses); got != 1 {
		t.Fatalf("%d reports queued for 100 uses within an interval, want 1", got)
	}
	if allocs := testing.AllocsPerRun(100, func() { e.cache.RecordUse(ent, t0.Add(time.Second)) }); allocs != 0 {
		t.Errorf("RecordUse: %v allocations, want 0", allocs)
	}
	t1 := t0.Add(time.Minute)
	e.cache.RecordUse(ent, t1)
	if got := len(e.cache.uses); got != 2 {
		t.Fatalf("%d reports queued after an interval, want 2", got)
	}
	// A refetched entry for the same key shares its report clock.
	e.clock.Advance(testPolicy.TTL)
	ent2, src := e.lookup(h)
	if src != SourceRedis || ent2 == ent {
		t.Fatalf("expected a refetch, got %v", src)
	}
	e.cache.RecordUse(ent2, t1.Add(time.Second))
	if got := len(e.cache.uses); got != 2 {
		t.Fatalf("refetched entry reported again within the interval (%d queued)", got)
	}

	e.cache.Start()
	eventually(t, "use time written", func() bool { return e.lastUsed(rec.KeyID) == t1.UnixMilli() })
}

func TestRecordUseDropsWhenFull(t *testing.T) {
	e := newEnv(t, envOpts{noStart: true, cfg: Config{UsageInterval: time.Second}})
	h, _ := e.putNew()
	ent, _ := e.lookup(h)
	t0 := time.Now()
	for i := range usageQueue + 10 {
		e.cache.RecordUse(ent, t0.Add(time.Duration(i)*time.Second))
	}
	if got := e.cache.Stats().UsageDropped; got != 10 {
		t.Fatalf("dropped %d reports, want 10", got)
	}
	e.cache.RecordUse(nil, t0) // no entry: nothing, no panic
}

func TestCloseWritesPendingUses(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.cache.Close() // stop the flusher of newEnv: use one that never ticks
	c := New(e.ccli, Config{})
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
		c.RecordUse(ent, now)
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
