package caddymodule

import (
	"context"
	"net/http"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"

	"github.com/sagate/sagate/keystore/wire"
)

// maxHitAllocs is the budget of a cache hit through ServeHTTP (header parse,
// checksum, SHA-256, lookup, header injection, placeholders): the identity the
// request carries and the placeholders' own copy of it.
const maxHitAllocs = 2

// hitFixture is a handler with a warm, Redis-backed cache and requests that carry a
// live key, prepared in batches outside the measured code (Caddy's server makes a
// fresh request and replacer for each request; they are not ours to count).
type hitFixture struct {
	h    *Handler
	key  string
	w    http.ResponseWriter
	next caddyhttp.Handler
}

func newHitFixture(tb testing.TB) *hitFixture { return newLimitedHitFixture(tb, wire.RateLimit{}) }

// newLimitedHitFixture is newHitFixture for an account with the rate limit lim.
func newLimitedHitFixture(tb testing.TB, lim wire.RateLimit) *hitFixture {
	s := newStore(tb)
	a := s.newAccount("bench", "ml-team", nil)
	if lim.Limited() {
		a.rec.SAID += uniqueSuffix()
		a.rec.RPS, a.rec.Burst = lim.RPS, lim.Burst
		s.put(a)
	}
	f := &hitFixture{h: newHandler(tb, s, Handler{}), key: a.key, w: discardWriter{}, next: noopHandler{}}
	// Warm up until the answer comes from the fresh local cache (the events
	// follower must have caught up first).
	waitUntil(tb, "a cache hit", func() bool {
		before := f.h.cache.Stats().Hits
		if err := f.h.ServeHTTP(f.w, f.request(), f.next); err != nil {
			tb.Fatal(err)
		}
		e, _, err := f.h.cache.LookupAt(context.Background(), wire.HashKey(a.key), f.h.policy, time.Now())
		return f.h.cache.Stats().Hits > before && err == nil && e.Limit() == lim
	})
	return f
}

// request is a request as Caddy's server hands it to a handler.
func (f *hitFixture) request() *http.Request {
	return newRequest(f.key, "Accept", "application/json", "User-Agent", "bench/1", "Connection", "keep-alive")
}

func (f *hitFixture) batch(n int) []*http.Request {
	rs := make([]*http.Request, n)
	for i := range rs {
		rs[i] = f.request()
	}
	return rs
}

type noopHandler struct{}

func (noopHandler) ServeHTTP(http.ResponseWriter, *http.Request) error { return nil }

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}

// BenchmarkServeHTTPHit measures a cache hit end to end through ServeHTTP.
// Run with -benchmem; the budget is ≤ 1 µs and ≤ 3 allocs/op.
func BenchmarkServeHTTPHit(b *testing.B) {
	benchHits(b, newHitFixture(b))
}

// BenchmarkServeHTTPHitLimited is BenchmarkServeHTTPHit for an account with a rate
// limit it stays under: the cost of the limit on requests that pass.
func BenchmarkServeHTTPHitLimited(b *testing.B) {
	benchHits(b, newLimitedHitFixture(b, wire.RateLimit{RPS: 1e6, Burst: 1e6}))
}

// BenchmarkServeHTTPRateLimited is a cache hit refused by the account's rate limit
// (429, Retry-After).
func BenchmarkServeHTTPRateLimited(b *testing.B) {
	benchHits(b, newLimitedHitFixture(b, wire.RateLimit{RPS: 0.001, Burst: 1}))
}

// benchHits runs f's requests through ServeHTTP, b.N of them. Besides ns/op (wall
// clock), it reports cpu-ns/op: the process' CPU time (user+system, every thread)
// over the measured loops only, which a machine shared with other work inflates far
// less than the wall clock.
func benchHits(b *testing.B, f *hitFixture) {
	const batch = 256 // small enough to stay in cache, as a request just parsed by net/http is
	b.ReportAllocs()
	b.ResetTimer()
	var cpu time.Duration
	for done := 0; done < b.N; {
		b.StopTimer()
		reqs := f.batch(min(batch, b.N-done))
		runtime.GC() // collect the setup's garbage outside the measured code
		c0 := processCPU(b)
		b.StartTimer()
		for _, r := range reqs {
			if err := f.h.ServeHTTP(f.w, r, f.next); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		cpu += processCPU(b) - c0
		b.StartTimer()
		done += len(reqs)
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// processCPU returns the CPU time the process has used (user+system).
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestServeHTTPHitAllocs(t *testing.T) {
	t.Run("Unlimited", func(t *testing.T) { testHitAllocs(t, newHitFixture(t)) })
	// The limit adds no allocation to the requests that pass it.
	t.Run("Limited", func(t *testing.T) { testHitAllocs(t, newLimitedHitFixture(t, wire.RateLimit{RPS: 1e6, Burst: 1e6})) })
}

func testHitAllocs(t *testing.T, f *hitFixture) {
	const runs = 200
	reqs := f.batch(runs + 1) // AllocsPerRun calls once more to warm up
	before := f.h.cache.Stats().Hits
	i := 0
	allocs := testing.AllocsPerRun(runs, func() {
		if err := f.h.ServeHTTP(f.w, reqs[i], f.next); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if hits := f.h.cache.Stats().Hits - before; hits != runs+1 {
		t.Fatalf("%d of %d requests were cache hits: the measurement is not of the hit path", hits, runs+1)
	}
	if allocs > maxHitAllocs {
		t.Fatalf("a cache hit allocates %.1f times, budget %d", allocs, maxHitAllocs)
	}
	t.Logf("a cache hit allocates %.1f times", allocs)
	// The request went through: identity set, key dropped.
	if r := reqs[runs]; r.Header.Get("X-Service-Account") != "bench@ml-team" || r.Header.Get("Authorization") != "" {
		t.Fatalf("headers after ServeHTTP: %v", r.Header)
	}
}
