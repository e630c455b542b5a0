// Package keycache is the sidecar's side of the Redis sync: it answers "which live key
// has this hash?" from a bounded local cache, from Redis in one round trip on a miss,
// and keeps the cache honest by following the admin's events stream.
//
// CONTRACT STUB: the exported API below is what caddymodule builds on; the bodies are
// being implemented, the signatures are fixed.
package keycache

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore"
)

// ErrUnavailable means Redis could not answer (down, slow, or not yet synced by the
// admin: epoch missing) and nothing usable was cached. The sidecar answers 503.
var ErrUnavailable = errors.New("key store unavailable")

// Config configures a Cache. Zero values take the defaults given.
type Config struct {
	// Size bounds the number of cached entries (positive and negative). Default: 10000.
	Size int
	// NegativeTTL is how long "no such key" is remembered. Default: 2s.
	NegativeTTL time.Duration
	// LookupTimeout bounds one Redis lookup. Default: 100ms.
	LookupTimeout time.Duration
	// UsageInterval: a key's use is reported at most once per interval. Default: 1m.
	UsageInterval time.Duration
	// Logger; nil: zap.NewNop(). Never given a key or a hash.
	Logger *zap.Logger
}

// Policy is a site's freshness policy, given on each lookup (sites that share a Cache may differ).
type Policy struct {
	// TTL: a cached entry is fresh for at most this long after Redis confirmed it.
	TTL time.Duration
	// StaleIfError: how long past its freshness an entry may still answer while Redis cannot.
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

// Entry is a cached, live-or-not record with header values prepared once for injection.
// Entries are shared between requests and must not be modified. The []string values have
// cap == len, so an append by a later handler copies instead of writing into shared memory.
type Entry struct {
	Record keystore.Record
	// Precomputed header values.
	SAIDValue, SAValue, WorkspaceValue, KeyIDValue []string
}

// Stats are cumulative counters for metrics.
type Stats struct {
	Hits, Misses, StaleAnswers, NegativeHits uint64
	RedisErrors, EventsApplied, Flushes      uint64
	Entries                                  int
}

// Cache is safe for concurrent use.
type Cache struct{}

// New returns a Cache on client. Call Start to follow events, Close to stop.
func New(client redis.UniversalClient, cfg Config) *Cache { return &Cache{} }

// Start begins following the events stream and reporting key use, until Close.
func (c *Cache) Start() {}

// Close stops the background work and flushes pending use reports. It does not close the client.
func (c *Cache) Close() error { return nil }

// Lookup returns the entry for h. A nil entry with a nil error means Redis says there is no
// such live key. ErrUnavailable means nobody can tell. The entry may be non-live (deactivated,
// expired): the caller checks Record.Live on its own clock.
func (c *Cache) Lookup(ctx context.Context, h keystore.KeyHash, p Policy) (*Entry, Source, error) {
	return nil, SourceRedis, ErrUnavailable
}

// RecordUse notes that a key was used at t; cheap and non-blocking, coalesced per UsageInterval.
func (c *Cache) RecordUse(e *Entry, t time.Time) {}

// Stats returns the counters.
func (c *Cache) Stats() Stats { return Stats{} }
