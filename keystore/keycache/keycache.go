// Package keycache is the sidecar's side of the Redis sync: it answers "which live key
// has this hash?" from a bounded local cache, from Redis in one round trip on a miss,
// and keeps the cache honest by following the admin's events stream. docs/protocol.md
// ("The sidecar's side") walks through how.
//
// Guarantees:
//   - Fresh or refused: a cached entry answers on its own (SourceCache) only while the
//     cache can prove it saw every event since the entry was fetched and the entry is
//     younger than the site's TTL. Any event that could have been missed bumps the
//     generation: older entries remain only as a stale fallback while Redis cannot
//     answer, bounded by the site's StaleIfError. A key an event names is never answered
//     from its old entry, not even as stale; one the event flags gone is refused at once.
//   - Signed or nothing: it answers only from what verifies with Config.Verifier. A value
//     that does not is never answered from nor cached (a stale entry or ErrUnavailable,
//     so 503, never 200 nor 401), counted (Stats.SignatureFailures) and logged without the
//     value; an event that does not verify changes nothing. A cache hit verifies nothing.
//   - Never an older record: a record older than one seen for the same key, or a live
//     record of a key seen revoked, is refused, also after the key left the cache,
//     while its floor is kept (floor.go).
//   - Never back in time: a Redis whose revision marker is missing or below the highest
//     revision already seen is not answered from until the admin has repaired it, but for
//     its tombstones, which are final; on a Redis Cluster, the same holds for each shard,
//     by its own marker (shardrev.go).
//   - Fail closed: a Redis error is never cached and never read as "no such key"; neither
//     is a missing record while the epoch is missing or Redis may evict keys.
//   - A reply that may predate an event it raced is not cached.
//
// Bounds: a miss waits at most LookupTimeout (DefaultLookupTimeout, 100ms), one pipeline
// is in flight at a time and at most 1024 hashes wait for it, so a slow Redis cannot pile
// up goroutines or connections; at most Size (DefaultSize) keys are cached, plus Size/8
// "no such key" answers (DefaultNegativeTTL, 2s) that can evict only each other; the
// follower holds one connection; use reports (RecordUse) are written at most once per
// DefaultUsageInterval per key, off the request path. A cached key costs a 112-byte slot
// outside the Go heap: 100,000 keys, about 11 MB.
package keycache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore/wire"
)

// ErrUnavailable means Redis could not answer (down, slow, or not yet synced by the
// admin: epoch missing) and nothing usable was cached. The sidecar answers 503.
// Errors returned by Lookup wrap it: test with errors.Is.
var ErrUnavailable = errors.New("key store unavailable")

// MaxIdleConns is how many idle connections the client given to New needs to keep
// (redis.Options.MaxIdleConns): one for the lookups' pipeline (one in flight at a time)
// and one for use reports and the eviction check. With the events follower's connection
// of its own, a sidecar then holds at most three connections to Redis at rest, however
// many a burst opened.
const MaxIdleConns = 2

// Defaults for zero Config and Policy fields.
const (
	DefaultSize          = 10000
	DefaultNegativeTTL   = 2 * time.Second
	DefaultLookupTimeout = 100 * time.Millisecond
	DefaultUsageInterval = time.Minute
	// DefaultTTL is used for a Policy whose TTL is zero (the directive's cache_ttl).
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
	Verifier *wire.Verifier
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
		cfg.Verifier = wire.NewVerifier() // trusts no key: refuses everything
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
	// OlderRecords counts the records refused because this cache had seen a newer
	// revision of the same key's record, or the key revoked (floor.go): replays.
	OlderRecords uint64
	// Floors is the number of keys whose revision floor is kept after their entry left
	// the cache (floor.go): at most Size/8.
	Floors int
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
	verdicts *verdicts
	marks    markers
	// slotMap is the Redis Cluster's slot map (shardrev.go); nil on a single server
	// or Sentinel, and until first read.
	slotMap      atomic.Pointer[wire.Shards]
	seenRev      atomic.Int64
	sigFails     [numSigKinds]atomic.Uint64
	sigWarned    [numSigKinds]atomic.Int64 // UnixNano of the last warning, by kind
	behindN      atomic.Uint64
	behindWarned atomic.Int64
	// Records refused by a revision floor (floor.go).
	olderN      atomic.Uint64
	olderWarned atomic.Int64

	// The miss path's lookups (batch.go), under bmu.
	bmu     sync.Mutex
	calls   map[wire.KeyHash]*call // queued or in flight, by hash
	queue   []*call                // waiting for a flight
	flights int                    // pipelines in flight

	uses chan use

	// watchers are the callbacks of Watch (watch.go).
	watchers *watchers

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
		calls:      make(map[wire.KeyHash]*call),
		base:       time.Now(),
		uses:       make(chan use, usageQueue),
		now:        time.Now,
		block:      eventsBlock,
		flushEvery: usageFlushEvery,
		evictEvery: evictionCheckEvery,
		watchers:   newWatchers(),
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
		c.wg.Add(4)
		go func() {
			defer c.wg.Done()
			c.watchers.run(ctx)
		}()
		go c.follow(ctx)
		go c.flushUses(ctx)
		go c.watchEviction(ctx)
		if cc := c.clusterClient(); cc != nil {
			c.wg.Add(1)
			go c.watchSlots(ctx, cc)
		}
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
	st.OlderRecords = c.olderN.Load()
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		st.Hits += s.hits
		st.NegativeHits += s.negHits
		st.Entries += s.n
		st.NegativeEntries += s.neg
		st.Floors += s.floors
		st.SlabBytes += int(s.used-firstSlot) * slotSize // the lists' sentinels before
		s.mu.Unlock()
	}
	return st
}

// flush makes every cached entry non-fresh (they remain as stale fallbacks).
func (c *Cache) flush(reason string) {
	c.gen.Add(1)
	c.flushes.Add(1)
	c.watchers.notify(nil, true)
	if ce := c.log.Check(zap.DebugLevel, "key cache flushed"); ce != nil {
		ce.Write(zap.String("reason", reason))
	}
}
