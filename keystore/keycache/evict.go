package keycache

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore/redisops"
)

// A Redis that may evict (maxmemory with a policy other than noeviction; see
// redisops.CheckEviction) can lose a record while its epoch stays: the record's absence
// then says nothing about the key. The cache asks Redis at Start and every
// evictionCheckEvery after, off the hot path. While Redis may evict, a missing record
// answers "cannot tell" (errMayEvict: the path of a missing epoch, a stale entry or
// ErrUnavailable), never "no such key", and no negative answer is cached or used.
// A record that is there still answers, tombstones included.

// evictionCheckEvery is how often the cache asks Redis whether it may evict.
const evictionCheckEvery = 10 * time.Second

// evictionCheckTimeout bounds one check.
const evictionCheckTimeout = 2 * time.Second

// errMayEvict answers a lookup whose record is missing while Redis may evict keys.
var errMayEvict = errors.New("key record missing and redis may evict keys (maxmemory-policy is not noeviction): cannot tell an evicted record from an unknown key")

// RedisMayEvict reports whether the last check found that Redis may evict keys.
func (c *Cache) RedisMayEvict() bool { return c.mayEvict.Load() }

// watchEviction checks whether Redis may evict at once and every c.evictEvery, until ctx ends.
func (c *Cache) watchEviction(ctx context.Context) {
	defer c.wg.Done()
	var failing bool
	t := time.NewTicker(c.evictEvery)
	defer t.Stop()
	for {
		failing = c.checkEviction(ctx, failing)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// checkEviction asks Redis once and notes the answer, logging a change of it, and
// returns whether the check failed. failing is whether the previous one did: a check
// that cannot be made (Redis down, INFO not allowed) keeps the last answer and is
// logged when it starts failing, not every time.
func (c *Cache) checkEviction(ctx context.Context, failing bool) bool {
	ctx, cancel := context.WithTimeout(ctx, evictionCheckTimeout)
	defer cancel()
	risk, err := redisops.CheckEviction(ctx, c.client)
	if err != nil {
		if !failing && ctx.Err() == nil {
			c.log.Warn("cannot tell whether redis may evict keys; keeping the last answer",
				zap.Bool("redis_may_evict", c.mayEvict.Load()), zap.Error(err))
		}
		return true
	}
	if c.mayEvict.Swap(risk.MayEvict) != risk.MayEvict {
		if risk.MayEvict {
			c.log.Warn(risk.Warning()+"; until it stops, a missing key record answers 503 (or a stale entry), not 401",
				zap.String("maxmemory_policy", risk.Policy), zap.Int64("maxmemory", risk.MaxMemory))
		} else {
			c.log.Warn("redis no longer may evict keys; a missing key record means no such key again",
				zap.String("maxmemory_policy", risk.Policy), zap.Int64("maxmemory", risk.MaxMemory))
		}
	}
	return false
}
