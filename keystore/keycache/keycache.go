// Package keycache is the sidecar's side of the Redis sync: it answers "which live key
// has this hash?" from a bounded local cache, from Redis in one round trip on a miss,
// and keeps the cache honest by following the admin's events stream.
//
// # Freshness
//
// A cached entry answers on its own (SourceCache) only while the cache can prove it saw
// every event since the entry was fetched: the entry was fetched under the current
// generation, the events follower is connected and caught up, and the entry is younger
// than the site's TTL. Every event that could have been missed (a gap in the events'
// seq, a replaced or vanished stream, a resync event, a changed epoch) bumps the
// generation: older entries stay only as a stale fallback, used while Redis cannot
// answer and bounded by the site's StaleIfError. An event naming a key drops its entry
// outright, so a revoked key is never answered, not even as stale; when the event flags
// the key as gone (keystore.Event.Gone: a tombstone was sent for it) the entry stays
// instead, turned into a refusal, so that the next request with it is refused without
// a round trip to Redis.
//
// # Trust
//
// Redis is a cache of the admin's store, not an authority: the cache answers only
// from what the admin signed (keystore/sign.go), checked against Config.Verifier.
// A record, epoch or revision marker that does not verify is never answered from nor
// cached: the lookup cannot tell (a stale entry or ErrUnavailable, so 503, never 200
// nor 401), and the refusal is counted (Stats.SignatureFailures) and logged,
// rate-limited, without the value. An event that does not verify flushes the cache.
// Verification happens on the miss path only, and once per record version: a verdict
// table keeps sha256(redis key ‖ value) of records that verified (verdict.go), and
// the markers are verified again only when they change. A cache hit verifies nothing.
//
// It never goes back: the cache keeps the highest store revision it has seen
// verified (in sagate:rev, which every miss reads, and in events); a reply whose
// marker is missing or lower comes from a Redis older than what it saw (restarted
// from an older snapshot, a lagging replica promoted, a restored backup) and nothing
// in it is answered or cached until the admin has repaired Redis. A writer to Redis
// other than the admin can delete or replay what the admin wrote, and make lookups
// fail, but never mint a key, a role or a refusal.
//
// # Redis
//
// A miss costs a share of one pipelined round trip, GET sagate:epoch + GET sagate:rev
// + GET sagate:key:<hex> for every hash missed meanwhile, bounded by LookupTimeout: the first
// miss leaves at once, those arriving while a pipeline is in flight leave together
// with the next (batch.go). Concurrent misses for one hash share one lookup, one
// pipeline is in flight at a time and at most 1024 hashes wait (a miss beyond that is answered
// as if Redis were down), so a slow Redis cannot pile up goroutines or connections
// even when the client does not honour context deadlines (go-redis only does with
// Options.ContextTimeoutEnabled, which is recommended; the caller waits at most
// LookupTimeout either way). A missing epoch means Redis is empty or not yet resynced
// by the admin: "cannot tell", never "no such key". So does a missing record while
// Redis may evict keys (maxmemory with a policy other than noeviction, checked at
// Start and every 10s: evict.go): the record may have been evicted while the epoch
// stayed, and no "no such key" is cached or used meanwhile.
//
// The events follower reads sagate:events with XREAD BLOCK on a connection of its own,
// taken from a *redis.Client with Conn (for other clients, a connection of the shared
// pool for the length of each BLOCK). That is one connection of the main pool (10 per
// CPU by default); lookups run as pipelines, which go-redis serves from its separate
// pipeline pool, so a blocked XREAD never starves them. Close ends a blocked XREAD at
// once with CLIENT UNBLOCK. A dead link is noticed when XREAD fails: at once for a
// closed or reset connection; for a silent partition, 1s after the 2s BLOCK with
// ContextTimeoutEnabled, else after go-redis' own 10s margin. Until then the follower
// cannot know it is missing events.
//
// # Races
//
// A lookup whose reply may predate an event it raced is not cached (see Cache.store):
// each shard counts the events that touched it, and a lookup notes the count before its
// request leaves. Redis runs commands in order and the admin publishes an event only
// after writing its records, so a reply that left Redis after an event was applied is
// current, and one that left before is followed by the event, which drops it.
//
// # Memory
//
// A cached key is one 112-byte slot (its hash, key id, state, expiry, times and LRU
// links) in a slab outside the Go heap, and a 4-byte cell of its shard's open-addressing
// index: the garbage collector neither scans nor counts the slots, so a full cache of
// 100,000 keys costs about 11 MB, not twice that plus per-object overhead (slab.go).
// "No such key" answers take slots of the same slab but a list and a bound of their
// own (at most Size/8 besides Size: see negativeShare in lru.go): a flood of made-up
// keys, which pass the public checksum, evicts only other unknown keys, never a
// verified one that may have to answer stale while Redis is out.
// What the keys of one service account share (its id, name, workspace and roles) is
// interned once per cache on the heap; each shard holds a small record of it, counted
// by the shard's slots, so it leaves with the last of them. A lookup copies what it answers out of the slot into an Entry
// value, under the shard's lock: nothing outside the lock points into the slab.
//
// Use reports (RecordUse) are coalesced per key and written off the hot path as
// HSET sagate:lastused <key_id> <unix ms>, in pipelined batches about once a second.
package keycache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore"
)

