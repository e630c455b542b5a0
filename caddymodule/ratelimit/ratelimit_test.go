package ratelimit

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore/wire"
)

// at returns the time d after l's epoch.
func (l *Limiter) at(d time.Duration) time.Time { return l.epoch.Add(d) }

func TestBurstThenRate(t *testing.T) {
	l := New()
	lim := wire.RateLimit{RPS: 2, Burst: 3}
	for i := range 3 {
		if ok, _ := l.Allow("sa_a", lim, l.at(time.Second)); !ok {
			t.Fatalf("request %d of a burst of 3 refused", i+1)
		}
	}
	ok, wait := l.Allow("sa_a", lim, l.at(time.Second))
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("fourth request at once = %v, retry after %v; want refused, 500ms", ok, wait)
	}
	if ok, wait := l.Allow("sa_a", lim, l.at(time.Second+499*time.Millisecond)); ok || wait != time.Millisecond {
		t.Fatalf("1ms early = %v, %v", ok, wait)
	}
	if ok, _ := l.Allow("sa_a", lim, l.at(1500*time.Millisecond)); !ok {
		t.Fatal("refused once the rate gave one more")
	}
	if ok, _ := l.Allow("sa_a", lim, l.at(1500*time.Millisecond)); ok {
		t.Fatal("passed twice on one token")
	}
	// Another account has its own bucket; an unlimited one none.
	if ok, _ := l.Allow("sa_b", lim, l.at(1500*time.Millisecond)); !ok {
		t.Fatal("another account shares the bucket")
	}
	for range 100 {
		if ok, _ := l.Allow("sa_c", wire.RateLimit{}, l.at(time.Second)); !ok {
			t.Fatal("an unlimited account refused")
		}
	}
	if n := l.Len(); n != 2 {
		t.Errorf("%d buckets, want 2 (none for the unlimited account)", n)
	}
	// After idling burst/rps, the whole burst is back.
	for i := range 3 {
		if ok, _ := l.Allow("sa_a", lim, l.at(10*time.Second)); !ok {
			t.Fatalf("request %d after idling refused", i+1)
		}
	}
}

func TestFractionalRate(t *testing.T) {
	l := New()
	lim := wire.RateLimit{RPS: 0.25, Burst: 1} // one request per 4 s
	if ok, _ := l.Allow("sa", lim, l.at(0)); !ok {
		t.Fatal("first refused")
	}
	if ok, wait := l.Allow("sa", lim, l.at(time.Second)); ok || wait != 3*time.Second {
		t.Fatalf("second after 1s = %v, %v; want refused for 3s", ok, wait)
	}
	if ok, _ := l.Allow("sa", lim, l.at(4*time.Second)); !ok {
		t.Fatal("refused after 4s")
	}
}

// TestLimitChange: a new limit replaces the bucket with a full one.
func TestLimitChange(t *testing.T) {
	l := New()
	slow := wire.RateLimit{RPS: 1, Burst: 2}
	for range 2 {
		l.Allow("sa", slow, l.at(0))
	}
	if ok, _ := l.Allow("sa", slow, l.at(0)); ok {
		t.Fatal("burst of 2 let 3 through")
	}
	fast := wire.RateLimit{RPS: 100, Burst: 5}
	for i := range 5 {
		if ok, _ := l.Allow("sa", fast, l.at(0)); !ok {
			t.Fatalf("request %d under the new limit refused", i+1)
		}
	}
	if ok, wait := l.Allow("sa", fast, l.at(0)); ok || wait != 10*time.Millisecond {
		t.Fatalf("over the new limit = %v, %v; want refused for 10ms", ok, wait)
	}
}

// TestConcurrentRequestsShareOneBucket: at one instant, however many goroutines ask,
// exactly burst requests pass.
func TestConcurrentRequestsShareOneBucket(t *testing.T) {
	l := New()
	lim := wire.RateLimit{RPS: 1, Burst: 50}
	now := l.at(time.Minute)
	var passed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				if ok, _ := l.Allow("sa_shared", lim, now); ok {
					passed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := passed.Load(); got != 50 {
		t.Fatalf("%d of 800 concurrent requests passed, want the burst, 50", got)
	}
}

// TestIdleBucketsAreDropped: full buckets go when a shard grows, and the number of
// buckets never passes MaxBuckets.
func TestIdleBucketsAreDropped(t *testing.T) {
	l := New()
	lim := wire.RateLimit{RPS: 10, Burst: 1}
	for i := range 5000 {
		l.Allow(fmt.Sprint("sa_", i), lim, l.at(0))
	}
	if n := l.Len(); n != 5000 {
		t.Fatalf("%d buckets of accounts still refilling, want 5000", n)
	}
	// A second later every bucket is full: new accounts sweep them away.
	for i := range 5000 {
		l.Allow(fmt.Sprint("new_", i), lim, l.at(time.Second))
	}
	if n := l.Len(); n >= 10000 || n < 5000 {
		t.Fatalf("%d buckets after the first 5000 became full, want them mostly dropped", n)
	}
	for i := range 2 * MaxBuckets {
		l.Allow(fmt.Sprint("many_", i), lim, l.at(2*time.Second))
	}
	if n := l.Len(); n > MaxBuckets {
		t.Fatalf("%d buckets, more than MaxBuckets (%d)", n, MaxBuckets)
	}
}

func TestAllowDoesNotAllocate(t *testing.T) {
	l := New()
	lim := wire.RateLimit{RPS: 1e6, Burst: 1000}
	id := "sa_0123456789abcdefghij"
	now := time.Now()
	l.Allow(id, lim, now)
	if n := testing.AllocsPerRun(1000, func() { l.Allow(id, lim, now) }); n != 0 {
		t.Errorf("Allow: %v allocations per call, want 0", n)
	}
}

// BenchmarkAllow: one account, requests from every core (the contended case), and
// many accounts.
func BenchmarkAllow(b *testing.B) {
	lim := wire.RateLimit{RPS: 1e6, Burst: 1000000}
	b.Run("OneAccount", func(b *testing.B) {
		l := New()
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Allow("sa_0123456789abcdefghij", lim, time.Now())
			}
		})
	})
	b.Run("ManyAccounts", func(b *testing.B) {
		l := New()
		ids := make([]string, 1024)
		for i := range ids {
			ids[i] = fmt.Sprintf("sa_%020d", i)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				l.Allow(ids[i%len(ids)], lim, time.Now())
				i++
			}
		})
	})
}
