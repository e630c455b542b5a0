package redissync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore/wire"
)

// Reconcile makes Redis match the store.
//
// Without an epoch marker (Redis empty, restarted or half-filled) it is a full sync:
// every live record of one store snapshot is written, every other sagate:key:* is made a
// tombstone, then a new epoch is set, last, and a resync event published. With the
// marker, it compares what Redis holds with the store, rewrites only the records that
// differ, and publishes the repaired hashes; the epoch stays. Every write is
// rev-checked, so a concurrent Apply is never undone (docs/protocol.md, "Invariants").
func (s *Syncer) Reconcile(ctx context.Context) (ReconcileStats, error) {
	return s.reconcile(ctx, false)
}

// reconcile runs Reconcile; forceNew makes it a full sync with a new epoch even when
// Redis holds one.
func (s *Syncer) reconcile(ctx context.Context, forceNew bool) (ReconcileStats, error) {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	return s.reconcileLocked(ctx, forceNew)
}

// reconcileLocked is reconcile with s.syncMu held.
func (s *Syncer) reconcileLocked(ctx context.Context, forceNew bool) (ReconcileStats, error) {
	start := now()
	st, err := s.doReconcile(ctx, forceNew)
	st.Duration = now().Sub(start)
	s.m.duration.WithLabelValues("reconcile").Observe(st.Duration.Seconds())
	if err != nil {
		s.m.reconciles.WithLabelValues("error").Inc()
		return st, fmt.Errorf("reconciling redis with the store: %w", err)
	}
	s.m.reconciles.WithLabelValues("ok").Inc()
	s.m.success()
	if !st.NewEpoch {
		s.m.repaired.Add(float64(st.Written + st.Removed))
	}
	s.log.Info("redis sync: reconcile done", zap.Bool("new_epoch", st.NewEpoch),
		zap.Int("written", st.Written), zap.Int("removed", st.Removed),
		zap.Int("unchanged", st.Unchanged), zap.Int("checked", st.Checked), zap.Bool("store_scanned", st.StoreScanned), zap.Duration("duration", st.Duration))
	return st, nil
}

func (s *Syncer) doReconcile(ctx context.Context, forceNew bool) (ReconcileStats, error) {
	var st ReconcileStats
	if err := s.refreshShards(ctx); err != nil {
		s.m.redisErrors.Inc()
		return st, err
	}
	epoch, err := s.readEpoch(ctx)
	if err != nil {
		s.m.redisErrors.Inc()
		return st, err
	}
	full := forceNew || epoch == ""
	st.NewEpoch = full
	if full {
		// Whatever was owed is covered by this sync: every change committed up to
		// covered is in the snapshot it writes, so their outbox rows can go. So are
		// the losses the floor told: changes made meanwhile raise the markers again
		// without it (the sync sets it anew when done).
		// The floors go first: a raise that read them before the count changed
		// leaves the loss to this sync (raised), one that reads them after
		// finds them reset.
		s.floor.Store(0)
		s.durable.reset()
		s.fullSyncs.Add(1)
		s.needFull.Store(false)
		covered, err := s.src.Revision(ctx)
		if err != nil {
			return st, err
		}
		if err := s.fullSync(ctx, &st); err != nil {
			return st, err
		}
		s.confirmThrough(ctx, covered)
		return st, nil
	}
	return st, s.repairPass(ctx, epoch, &st)
}

// deleteJunk deletes keys under the record prefix that are not a key hash at all.
func (s *Syncer) deleteJunk(ctx context.Context, junk []string, st *ReconcileStats) error {
	if len(junk) == 0 {
		return nil
	}
	// DEL key by key: the names may fall in different cluster slots.
	pipe := s.rdb.Pipeline()
	for _, k := range junk {
		pipe.Del(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.m.redisErrors.Inc()
		return fmt.Errorf("deleting %d malformed record keys: %w", len(junk), err)
	}
	st.Removed += len(junk)
	return nil
}

// scanKeys calls fn with each page of SCAN MATCH pattern, on every master of a cluster.
func (s *Syncer) scanKeys(ctx context.Context, pattern string, fn func([]string) error) error {
	scan := func(ctx context.Context, c redis.Cmdable) error {
		var cursor uint64
		for {
			keys, next, err := c.Scan(ctx, cursor, pattern, batchSize).Result()
			if err != nil {
				s.m.redisErrors.Inc()
				return fmt.Errorf("scanning redis keys: %w", err)
			}
			if err := fn(keys); err != nil {
				return err
			}
			if cursor = next; cursor == 0 {
				return nil
			}
		}
	}
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		var mu sync.Mutex // ForEachMaster runs in parallel; fn is not safe for concurrent use
		return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return scan(ctx, c)
		})
	}
	return scan(ctx, s.rdb)
}

// setEpoch ends a full sync: it sets the revision marker to at least rev, then a new
// sealed epoch marker, last, and announces it in a signed resync event of revision rev.
func (s *Syncer) setEpoch(ctx context.Context, rev int64) error {
	epoch, err := newEpoch()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.setRevMarkers(ctx, rev); err != nil {
		s.m.redisErrors.Inc()
		return err
	}
	if err := s.writeEpoch(ctx, epoch); err != nil {
		s.m.redisErrors.Inc()
		return err
	}
	s.noteEpoch(epoch)
	// Redis now holds the store's state at rev: the floor starts again from there (a
	// store restored to an older revision brings the markers down with it).
	s.floor.Store(rev)
	e := wire.Event{Kind: wire.EventResync, Rev: rev, Epoch: epoch}
	wire.SignEvent(s.key, &e)
	if _, _, err := wire.PublishEvent(ctx, s.rdb, e, s.cfg.EventsMaxLen); err != nil {
		s.m.redisErrors.Inc()
		return err
	}
	return nil
}

// newEpoch returns "<unix ms>-<16 random hex>": unique across admins and restarts.
func newEpoch() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("choosing an epoch: %w", err)
	}
	return strconv.FormatInt(now().UnixMilli(), 10) + "-" + hex.EncodeToString(b[:]), nil
}

// writeEpoch sets the sealed epoch marker, the last write of a full sync; where the
// primary has replicas on Sentinel, a replica must acknowledge it (and so every write
// before it) on the same connection, else errNotReplicated: the outbox rows the sync
// covers stay until a sync survives a failover (replicas.go).
func (s *Syncer) writeEpoch(ctx context.Context, epoch string) error {
	wait := 0
	if _, cluster := s.rdb.(*redis.ClusterClient); !cluster {
		var err error
		if wait, err = s.replicasToWait(ctx); err != nil {
			return err
		}
	}
	pipe := s.rdb.Pipeline()
	set := pipe.Set(ctx, wire.RedisEpoch, wire.SealMarker(s.key, wire.DomainEpoch, epoch), 0)
	waitCmd := s.queueWait(ctx, pipe, wait)
	if _, err := pipe.Exec(ctx); err != nil || set.Err() != nil {
		return fmt.Errorf("setting the epoch marker: %w", errors.Join(err, set.Err()))
	}
	return waited(waitCmd, wait)
}
