package keycache

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore/wire"
)

// use is one reported use of a key, waiting to be written.
type use struct {
	keyID string
	ms    int64 // Unix milliseconds
}

// RecordUse notes that the key of e, a found entry, was used at t; cheap and
// non-blocking, coalesced per UsageInterval. At most one report per key per interval is
// queued; when the queue is full the report is dropped and counted
// (Stats.UsageDropped). Only a report that is due takes a lock and allocates: the
// lookup that returned e noted whether one was.
func (c *Cache) RecordUse(e *Entry, t time.Time) {
	if !e.Found() || !e.useDue {
		return
	}
	at := t.UnixNano()
	if s := e.shard; s != nil {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		// If the slot holds something else now (the key was dropped, evicted or
		// refetched since the lookup), the report goes out as the lookup found it due.
		if sl := &s.slots[e.slot]; sl.ver == e.ver && sl.kind == slotPositive {
			if !useDue(sl.lastUse, at, c.cfg.UsageInterval) {
				s.mu.Unlock()
				return // reported by another request meanwhile
			}
			sl.lastUse = at
		}
		s.mu.Unlock()
	}
	e.useDue = false
	select {
	case c.uses <- use{keyID: e.KeyID(), ms: t.UnixMilli()}:
	default:
		c.usageDropped.Add(1)
	}
}

// flushUses writes queued use reports about every flushEvery until ctx is done.
// Close writes what is left.
func (c *Cache) flushUses(ctx context.Context) {
	defer c.wg.Done()
	t := time.NewTicker(c.flushEvery)
	defer t.Stop()
	pending := make(map[string]int64)
	for {
		select {
		case <-ctx.Done():
			// Hand what was drained but not written back to Close.
			for id, ms := range pending {
				select {
				case c.uses <- use{keyID: id, ms: ms}:
				default:
					c.usageDropped.Add(1)
				}
			}
			return
		case <-t.C:
		}
		pending = c.drainUses(pending)
		if len(pending) == 0 {
			continue
		}
		wctx, cancel := context.WithTimeout(ctx, c.flushEvery)
		err := c.writeUses(wctx, pending)
		cancel()
		if err != nil {
			// Keep them for the next round; a later use of the same key replaces its time.
			c.log.Warn("writing key use times", zap.Int("keys", len(pending)), zap.Error(err))
			continue
		}
		clear(pending)
	}
}

// drainUses moves every queued report into pending (created if nil), keeping the
// latest time per key, without blocking.
func (c *Cache) drainUses(pending map[string]int64) map[string]int64 {
	if pending == nil {
		pending = make(map[string]int64)
	}
	for {
		select {
		case u := <-c.uses:
			if u.ms > pending[u.keyID] {
				pending[u.keyID] = u.ms
			}
		default:
			return pending
		}
	}
}

// writeUses writes pending as HSET sagate:lastused <key_id> <ms> …, in pipelined
// batches of at most usageBatch fields.
func (c *Cache) writeUses(ctx context.Context, pending map[string]int64) error {
	if len(pending) == 0 {
		return nil
	}
	pipe := c.client.Pipeline()
	args := make([]any, 0, 2*min(len(pending), usageBatch))
	for id, ms := range pending {
		args = append(args, id, strconv.FormatInt(ms, 10))
		if len(args) == 2*usageBatch {
			pipe.HSet(ctx, wire.RedisLastUsed, args...)
			args = make([]any, 0, 2*usageBatch)
		}
	}
	if len(args) > 0 {
		pipe.HSet(ctx, wire.RedisLastUsed, args...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("writing key use times: %w", err)
	}
	return nil
}