// ErrUnavailable means Redis could not answer (down, slow, or not yet synced by the
// admin: epoch missing) and nothing usable was cached. The sidecar answers 503.
// Errors returned by Lookup wrap it: test with errors.Is.
var ErrUnavailable = errors.New("key store unavailable")

// Defaults for zero Config and Policy fields.
const (
	DefaultSize          = 10000
	DefaultNegativeTTL   = 2 * time.Second
	DefaultLookupTimeout = 100 * time.Millisecond
	DefaultUsageInterval = time.Minute
	// DefaultTTL is used for a Policy whose TTL is zero (DESIGN.md: cache_ttl 5m).
	DefaultTTL = 5 * time.Minute
)

// Tuning that is not configuration.
const (
	// eventsBlock is how long one XREAD waits for events before the follower checks
	// that the stream is still the one it follows.
	eventsBlock = 2 * time.Second
	// eventsBatch is the most events one XREAD returns.
	eventsBatch = 512
	// usageQueue bounds the use reports waiting for the flusher.
	usageQueue = 4096
	// usageFlushEvery is how often pending use reports are written.
	usageFlushEvery = time.Second
	// usageBatch is the most fields written by one HSET.
	usageBatch = 512
	// closeFlushTimeout bounds the final use report write on Close.
	closeFlushTimeout = 2 * time.Second
)

// Config configures a Cache. Zero values take the defaults given.
type Config struct {
	// Verifier holds the public keys of the admin's signing key. Required: every
	// record, marker and event read from Redis must verify against it, and without
	// one nothing does (every miss answers ErrUnavailable, every event flushes).
	Verifier *keystore.Verifier
	// Size bounds the number of cached keys (records: live keys and refusals).
	// "No such key" answers are held apart, in at most Size/8 more entries, so that
	// unknown keys never evict a known one (lru.go, negativeShare). Default: 10000.
	Size int
	// NegativeTTL is how long "no such key" is remembered. Default: 2s.
	NegativeTTL time.Duration
	// LookupTimeout bounds one Redis lookup. Default: 100ms.
	LookupTimeout time.Duration
	// UsageInterval: a key's use is reported at most once per interval. Default: 1m.
	UsageInterval time.Duration
	// Logger; nil: zap.NewNop(). Never given a key or a hash.
	Logger *zap.Logger
	// EventLag, if set, is called by the events follower for every key change it
	// applies, with the time from the event's entry in Redis (the millisecond clock of
	// its stream id, which Redis assigns) to the moment the cache dropped the keys:
	// how long a revocation took to reach this sidecar, give or take clock skew
	// between the hosts and the id's millisecond resolution. Never negative.
	EventLag func(time.Duration)
}

