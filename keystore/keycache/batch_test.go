package keycache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore/wire"
)

// lookupsPending returns the pipelines in flight and the hashes queued or in flight.
func (c *Cache) lookupsPending() (flights, hashes int) {
	c.bmu.Lock()
	defer c.bmu.Unlock()
	return c.flights, len(c.calls)
}

// holdFlights makes every flight wait for release before it sends, and counts them.
func (e *env) holdFlights() (held *atomic.Int64, release chan struct{}) {
	held, release = new(atomic.Int64), make(chan struct{})
	e.cache.fetchHook = func() {
		held.Add(1)
		<-release
	}
	return held, release
}

// lookupAsync runs Lookup for h on a goroutine of wg and sends its result.
type result struct {
	h   wire.KeyHash
	e   *Entry
	src Source
	err error
}

func (e *env) lookupAsync(wg *sync.WaitGroup, out chan<- result, h wire.KeyHash) {
	wg.Go(func() {
		ent, src, err := foundOf(e.cache.Lookup(context.Background(), h, testPolicy))
		out <- result{h, ent, src, err}
	})
}

func TestMissesForDifferentHashesShareRoundTrips(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{LookupTimeout: waitFor}})
	held, release := e.holdFlights()
	before := e.getCalls()

	const queued = 50
	records := make(map[wire.KeyHash]string) // hash → key id; "" for no such key
	var hashes []wire.KeyHash
	for i := range maxFlights + queued {
		if i%5 == 4 {
			h := newHash(t)
			records[h] = ""
			hashes = append(hashes, h)
			continue
		}
		h, rec := e.putNew()
		records[h] = rec.KeyID
		hashes = append(hashes, h)
	}
	var wg sync.WaitGroup
	out := make(chan result, len(hashes))
	// The first misses take every flight, which wait before sending.
	for _, h := range hashes[:maxFlights] {
		e.lookupAsync(&wg, out, h)
	}
	eventually(t, "every flight taken", func() bool { return held.Load() == maxFlights })
	// The next ones queue, and leave together once a flight is back.
	for _, h := range hashes[maxFlights:] {
		e.lookupAsync(&wg, out, h)
	}
	eventually(t, "misses queued", func() bool {
		_, pending := e.cache.lookupsPending()
		return pending == len(hashes)
	})
	close(release)
	wg.Wait()
	close(out)
	for r := range out {
		if r.err != nil || r.src != SourceRedis {
			t.Fatalf("lookup: %v %v", r.src, r.err)
		}
		want := records[r.h]
		if (want == "") != (r.e == nil) || (r.e != nil && r.e.KeyID() != want) {
			t.Fatalf("lookup got %+v, want key id %q", r.e, want)
		}
	}
	if got := e.cache.Stats().Lookups; got != maxFlights+1 {
		t.Errorf("%d round trips, want %d (one per flight, then one for the queued)", got, maxFlights+1)
	}
	// The markers' GETs per pipeline, one GET per hash.
	if got, want := e.getCalls()-before, markerGets*(maxFlights+1)+len(hashes); got != want {
		t.Errorf("redis ran %d GETs, want %d", got, want)
	}
	for _, h := range hashes {
		if _, src := e.lookup(h); src != SourceCache && src != SourceNegative {
			t.Fatalf("after the batch: %v, want every answer cached", src)
		}
	}
}

func TestQueuedLookupsNobodyWaitsForAreNotSent(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{LookupTimeout: 20 * time.Millisecond}})
	held, release := e.holdFlights()
	var wg sync.WaitGroup
	out := make(chan result, maxFlights+10)
	for range maxFlights {
		e.lookupAsync(&wg, out, newHash(t))
	}
	eventually(t, "every flight taken", func() bool { return held.Load() == maxFlights })
	for range 10 {
		e.lookupAsync(&wg, out, newHash(t))
	}
	wg.Wait() // every caller gave up
	close(out)
	for r := range out {
		if !errors.Is(r.err, ErrUnavailable) {
			t.Fatalf("lookup behind held flights: %v %v, want ErrUnavailable", r.src, r.err)
		}
	}
	close(release)
	eventually(t, "flights landed", func() bool {
		flights, pending := e.cache.lookupsPending()
		return flights == 0 && pending == 0
	})
	if got := e.cache.Stats().Lookups; got != maxFlights {
		t.Errorf("%d round trips, want %d: the expired queue must not be sent", got, maxFlights)
	}
}

