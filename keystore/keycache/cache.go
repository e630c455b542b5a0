package keycache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/keystore"
)

// Reasons a lookup could not get an answer from Redis. They never name the key.
var (
	errNoEpoch = errors.New("redis has no epoch marker (empty or not yet synced by the admin)")
	errBusy    = errors.New("too many redis lookups in flight")
)

// Lookup returns the entry for h. A nil entry with a nil error means Redis says there is no
// such live key. ErrUnavailable means nobody can tell. The entry may be non-live (deactivated,
// expired): the caller checks Record.Live on its own clock.
//
// A fresh hit takes one shard lock and no allocation.
func (c *Cache) Lookup(ctx context.Context, h keystore.KeyHash, p Policy) (*Entry, Source, error) {
	if p.TTL <= 0 {
		p.TTL = DefaultTTL
	}
	now := c.now()
	gen := c.gen.Load()
	following := c.connected.Load()
	s := c.shard(h)
	s.mu.Lock()
	if n := s.m[h]; n != nil && following && n.gen == gen {
		if n.e != nil && now.Sub(n.confirmed) < p.TTL {
			s.touch(n)
			s.hits++
			e := n.e
			s.mu.Unlock()
			return e, SourceCache, nil
		}
		if n.e == nil && now.Before(n.negUntil) {
			s.negHits++
			s.mu.Unlock()
			return nil, SourceNegative, nil
		}
	}
	s.mu.Unlock()
	return c.miss(ctx, h, p, now)
}

// miss asks Redis, sharing one round trip with concurrent misses for the same hash,
// and waits at most LookupTimeout for it.
func (c *Cache) miss(ctx context.Context, h keystore.KeyHash, p Policy, now time.Time) (*Entry, Source, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.LookupTimeout)
	defer cancel()
	// The round trip runs on its own context (fetch), not the caller's: it is shared,
	// and the first caller going away must not fail the others.
	ch := c.group.DoChan(string(h[:]), func() (any, error) { return c.fetch(h) })
	c.misses.Add(1)
	select {
	case r := <-ch:
		if r.Err != nil {
			return c.fallback(h, p, now, r.Err)
		}
		e, _ := r.Val.(*Entry)
		return e, SourceRedis, nil
	case <-ctx.Done():
		return c.fallback(h, p, now, fmt.Errorf("waiting for redis: %w", ctx.Err()))
	}
}

// fallback answers when Redis could not: a cached positive entry still within
// TTL+StaleIfError answers as stale; otherwise ErrUnavailable. Never a negative.
func (c *Cache) fallback(h keystore.KeyHash, p Policy, now time.Time, cause error) (*Entry, Source, error) {
	if !errors.Is(cause, errNoEpoch) {
		c.redisErrors.Add(1)
	}
	s := c.shard(h)
	s.mu.Lock()
	var e *Entry
	if n := s.m[h]; n != nil && n.e != nil && now.Sub(n.confirmed) < p.TTL+max(p.StaleIfError, 0) {
		e = n.e
	}
	s.mu.Unlock()
	if e != nil {
		c.stale.Add(1)
		return e, SourceStale, nil
	}
	return nil, SourceRedis, fmt.Errorf("%w: %v", ErrUnavailable, cause)
}

// fetch is one Redis round trip for h: GET the epoch and the record in one pipeline.
// It returns the entry (nil: no such key, with the epoch present) or why Redis
// could not tell. Errors are never cached.
func (c *Cache) fetch(h keystore.KeyHash) (any, error) {
	select {
	case c.inflight <- struct{}{}:
		defer func() { <-c.inflight }()
	default:
		return nil, errBusy
	}
	if c.fetchHook != nil {
		c.fetchHook()
	}
	c.lookups.Add(1)
	s := c.shard(h)
	// Note the generation and the shard's invalidation count before the request leaves:
	// whatever changes after this point may not be reflected in the reply.
	gen := c.gen.Load()
	s.mu.Lock()
	inv := s.inv
	s.mu.Unlock()
	confirmed := c.now()

	ctx, cancel := context.WithTimeout(context.Background(), c.cfg.LookupTimeout)
	defer cancel()
	pipe := c.client.Pipeline()
	epochCmd := pipe.Get(ctx, keystore.RedisEpoch)
	recCmd := pipe.Get(ctx, keystore.RedisKey(h))
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("looking up key record: %w", err)
	}
	if c.replyHook != nil {
		c.replyHook()
	}
	epoch, err := epochCmd.Result()
	if errors.Is(err, redis.Nil) {
		return nil, errNoEpoch
	}
	if err != nil {
		return nil, fmt.Errorf("reading epoch: %w", err)
	}
	c.noteEpoch(epoch)

	raw, err := recCmd.Bytes()
	if errors.Is(err, redis.Nil) {
		c.store(s, &node{h: h, confirmed: confirmed, gen: gen, negUntil: confirmed.Add(c.cfg.NegativeTTL)}, inv)
		return (*Entry)(nil), nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading key record: %w", err)
	}
	rec, err := keystore.DecodeRecord(raw)
	if err != nil {
		return nil, err
	}
	e := newEntry(rec)
	c.store(s, &node{h: h, e: e, confirmed: confirmed, gen: gen}, inv)
	return e, nil
}

// store caches a Redis answer, unless an event touched the shard while the lookup was
// in flight. Why: the admin writes a record, then publishes its event. A GET that ran
// before that write returns the old record; if the follower applies the event (dropping
// the hash) before the reply is stored, storing it would bring the old record back as
// fresh, and no further event would remove it — a revoked key would keep working until
// its TTL. The reply still answers its own request: it was true when Redis served it.
// A flush during the lookup needs no check here: the node carries the generation it was
// fetched under, so it is not fresh, only a stale fallback like every other flushed entry.
func (c *Cache) store(s *shard, n *node, inv uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inv != inv {
		return
	}
	if old := s.m[n.h]; old != nil {
		if old.gen > n.gen {
			return // a newer lookup already answered
		}
		if n.e != nil && old.e != nil && old.e.Record.KeyID == n.e.Record.KeyID {
			n.e.lastUse = old.e.lastUse
		}
	}
	s.put(n)
}

// noteEpoch remembers the epoch Redis reported and flushes the cache when it changed:
// the admin rebuilt Redis, and nothing cached before can be proved current.
func (c *Cache) noteEpoch(epoch string) {
	c.epochMu.Lock()
	defer c.epochMu.Unlock()
	if epoch == c.epoch {
		return
	}
	if c.epoch != "" {
		c.flush("epoch changed")
		c.log.Info("redis epoch changed; key cache flushed")
	}
	c.epoch = epoch
}
