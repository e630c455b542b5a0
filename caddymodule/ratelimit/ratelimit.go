// Package ratelimit holds the sidecar's request rate limits per service account: one
// bucket per account in memory, shared by all the account's keys, with no Redis round
// trip. It needs nothing of Caddy.
//
// Each bucket follows the generic cell rate algorithm, a token bucket kept as one
// number: the time at which the bucket will be full again (tat). A request at time t
// passes when tat − t ≤ (burst − 1) / rps, and moves tat to max(tat, t) + 1/rps. So
// an idle account may send burst requests at once, then rps per second. The check is
// one atomic compare-and-swap under a shared lock: it allocates nothing once the
// account's bucket exists, and requests of different accounts do not contend.
//
// Memory is bounded: a bucket whose tat has passed is full, the same as no bucket,
// and is dropped when its shard grows (a sweep every time a shard doubles). Only when
// more than MaxBuckets accounts are refilling at once do some buckets that are not full
// give way, chosen at random: their accounts start again with a full bucket.
//
// A limit is per Limiter, which is per process: N processes let an account through at
// up to N × rps in total.
package ratelimit

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sagate/sagate/keystore/wire"
)

// MaxBuckets bounds the buckets of one Limiter (about 100 bytes each).
const MaxBuckets = 1 << 16

// Sharding: requests of accounts in different shards never share a lock.
const (
	numShards = 64
	// minSweep is the size a shard may reach before its first sweep.
	minSweep = 64
)

// Limiter holds the buckets of every limited account, by account id. Its methods are
// safe for concurrent use. The zero Limiter is not usable; see New.
type Limiter struct {
	epoch  time.Time // times are kept as nanoseconds since epoch, on the monotonic clock
	seed   maphash.Seed
	shards [numShards]shard
}

// shard is one part of the buckets, under its own lock.
type shard struct {
	mu      sync.RWMutex
	m       map[string]*bucket
	sweepAt int      // len(m) at which the next insertion sweeps
	_       [64]byte // keeps neighbouring shards' locks off one cache line
}

// bucket is one account's bucket. Only tat changes; a new limit makes a new bucket.
type bucket struct {
	tat       atomic.Int64 // when the bucket is full again, in ns since the epoch
	interval  int64        // ns between requests at the rate: 1e9 / rps
	tolerance int64        // how far tat may run ahead of now: interval × (burst − 1)
	limit     wire.RateLimit
}

// New returns an empty Limiter.
func New() *Limiter {
	l := &Limiter{epoch: time.Now(), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = make(map[string]*bucket)
		l.shards[i].sweepAt = minSweep
	}
	return l
}

// Allow takes one request from the bucket of account id, whose limit is lim, at now.
// It reports whether the request passes and, when it does not, how long until it
// would. An unlimited lim (lim.Limited false) always passes and keeps no bucket. A
// limit that differs from the one the account's bucket was made with (the account's
// limit changed) replaces the bucket with a full one: the new limit starts afresh. The
// admin rewrites the records of all an account's keys in one change (one event per
// thousand keys), so a sidecar sees the old and the new limit side by side only while
// it applies those events.
//
// now must come from time.Now (with its monotonic reading), as every other call's.
func (l *Limiter) Allow(id string, lim wire.RateLimit, now time.Time) (ok bool, retryAfter time.Duration) {
	if !lim.Limited() {
		return true, 0
	}
	t := int64(now.Sub(l.epoch))
	sh := &l.shards[maphash.String(l.seed, id)%numShards]
	sh.mu.RLock()
	b := sh.m[id]
	sh.mu.RUnlock()
	if b == nil || b.limit != lim {
		b = sh.put(id, lim, t)
	}
	for {
		tat := b.tat.Load()
		if wait := tat - t - b.tolerance; wait > 0 {
			return false, time.Duration(wait)
		}
		if b.tat.CompareAndSwap(tat, max(tat, t)+b.interval) {
			return true, 0
		}
	}
}

// Len returns the number of buckets held.
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// newBucket returns an empty (full) bucket for lim, which must be Limited.
func newBucket(lim wire.RateLimit) *bucket {
	interval := max(int64(float64(time.Second)/lim.RPS), 1)
	burst := max(lim.Burst, 1)
	return &bucket{interval: interval, tolerance: interval * (burst - 1), limit: lim}
}

// put returns the bucket of id for lim at t, making a full one if it is missing or
// was made for another limit.
func (sh *shard) put(id string, lim wire.RateLimit, t int64) *bucket {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	old := sh.m[id]
	if old != nil && old.limit == lim {
		return old
	}
	if old == nil && len(sh.m) >= sh.sweepAt {
		sh.sweep(t)
	}
	b := newBucket(lim)
	sh.m[id] = b
	return b
}

// sweep drops the full buckets (tat passed: the same as none) and, at the shard's
// share of MaxBuckets, an eighth of the others, chosen at random. The caller holds sh.mu.
func (sh *shard) sweep(t int64) {
	for id, b := range sh.m {
		if b.tat.Load() <= t {
			delete(sh.m, id)
		}
	}
	if full := MaxBuckets / numShards; len(sh.m) >= full {
		for id := range sh.m { // in Go's random order
			if len(sh.m) <= full*7/8 {
				break
			}
			delete(sh.m, id)
		}
	}
	sh.sweepAt = min(max(minSweep, 2*len(sh.m)), MaxBuckets/numShards)
}
