package redissync

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore"
)

// The outbox (keystore/outbox.go): every commit that changes key records leaves a row
// in the store; the Syncer deletes it once its Apply has written the change to Redis,
// and every admin's Run re-applies the rows that stay (docs/protocol.md, "The outbox").
const (
	// confirmInterval is how often the revisions of successful Applies are deleted from
	// the outbox, all in one statement: one write per interval, not one per change.
	confirmInterval = 100 * time.Millisecond
	// confirmQueueMax bounds the revisions waiting to be deleted (while the store is down,
	// or when Run is not running); beyond it the oldest are dropped: their rows stay, and
	// the outbox check re-applies them, which is correct, only redundant.
	confirmQueueMax = 100_000
	// pendingBatch is the most outbox rows one check reads, and pendingMaxKeys about the
	// most keys it re-applies (always at least one row); more wait for the next tick.
	pendingBatch   = 100
	pendingMaxKeys = 10_000
	// pendingLogRevs is the most revisions one log line names.
	pendingLogRevs = 20
	// finalConfirmTimeout bounds the last deletion when Run stops.
	finalConfirmTimeout = 5 * time.Second
)

// confirmer collects the revisions whose changes an Apply wrote to Redis and deletes
// their outbox rows in batches (run).
type confirmer struct {
	src keystore.SyncOutbox
	log *zap.Logger

	mu      sync.Mutex
	revs    []int64
	failing bool // the last deletion failed (logged once until one succeeds)
}

// add queues rev for deletion.
func (c *confirmer) add(rev int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.revs) >= confirmQueueMax {
		c.revs = slices.Delete(c.revs, 0, len(c.revs)-confirmQueueMax+1)
	}
	c.revs = append(c.revs, rev)
}

// flush deletes the queued revisions' rows in one statement; on failure they are queued
// again for the next flush.
func (c *confirmer) flush(ctx context.Context) {
	c.mu.Lock()
	revs := c.revs
	c.revs = nil
	c.mu.Unlock()
	if len(revs) == 0 {
		return
	}
	err := c.src.ConfirmChanges(ctx, revs)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if !c.failing {
			c.log.Warn("redis sync: deleting confirmed changes from the outbox failed; will retry",
				zap.Int("changes", len(revs)), zap.Error(err))
		}
		c.failing = true
		c.revs = append(revs, c.revs...)
		if n := len(c.revs) - confirmQueueMax; n > 0 {
			c.revs = c.revs[n:]
		}
		return
	}
	c.failing = false
}

// run flushes every confirmInterval until ctx ends, then once more.
func (c *confirmer) run(ctx context.Context) {
	t := time.NewTicker(confirmInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finalConfirmTimeout)
			c.flush(fctx)
			cancel()
			return
		case <-t.C:
			c.flush(ctx)
		}
	}
}

// checkPending re-applies the outbox rows older than revGrace: committed changes that no
// admin has confirmed in Redis (the admin that committed them died before writing, or
// Redis refused the write). Apply reads the store's current state of their keys, so the
// write is right whatever happened since. It skips the writes while Redis does not
// answer, and while a full sync is owed (it covers the rows and deletes them; Redis may
// have come back empty): the rows wait for the next tick. It sets the backlog gauge to
// the rows left.
func (r *runState) checkPending(ctx context.Context) {
	s := r.s
	ps, err := s.src.PendingChanges(ctx, revGrace, pendingBatch)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Warn("redis sync: reading the outbox failed", zap.Error(err))
		}
		return
	}
	left := int64(len(ps))
	if len(ps) == pendingBatch {
		if left, err = s.src.CountPending(ctx, revGrace); err != nil {
			left = int64(len(ps))
		}
	}
	if len(ps) > 0 && r.redisUp && !r.pendingFull && !s.needFull.Load() {
		ps = boundKeys(ps)
		if err := s.repairPending(ctx, ps); err == nil {
			left -= int64(len(ps))
		} else if ctx.Err() == nil {
			s.log.Warn("redis sync: re-applying unconfirmed changes failed; will retry", zap.Error(err))
		}
	}
	s.backlog.set(max(left, 0))
}

// boundKeys returns the first changes of ps that hold about pendingMaxKeys keys in all,
// at least one change.
func boundKeys(ps []keystore.PendingChange) []keystore.PendingChange {
	keys := 0
	for i, p := range ps {
		if keys += len(p.Hashes); keys > pendingMaxKeys && i > 0 {
			return ps[:i]
		}
	}
	return ps
}

// repairPending writes the changes of ps to Redis as one Apply, then deletes their rows.
func (s *Syncer) repairPending(ctx context.Context, ps []keystore.PendingChange) error {
	revs := make([]int64, len(ps))
	var hashes []keystore.KeyHash
	for i, p := range ps {
		revs[i] = p.Rev
		hashes = append(hashes, p.Hashes...)
	}
	shown := revs[:min(len(revs), pendingLogRevs)]
	s.log.Warn("redis sync: committed changes not confirmed in redis after the grace; re-applying them",
		zap.Int64s("revs", shown), zap.Int("changes", len(revs)), zap.Int("keys", len(hashes)),
		zap.Duration("grace", revGrace))
	for _, p := range ps {
		s.digests.sawChange(p.Rev, p.Hashes)
	}
	if err := s.apply(ctx, keystore.Change{Rev: slices.Max(revs), Action: "sync.pending", Hashes: hashes}); err != nil {
		return err
	}
	if err := s.src.ConfirmChanges(ctx, revs); err != nil {
		return fmt.Errorf("deleting re-applied changes from the outbox: %w", err)
	}
	return nil
}

// confirmThrough deletes the outbox rows up to rev after a full sync that covers them;
// a failure is logged only (the rows are re-applied later, redundantly).
func (s *Syncer) confirmThrough(ctx context.Context, rev int64) {
	if err := s.src.ConfirmChangesThrough(ctx, rev); err != nil && ctx.Err() == nil {
		s.log.Warn("redis sync: deleting the changes a full sync covered from the outbox failed", zap.Error(err))
	}
}
