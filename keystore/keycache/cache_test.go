package keycache

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore/wire"
)

func TestLookup(t *testing.T) {
	e := newEnv(t, envOpts{})
	now := time.Now()
	tests := []struct {
		name   string
		rec    *wire.Record // nil: no record in Redis
		live   bool
		negSrc Source // the source of the second lookup
	}{
		{"active", recPtr(activeRecord()), true, SourceCache},
		{"unknown", nil, false, SourceNegative},
		{"tombstone", recPtr(with(activeRecord(), func(r *wire.Record) { r.State = wire.KeyRevoked })), false, SourceCache},
		{"deactivated", recPtr(with(activeRecord(), func(r *wire.Record) { r.State = wire.KeyDeactivated })), false, SourceCache},
		{"expired", recPtr(with(activeRecord(), func(r *wire.Record) { r.Exp = now.Add(-time.Minute).UnixMilli() })), false, SourceCache},
		{"not yet expired", recPtr(with(activeRecord(), func(r *wire.Record) { r.Exp = now.Add(time.Hour).UnixMilli() })), true, SourceCache},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHash(t)
			if tt.rec != nil {
				e.put(h, *tt.rec)
			}
			ent, src := e.lookup(h)
			if src != SourceRedis {
				t.Fatalf("first lookup: source %v, want redis", src)
			}
			if tt.rec == nil {
				if ent != nil {
					t.Fatalf("unknown key answered %+v", ent.Record())
				}
			} else {
				if ent == nil || ent.KeyID() != tt.rec.KeyID || ent.State() != tt.rec.State {
					t.Fatalf("entry = %+v, want record %+v", ent, tt.rec)
				}
				if got := ent.Live(now); got != tt.live {
					t.Fatalf("Live = %v, want %v", got, tt.live)
				}
				checkRecord(t, ent, *tt.rec)
			}
			ent2, src2 := e.lookup(h)
			if src2 != tt.negSrc || (ent2 == nil) != (ent == nil) || (ent != nil && ent2.Record().KeyID != ent.Record().KeyID) {
				t.Fatalf("second lookup: %v %+v, want %v %+v", src2, ent2, tt.negSrc, ent)
			}
		})
	}
}

func recPtr(r wire.Record) *wire.Record { return &r }

func with(r wire.Record, f func(*wire.Record)) wire.Record { f(&r); return r }

// checkRecord verifies that e answers every field of rec but Rev, which it does not keep.
func checkRecord(t *testing.T, e *Entry, rec wire.Record) {
	t.Helper()
	rec.Rev = 0
	if got := e.Record(); !reflect.DeepEqual(got, rec) {
		t.Errorf("entry's record = %+v, want %+v", got, rec)
	}
	if e.KeyID() != rec.KeyID || e.ServiceAccountID() != rec.SAID || e.ServiceAccount() != rec.SA ||
		e.Workspace() != rec.Workspace || e.State() != rec.State || e.Expires() != rec.Exp {
		t.Errorf("entry's accessors disagree with %+v", rec)
	}
}

func TestLookupExpiresByTTLAndNegativeTTL(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{NegativeTTL: time.Second}})
	h, _ := e.putNew()
	unknown := newHash(t)
	e.lookup(h)
	e.lookup(unknown)
	if _, src := e.lookup(unknown); src != SourceNegative {
		t.Fatalf("unknown key: %v, want negative", src)
	}
	e.clock.Advance(time.Second)
	if _, src := e.lookup(unknown); src != SourceRedis {
		t.Fatalf("negative past NegativeTTL: %v, want redis", src)
	}
	if _, src := e.lookup(h); src != SourceCache {
		t.Fatalf("entry within TTL: %v, want cache", src)
	}
	e.clock.Advance(testPolicy.TTL)
	if _, src := e.lookup(h); src != SourceRedis {
		t.Fatalf("entry past TTL: %v, want redis", src)
	}
}