func TestTooManyPendingMissesFailFast(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{LookupTimeout: waitFor}})
	_, release := e.holdFlights()
	defer close(release)
	e.cache.bmu.Lock()
	for len(e.cache.calls) < maxPending {
		h := newHash(t)
		e.cache.calls[h] = &call{h: h, done: make(chan struct{})}
	}
	e.cache.bmu.Unlock()
	ent, _, err := foundOf(e.cache.Lookup(context.Background(), newHash(t), testPolicy))
	if !errors.Is(err, ErrUnavailable) || ent != nil {
		t.Fatalf("miss beyond maxPending: %v %v, want ErrUnavailable at once", ent, err)
	}
	if got := e.cache.Stats().Lookups; got != 0 {
		t.Errorf("%d round trips for a refused miss", got)
	}
}

func TestMissAfterAnEventDoesNotJoinAnOlderLookup(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{LookupTimeout: waitFor}})
	h, rec := e.putNew()
	held, release := e.holdFlights()
	var wg sync.WaitGroup
	out := make(chan result, 2)
	e.lookupAsync(&wg, out, h)
	eventually(t, "first lookup in flight", func() bool { return held.Load() == 1 })
	// The key is revoked while the first lookup is in the air; a miss after the event
	// was applied must ask Redis again rather than share the older reply.
	e.revoke(h, rec)
	e.waitEvents(1)
	e.lookupAsync(&wg, out, h)
	// With one flight in the air, the new lookup waits in the queue for the next.
	eventually(t, "second lookup queued", func() bool {
		e.cache.bmu.Lock()
		defer e.cache.bmu.Unlock()
		return len(e.cache.queue) == 1
	})
	close(release)
	wg.Wait()
	close(out)
	for r := range out {
		if r.err != nil || r.e == nil {
			t.Fatalf("lookup: %v %v", r.e, r.err)
		}
	}
	if got := e.cache.Stats().Lookups; got != 2 {
		t.Errorf("%d round trips, want 2", got)
	}
	if ent, _ := e.lookup(h); ent == nil || ent.State() != wire.KeyRevoked {
		t.Fatalf("after the event: %+v, want the tombstone", ent)
	}
}

func TestLookupAtTakesTheCallersClock(t *testing.T) {
	e := newEnv(t, envOpts{})
	h, _ := e.putNew()
	ctx := context.Background()
	now := time.Now()
	if _, src, err := e.cache.LookupAt(ctx, h, testPolicy, now); err != nil || src != SourceRedis {
		t.Fatalf("first lookup: %v %v", src, err)
	}
	if _, src, err := e.cache.LookupAt(ctx, h, testPolicy, now.Add(testPolicy.TTL/2)); err != nil || src != SourceCache {
		t.Fatalf("within TTL: %v %v, want cache", src, err)
	}
	// Past the TTL by the caller's clock (the cache's own has not moved): refetched.
	if _, src, err := e.cache.LookupAt(ctx, h, testPolicy, now.Add(2*testPolicy.TTL)); err != nil || src != SourceRedis {
		t.Fatalf("past TTL: %v %v, want redis", src, err)
	}
}

func TestRedisKeyMatchesKeystore(t *testing.T) {
	for _, h := range []wire.KeyHash{{}, newHash(t), newHash(t)} {
		if got, want := redisKey(h), wire.RedisKey(h); got != want {
			t.Fatalf("redisKey = %q, want %q", got, want)
		}
	}
	h := newHash(t)
	if allocs := testing.AllocsPerRun(100, func() { _ = redisKey(h) }); allocs != 1 {
		t.Errorf("redisKey: %v allocations, want 1", allocs)
	}
}
