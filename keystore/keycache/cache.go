package keycache

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sagate/sagate/keystore/wire"
)

// Reasons a lookup could not get an answer from Redis. They never name the key.
var (
	errNoEpoch = errors.New("redis has no epoch marker (empty or not yet synced by the admin)")
	errBusy    = errors.New("too many redis lookups waiting")
	errClosed  = fmt.Errorf("%w: key cache closed", ErrUnavailable)
)

// Lookup returns the entry for h. An entry that is not Found, with a nil error, means
// Redis says there is no such live key. ErrUnavailable means nobody can tell. A found
// entry may be non-live (deactivated, expired, revoked): the caller checks Entry.Live
// on its own clock.
//
// A fresh hit takes one shard lock and no allocation.
func (c *Cache) Lookup(ctx context.Context, h wire.KeyHash, p Policy) (Entry, Source, error) {
	return c.LookupAt(ctx, h, p, c.now())
}

// LookupAt is Lookup at the time now, which the caller has just read from time.Now
// (with its monotonic reading), so that a request reads the clock once.
func (c *Cache) LookupAt(ctx context.Context, h wire.KeyHash, p Policy, now time.Time) (Entry, Source, error) {
	if p.TTL <= 0 {
		p.TTL = DefaultTTL
	}
	at := c.mono(now)
	var e Entry
	if src, ok, err := c.local(&e, &h, p, now, at); ok || err != nil {
		return e, src, err
	}
	return c.miss(ctx, h, p, at)
}

// LookupLocal is LookupAt answered from the local cache alone: ok is true, and the
// answer is LookupAt's, when a fresh entry (SourceCache) or a fresh "no such key"
// (SourceNegative) answers h; otherwise ok is false, nothing was counted, and
// LookupAt would have asked Redis (or reports the cache closed). It never blocks on
// I/O and does not allocate: a caller may check what must be checked before a Redis
// lookup (a key's checksum) only when this says one is needed.
func (c *Cache) LookupLocal(h wire.KeyHash, p Policy, now time.Time) (e Entry, src Source, ok bool) {
	if p.TTL <= 0 {
		p.TTL = DefaultTTL
	}
	src, ok, err := c.local(&e, &h, p, now, c.mono(now))
	return e, src, ok && err == nil
}

// local answers h from its shard at now (at: now as Cache.mono), into e: a fresh entry
// or a fresh "no such key" (e left as it is), counted, with ok true; ok false when
// Redis must be asked; the error errClosed when the cache is closed.
func (c *Cache) local(e *Entry, h *wire.KeyHash, p Policy, now time.Time, at int64) (src Source, ok bool, err error) {
	gen := c.gen.Load()
	following := c.connected.Load()
	s := c.shard(*h)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return SourceRedis, false, errClosed
	}
	if i, _ := s.find(h); i != 0 && following {
		if sl := &s.slots[i]; sl.gen == gen {
			if sl.kind == slotPositive && at-sl.confirmed < int64(p.TTL) {
				s.touch(i)
				s.hits++
				s.entryOf(e, i, now.UnixNano(), c.cfg.UsageInterval)
				s.mu.Unlock()
				return SourceCache, true, nil
			}
			if sl.kind == slotNegative && at-sl.confirmed < int64(c.cfg.NegativeTTL) && !c.mayEvict.Load() {
				s.negHits++
				s.mu.Unlock()
				return SourceNegative, true, nil
			}
		}
	}
	s.mu.Unlock()
	return SourceRedis, false, nil
}

// mono returns t as monotonic nanoseconds since the cache was made, the form nodes
// keep their times in.
func (c *Cache) mono(t time.Time) int64 { return int64(t.Sub(c.base)) }

// miss asks Redis, sharing a round trip with concurrent misses (one lookup per hash,
// several hashes per pipeline; see batch.go), and waits at most LookupTimeout for it.
func (c *Cache) miss(ctx context.Context, h wire.KeyHash, p Policy, at int64) (Entry, Source, error) {
	c.misses.Add(1)
	// The queue ages lookups on the cache's own clock: the caller's may lag.
	cl, err := c.enqueue(h, c.mono(c.now()))
	if err != nil {
		return c.fallback(h, p, at, err)
	}
	t := time.NewTimer(c.cfg.LookupTimeout)
	defer t.Stop()
	select {
	case <-cl.done:
		if cl.err != nil {
			return c.fallback(h, p, at, cl.err)
		}
		return cl.e, SourceRedis, nil
	case <-t.C:
		return c.fallback(h, p, at, fmt.Errorf("waiting for redis: %w", context.DeadlineExceeded))
	case <-ctx.Done():
		return c.fallback(h, p, at, fmt.Errorf("waiting for redis: %w", ctx.Err()))
	}
}