// TestLookupLocal: LookupLocal answers what Lookup answers from the local cache, and
// nothing else; when it cannot answer it counts nothing and asks Redis nothing.
func TestLookupLocal(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{NegativeTTL: time.Second}})
	h, rec := e.putNew()
	unknown := newHash(t)
	local := func(h wire.KeyHash) (Entry, Source, bool) { return e.cache.LookupLocal(h, testPolicy, e.clock.Now()) }
	calls, stats := e.getCalls(), e.cache.Stats()
	for _, k := range []wire.KeyHash{h, unknown} {
		if _, _, ok := local(k); ok {
			t.Fatal("a key never looked up answered locally")
		}
	}
	if e.getCalls() != calls || e.cache.Stats() != stats {
		t.Fatalf("LookupLocal without an answer asked Redis or counted: %d → %d calls, %+v → %+v", calls, e.getCalls(), stats, e.cache.Stats())
	}
	e.lookup(h)
	e.lookup(unknown)
	stats = e.cache.Stats()
	if ent, src, ok := local(h); !ok || src != SourceCache || ent.KeyID() != rec.KeyID {
		t.Fatalf("a cached key: %v %v %q", ok, src, ent.KeyID())
	}
	if ent, src, ok := local(unknown); !ok || src != SourceNegative || ent.Found() {
		t.Fatalf("a cached \"no such key\": %v %v %v", ok, src, ent.Found())
	}
	if after := e.cache.Stats(); after.Hits != stats.Hits+1 || after.NegativeHits != stats.NegativeHits+1 || after.Misses != stats.Misses {
		t.Fatalf("local answers counted %+v, then %+v", stats, after)
	}
	e.clock.Advance(time.Second)
	if _, _, ok := local(unknown); ok {
		t.Fatal("a \"no such key\" past NegativeTTL answered locally")
	}
	e.clock.Advance(testPolicy.TTL)
	if _, _, ok := local(h); ok {
		t.Fatal("an entry past its TTL answered locally")
	}
}

func TestLookupHitDoesNotAllocate(t *testing.T) {
	e := newEnv(t, envOpts{})
	h, _ := e.putNew()
	unknown := newHash(t)
	e.lookup(h)
	e.lookup(unknown)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		h    wire.KeyHash
		want Source
	}{{"positive", h, SourceCache}, {"negative", unknown, SourceNegative}} {
		allocs := testing.AllocsPerRun(1000, func() {
			if _, src, err := e.cache.Lookup(ctx, tc.h, testPolicy); err != nil || src != tc.want {
				t.Fatalf("lookup: %v %v", src, err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s hit: %v allocations per lookup, want 0", tc.name, allocs)
		}
		now := time.Now()
		allocs = testing.AllocsPerRun(1000, func() {
			if _, src, err := e.cache.LookupAt(ctx, tc.h, testPolicy, now); err != nil || src != tc.want {
				t.Fatalf("LookupAt: %v %v", src, err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s hit: %v allocations per LookupAt, want 0", tc.name, allocs)
		}
	}
}

// BenchmarkLookupAtHit is a hit with the caller's clock (one time.Now per request
// in the module instead of two).
func BenchmarkLookupAtHit(b *testing.B) {
	e := newEnv(b, envOpts{})
	e.cache.now = time.Now
	h, _ := e.putNew()
	e.lookup(h)
	ctx := context.Background()
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, src, err := e.cache.LookupAt(ctx, h, testPolicy, now); err != nil || src != SourceCache {
			b.Fatalf("lookup: %v %v", src, err)
		}
	}
}

func BenchmarkLookupHit(b *testing.B) {
	e := newEnv(b, envOpts{})
	e.cache.now = time.Now // the production clock, without the test offset
	h, _ := e.putNew()
	e.lookup(h)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, src, err := e.cache.Lookup(ctx, h, testPolicy); err != nil || src != SourceCache {
			b.Fatalf("lookup: %v %v", src, err)
		}
	}
}

func BenchmarkLookupHitParallel(b *testing.B) {
	e := newEnv(b, envOpts{})
	e.cache.now = time.Now
	hashes := make([]wire.KeyHash, 1024)
	for i := range hashes {
		hashes[i], _ = e.putNew()
		e.lookup(hashes[i])
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, src, err := e.cache.Lookup(ctx, hashes[i&1023], testPolicy); err != nil || src != SourceCache {
				b.Errorf("lookup: %v %v", src, err)
				return
			}
			i++
		}
	})
}

func TestConcurrentMissesShareOneLookup(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{LookupTimeout: waitFor}})
	h, rec := e.putNew()
	release := make(chan struct{})
	e.cache.fetchHook = func() { <-release }
	before := e.getCalls()

	const n = 50
	var wg sync.WaitGroup
	results := make(chan *Entry, n)
	for range n {
		wg.Go(func() {
			ent, _, err := foundOf(e.cache.Lookup(context.Background(), h, testPolicy))
			if err != nil {
				t.Errorf("Lookup: %v", err)
			}
			results <- ent
		})
	}
	// Every caller has joined the flight (the first one is held before Redis).
	eventually(t, "all callers waiting", func() bool { return e.cache.Stats().Misses == n })
	close(release)
	wg.Wait()
	close(results)
	for ent := range results {
		if ent == nil || ent.KeyID() != rec.KeyID {
			t.Fatalf("a caller got %+v", ent)
		}
	}
	if got := e.cache.Stats().Lookups; got != 1 {
		t.Errorf("%d redis lookups for %d concurrent misses, want 1", got, n)
	}
	if got := e.getCalls() - before; got != markerGets+1 { // GET epoch, GET rev, GET record
		t.Errorf("redis ran %d GETs, want %d", got, markerGets+1)
	}
}