// withDefaults returns cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	if cfg.Size <= 0 {
		cfg.Size = DefaultSize
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = DefaultNegativeTTL
	}
	if cfg.LookupTimeout <= 0 {
		cfg.LookupTimeout = DefaultLookupTimeout
	}
	if cfg.UsageInterval <= 0 {
		cfg.UsageInterval = DefaultUsageInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	if cfg.Verifier == nil {
		cfg.Verifier = keystore.NewVerifier() // trusts no key: refuses everything
	}
	return cfg
}

// Policy is a site's freshness policy, given on each lookup (sites that share a Cache may differ).
type Policy struct {
	// TTL: a cached entry is fresh for at most this long after Redis confirmed it. Zero: DefaultTTL.
	TTL time.Duration
	// StaleIfError: how long past its freshness an entry may still answer while Redis cannot.
	// Zero: never answer stale.
	StaleIfError time.Duration
}

// Source tells where an answer came from.
type Source uint8

// Sources of an answer.
const (
	SourceCache    Source = iota // a fresh local entry
	SourceRedis                  // a Redis lookup
	SourceStale                  // a stale entry, used because Redis could not answer
	SourceNegative               // a cached "no such key"
)

// String names the source, for logs and metric labels.
func (s Source) String() string {
	switch s {
	case SourceCache:
		return "cache"
	case SourceRedis:
		return "redis"
	case SourceStale:
		return "stale"
	case SourceNegative:
		return "negative"
	}
	return "unknown"
}

// Stats are cumulative counters for metrics.
type Stats struct {
	Hits, Misses, StaleAnswers, NegativeHits uint64
	RedisErrors, EventsApplied, Flushes      uint64
	// Entries counts the cached answers, NegativeEntries those of them that say "no
	// such key" (held apart: see Config.Size).
	Entries, NegativeEntries int
	// Lookups counts Redis round trips (coalesced misses share one).
	Lookups uint64
	// UsageDropped counts use reports dropped because the queue was full.
	UsageDropped uint64
	// SlabBytes is the memory of the slots handed out so far (the slab outside the Go
	// heap; its pages are backed as slots are first used).
	SlabBytes int
	// RedisMayEvict: the last check found that Redis may evict keys (evict.go).
	RedisMayEvict bool
	// SignatureFailures counts the values from Redis refused because they were not
	// signed by a trusted key.
	SignatureFailures SignatureFailures
	// RedisBehind counts the Redis replies refused because Redis' revision marker was
	// missing or lower than the highest revision this cache had seen.
	RedisBehind uint64
}

// Cache is safe for concurrent use.
type Cache struct {
	client redis.UniversalClient
	cfg    Config
	log    *zap.Logger

	shards []shard
	mask   uint64 // len(shards)-1; len(shards) is a power of two
	slab   *slab  // the shards' slots

	// gen is bumped by every flush; an entry is fresh only under the generation it was
	// fetched in.
	gen atomic.Uint64
	// mayEvict is true while Redis may evict keys (evict.go): a missing record is
	// then "cannot tell", not "no such key".
	mayEvict atomic.Bool
	// connected is true while the events follower is connected and caught up: without
	// it no entry is fresh, because events may be passing unseen.
	connected atomic.Bool
	// followID is the CLIENT ID of the follower's own connection (0: none), which
	// Close unblocks.
	followID atomic.Int64

	epochMu sync.Mutex
	epoch   string // last epoch seen; "" before the first

	// Verification (verdict.go). seenRev is the highest store revision seen verified,
	// in a revision marker or an event: Redis never answers for an older state.
	verdicts     *verdicts
	marks        markers
	seenRev      atomic.Int64
	sigFails     [numSigKinds]atomic.Uint64
	sigWarned    [numSigKinds]atomic.Int64 // UnixNano of the last warning, by kind
	behindN      atomic.Uint64
	behindWarned atomic.Int64

	// The miss path's lookups (batch.go), under bmu.
	bmu     sync.Mutex
	calls   map[keystore.KeyHash]*call // queued or in flight, by hash
	queue   []*call                    // waiting for a flight
	flights int                        // pipelines in flight

	uses chan use

	misses, stale, redisErrors, events, flushes, lookups, usageDropped atomic.Uint64

	// base is the origin of the nodes' monotonic times (mono).
	base time.Time

	// Test seams.
	now        func() time.Time
	block      time.Duration // XREAD BLOCK
	flushEvery time.Duration // use report flush interval
	evictEvery time.Duration // eviction check interval
	fetchHook  func()        // called at the start of every Redis round trip
	replyHook  func()        // called when a Redis lookup's reply has arrived

	startOnce sync.Once
	closeOnce sync.Once
	mu        sync.Mutex // guards cancel and closed
	cancel    context.CancelFunc
	closed    bool
	wg        sync.WaitGroup
	closeErr  error
}