// fallback answers when Redis could not (errNoEpoch, errMayEvict and errOlder: could
// not tell; those are not Redis errors): a cached positive entry still within
// TTL+StaleIfError answers as stale; otherwise ErrUnavailable. Never a negative.
func (c *Cache) fallback(h wire.KeyHash, p Policy, at int64, cause error) (Entry, Source, error) {
	if !errors.Is(cause, errNoEpoch) && !errors.Is(cause, errMayEvict) && !errors.Is(cause, errOlder) {
		c.redisErrors.Add(1)
	}
	s := c.shard(h)
	var e Entry
	s.mu.Lock()
	if s.closed {
		// The slab is gone (Close); nothing cached can answer.
	} else if i, _ := s.find(&h); i != 0 {
		if sl := &s.slots[i]; sl.kind == slotPositive && at-sl.confirmed < int64(p.TTL+max(p.StaleIfError, 0)) {
			s.entryOf(&e, i, c.now().UnixNano(), c.cfg.UsageInterval)
		}
	}
	s.mu.Unlock()
	if e.Found() {
		c.stale.Add(1)
		return e, SourceStale, nil
	}
	return e, SourceRedis, fmt.Errorf("%w: %v", ErrUnavailable, cause)
}

// store caches a Redis answer for h (rec nil: no such key) and returns the entry that
// answers it, unless an event touched the shard while the lookup was in flight. Why:
// the admin writes a record, then publishes its event. A GET that ran before that
// write returns the old record; if the follower applies the event (dropping the hash)
// before the reply is stored, storing it would bring the old record back as fresh, and
// no further event would remove it — a revoked key would keep working until its TTL.
// The reply still answers its own request: it was true when Redis served it. A flush
// during the lookup needs no check here: the slot carries the generation it was
// fetched under, so it is not fresh, only a stale fallback like every other flushed entry.
func (c *Cache) store(h wire.KeyHash, rec *wire.Record, confirmed int64, gen, inv uint64) (Entry, error) {
	var e Entry
	if rec != nil && len(rec.KeyID) > MaxKeyIDLen {
		return e, fmt.Errorf("key record: key id is %d bytes, at most %d are supported", len(rec.KeyID), MaxKeyIDLen)
	}
	useAt := c.now().UnixNano()
	s := c.shard(h)
	s.mu.Lock()
	defer s.mu.Unlock()
	var old *slot
	var oi int32
	if !s.closed { // after Close the slab is gone: answer, do not cache
		if oi, _ = s.find(&h); oi != 0 {
			old = &s.slots[oi]
		}
	}
	// Keep the reply unless an event touched the shard meanwhile or a newer lookup
	// already answered.
	keep := !s.closed && s.inv == inv && (old == nil || old.gen <= gen)
	if rec == nil {
		switch {
		case !keep || old != nil && old.kind == slotFloor:
		case old != nil && old.kind == slotPositive:
			s.demote(oi) // what the cache knew of the key stays (floor.go)
		default:
			sl := &s.slots[s.put(&h, slotNegative)]
			sl.confirmed, sl.gen = confirmed, gen
		}
		return e, nil
	}
	switch s.checkFloor(oi, rec) {
	case floorOlder:
		return e, c.older()
	case floorRevoked:
		_ = c.older()
		revoked := *rec
		revoked.State, revoked.Rev = wire.KeyRevoked, max(rec.Rev, old.rev.get())
		rec = &revoked
	}
	// A refetch of the same key keeps its last reported use, so that it is not
	// reported again within UsageInterval.
	var lastUse int64
	if old != nil && old.kind == slotPositive && string(old.kid[:old.kidLen]) == rec.KeyID {
		lastUse = old.lastUse
	}
	e.exp = rec.Exp
	e.state = stateCode(rec.State)
	e.kidLen = uint8(copy(e.kid[:], rec.KeyID))
	e.useDue = useDue(lastUse, useAt, c.cfg.UsageInterval)
	if !keep {
		e.acc = s.account(rec, false)
		return e, nil
	}
	// put first: the slot it evicts may hold the last reference to the account that
	// s.account would otherwise return, which would then leave the table.
	i := s.put(&h, slotPositive)
	e.acc = s.account(rec, true)
	e.acc.refs++
	sl := &s.slots[i]
	sl.confirmed, sl.gen = confirmed, gen
	sl.exp, sl.state, sl.kidLen, sl.kid = e.exp, e.state, e.kidLen, e.kid
	sl.rev.set(rec.Rev)
	sl.lastUse = lastUse
	sl.acc = e.acc.idx
	e.shard, e.slot, e.ver = s, i, sl.ver
	return e, nil
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