func TestReplyRacingAnEventIsNotCached(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{LookupTimeout: waitFor}})
	h, rec := e.putNew()
	// Between Redis answering (active) and the answer being stored, the key is revoked
	// and the follower applies the event.
	e.cache.replyHook = func() {
		e.cache.replyHook = nil
		e.revoke(h, rec)
		e.waitEvents(1)
	}
	ent, src := e.lookup(h)
	if src != SourceRedis || ent == nil || ent.State() != wire.KeyActive {
		t.Fatalf("racing lookup: %v %+v, want the active record it read", src, ent)
	}
	ent, src = e.lookup(h)
	if src != SourceRedis || ent == nil || ent.State() != wire.KeyRevoked {
		t.Fatalf("next lookup: %v %+v, want the tombstone from redis (the raced reply must not be cached)", src, ent)
	}
}

func TestEpochChangeFlushes(t *testing.T) {
	e := newEnv(t, envOpts{})
	h, _ := e.putNew()
	e.lookup(h)
	if _, src := e.lookup(h); src != SourceCache {
		t.Fatalf("cached: %v", src)
	}
	flushes := e.cache.Stats().Flushes
	e.setEpoch("e2")
	other, _ := e.putNew()
	e.lookup(other) // sees the new epoch
	if got := e.cache.Stats().Flushes; got != flushes+1 {
		t.Fatalf("flushes %d → %d, want one more", flushes, got)
	}
	if _, src := e.lookup(h); src != SourceRedis {
		t.Fatalf("after an epoch change: %v, want redis", src)
	}
	if _, src := e.lookup(h); src != SourceCache {
		t.Fatalf("refetched under the new epoch: %v, want cache", src)
	}
}

func TestEmptyRedisIsNeverUnknown(t *testing.T) {
	e := newEnv(t, envOpts{})
	cached, _ := e.putNew()
	negative := newHash(t)
	uncached, _ := e.putNew()
	e.lookup(cached)
	e.lookup(negative)
	e.publish(wire.EventKeys) // the admin has published before
	e.waitEvents(1)
	if err := e.rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	// The follower notices the vanished stream; the cached key then answers stale.
	eventually(t, "cached key answered stale", func() bool {
		_, src, err := e.cache.Lookup(context.Background(), cached, testPolicy)
		return err == nil && src == SourceStale
	})
	for name, h := range map[string]wire.KeyHash{"negative before": negative, "uncached": uncached} {
		ent, src, err := foundOf(e.cache.Lookup(context.Background(), h, testPolicy))
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: %v %v %v, want ErrUnavailable", name, ent, src, err)
		}
	}
	if st := e.cache.Stats(); st.StaleAnswers == 0 {
		t.Errorf("stats: %+v", st)
	}
	// The admin resyncs: everything answers again, from Redis.
	e.setEpoch("e2")
	e.put(uncached, activeRecord())
	if ent, src := e.lookup(uncached); src != SourceRedis || ent == nil {
		t.Fatalf("after resync: %v %v", src, ent)
	}
	if ent, src := e.lookup(negative); src != SourceRedis || ent != nil {
		t.Fatalf("unknown after resync: %v %v", src, ent)
	}
}

func TestSizeBoundsEntries(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{Size: 16}})
	for range 100 {
		h, _ := e.putNew()
		e.lookup(h)
		e.lookup(newHash(t)) // negatives, held apart
	}
	// Two shards of 8, each with room for one negative besides.
	if st := e.cache.Stats(); st.Entries-st.NegativeEntries > 16 || st.Entries-st.NegativeEntries < 8 ||
		st.NegativeEntries < 1 || st.NegativeEntries > 2 {
		t.Fatalf("%d entries, %d of them negative, for Size 16", st.Entries, st.NegativeEntries)
	}
	// The most recent one is still there.
	h, _ := e.putNew()
	e.lookup(h)
	if _, src := e.lookup(h); src != SourceCache {
		t.Fatalf("most recent entry: %v", src)
	}
}