// New returns a Cache on client. Call Start to follow events, Close to stop.
// Until Start has caught up with the events stream, every lookup goes to Redis.
func New(client redis.UniversalClient, cfg Config) *Cache {
	cfg = cfg.withDefaults()
	c := &Cache{
		client:     client,
		cfg:        cfg,
		log:        cfg.Logger,
		calls:      make(map[keystore.KeyHash]*call),
		base:       time.Now(),
		uses:       make(chan use, usageQueue),
		now:        time.Now,
		block:      eventsBlock,
		flushEvery: usageFlushEvery,
		evictEvery: evictionCheckEvery,
	}
	c.shards, c.mask, c.slab = newShards(cfg.Size)
	c.verdicts = newVerdicts(cfg.Size)
	if cfg.Verifier.Len() == 0 {
		c.log.Error("key cache has no signing key to trust: every lookup that reaches redis will be refused")
	}
	return c
}

// Start begins following the events stream, reporting key use and checking whether
// Redis may evict keys (evict.go), until Close.
// Calling it again, or after Close, does nothing.
func (c *Cache) Start() {
	c.startOnce.Do(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed {
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		c.cancel = cancel
		c.wg.Add(3)
		go c.follow(ctx)
		go c.flushUses(ctx)
		go c.watchEviction(ctx)
	})
}

// Close stops the background work and flushes pending use reports. It does not close the client.
func (c *Cache) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		cancel := c.cancel
		c.mu.Unlock()
		if cancel != nil {
			cancel()
			c.stopFollower()
		}
		c.connected.Store(false)
		// Lookups from now on answer ErrUnavailable, and every path to a slot checks
		// closed under the shard's lock first (a miss's flight may still be in the air).
		// The slices go too, so that a path that did not would fail on a bounds check
		// rather than fault on unmapped memory.
		for i := range c.shards {
			s := &c.shards[i]
			s.mu.Lock()
			s.closed = true
			s.slots, s.index = nil, nil
			s.mu.Unlock()
		}
		c.slab.release()
		// Last, the use reports: a request that found its key before the shards closed
		// may have queued one until just now.
		ctx, cancelWrite := context.WithTimeout(context.Background(), closeFlushTimeout)
		defer cancelWrite()
		c.closeErr = c.writeUses(ctx, c.drainUses(nil))
	})
	return c.closeErr
}

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	st := Stats{
		Misses:        c.misses.Load(),
		StaleAnswers:  c.stale.Load(),
		RedisErrors:   c.redisErrors.Load(),
		EventsApplied: c.events.Load(),
		Flushes:       c.flushes.Load(),
		Lookups:       c.lookups.Load(),
		UsageDropped:  c.usageDropped.Load(),
		RedisMayEvict: c.mayEvict.Load(),
	}
	st.SignatureFailures, st.RedisBehind = c.sigStats()
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Hits += s.hits
		st.NegativeHits += s.negHits
		st.Entries += s.n
		st.NegativeEntries += s.neg
		st.SlabBytes += int(s.used-firstSlot) * slotSize // the lists' sentinels before
		s.mu.Unlock()
	}
	return st
}

// flush makes every cached entry non-fresh (they remain as stale fallbacks).
func (c *Cache) flush(reason string) {
	c.gen.Add(1)
	c.flushes.Add(1)
	if ce := c.log.Check(zap.DebugLevel, "key cache flushed"); ce != nil {
		ce.Write(zap.String("reason", reason))
	}
}