// TestRecordAnswersWithoutEpoch: while Redis has no epoch (restarted empty, admin not yet
// resynced), a record the admin has already written again answers, and a tombstone refuses
// a key the cache still holds as live; only a missing record means "cannot tell".
func TestRecordAnswersWithoutEpoch(t *testing.T) {
	e := newEnv(t, envOpts{})
	revoked, rec := e.putNew()
	rewritten, rec2 := e.putNew()
	missing, _ := e.putNew()
	for _, h := range []wire.KeyHash{revoked, rewritten, missing} {
		e.lookup(h)
	}
	e.publish(wire.EventKeys) // the admin has published before
	e.waitEvents(1)
	if err := e.rdb.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	// The admin, before its resync, revokes one key (tombstone, then its event in the
	// new stream, which the follower sees as a replaced stream and skips) and rewrites
	// another.
	tomb := rec
	tomb.State = wire.KeyRevoked
	tomb.Rev = rec.Rev + 1
	e.put(revoked, tomb)
	e.put(rewritten, rec2)
	e.publish(wire.EventKeys, revoked)
	eventually(t, "the tombstone refuses the revoked key", func() bool {
		ent, _, err := foundOf(e.cache.Lookup(context.Background(), revoked, testPolicy))
		return err == nil && ent != nil && !ent.Live(time.Now())
	})
	if ent, src, err := foundOf(e.cache.Lookup(context.Background(), rewritten, testPolicy)); err != nil || ent == nil || !ent.Live(time.Now()) || src == SourceStale {
		t.Fatalf("rewritten record: %v %v %v, want it live from Redis or cache", ent, src, err)
	}
	if ent, src, err := foundOf(e.cache.Lookup(context.Background(), missing, testPolicy)); err != nil || src != SourceStale || ent == nil {
		t.Fatalf("missing record without epoch: %v %v %v, want a stale answer", ent, src, err)
	}
}

// TestClosedCacheAnswersUnavailable: Close releases the slab, so a request still in
// flight on a handler being replaced must get ErrUnavailable (503), never a crash,
// and an entry it holds must stay readable.
func TestClosedCacheAnswersUnavailable(t *testing.T) {
	e := newEnv(t, envOpts{})
	h, rec := e.putNew()
	ent, _ := e.lookup(h)
	if ent == nil {
		t.Fatal("key not found")
	}
	if err := e.cache.Close(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.cache.Lookup(context.Background(), h, testPolicy); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("lookup after Close: %v, want ErrUnavailable", err)
	}
	e.cache.RecordUse(ent, time.Now()) // no panic, no report
	e.cache.drop([]wire.KeyHash{h}, nil, 2)
	if ent.KeyID() != rec.KeyID || ent.ServiceAccount() != rec.SA {
		t.Fatalf("an entry taken before Close changed: %+v", ent.Record())
	}
	if st := e.cache.Stats(); st.Entries != 1 {
		t.Fatalf("Stats after Close: %d entries", st.Entries)
	}
}

// TestReplyAfterCloseIsNotCached: Close does not wait for a miss's flight; a reply that
// arrives after it must answer its request without touching the released slab.
func TestReplyAfterCloseIsNotCached(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{LookupTimeout: waitFor}})
	cached, _ := e.putNew()
	e.lookup(cached)
	// h differs from the cached key's hash in its last byte only: same shard, same
	// first probe, so storing its reply would read the cached key's slot.
	h, rec := cached, activeRecord()
	h[len(h)-1] ^= 1
	e.put(h, rec)
	held, release := e.holdFlights()
	var wg sync.WaitGroup
	out := make(chan result, 1)
	e.lookupAsync(&wg, out, h)
	eventually(t, "lookup in flight", func() bool { return held.Load() == 1 })
	if err := e.cache.Close(); err != nil {
		t.Fatal(err)
	}
	close(release)
	wg.Wait()
	r := <-out
	if r.err != nil || r.e == nil || r.e.KeyID() != rec.KeyID {
		t.Fatalf("the reply after Close: %+v %v, want the record", r.e, r.err)
	}
	if _, _, err := e.cache.Lookup(context.Background(), cached, testPolicy); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("lookup after Close: %v, want ErrUnavailable", err)
	}
}
