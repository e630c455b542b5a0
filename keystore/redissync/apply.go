package redissync

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// Apply writes the records of c's keys, then publishes one event (several when c
// touches more than 1000 keys). For each hash it writes the key's current record, read
// fresh from the store with the revision it was read at, or a tombstone when the key is
// no longer live; every write is rev-checked, so an older state never replaces a newer
// one. The writes and the event go in one pipeline (one round trip), the event after the
// writes.
//
// On success the change's outbox row is deleted (in a batch, within confirmInterval
// while Run runs). On failure Apply returns the error and marks Redis dirty: Run then
// performs a full sync with a new epoch soon (within a second while Redis answers); the
// outbox row stays, for any admin to re-apply. The store is never rolled back. The
// failure is logged once, by the caller (keystore.Service logs it with the change's
// action and revision).
func (s *Syncer) Apply(ctx context.Context, c keystore.Change) error {
	s.digests.sawChange(c.Rev, c.Hashes)
	err := s.apply(ctx, c)
	if err == nil && c.Rev > 0 {
		s.confirm.add(c.Rev)
	}
	s.wakeExpiry() // the change may have issued a key that expires before Run's next look
	return err
}

// apply is Apply without the outbox's confirmation.
func (s *Syncer) apply(ctx context.Context, c keystore.Change) error {
	hashes := dedupe(c.Hashes)
	if len(hashes) == 0 {
		return nil
	}
	start := now()
	defer func() { s.m.duration.WithLabelValues("apply").Observe(now().Sub(start).Seconds()) }()
	// The change is committed: finish writing it even if the caller goes away. While a
	// full sync is already owed (Redis failed a moment ago), that sync will carry this
	// commit too, so a short attempt is enough: the admin's callers are not held up for
	// the whole ApplyTimeout by every change made during a Redis outage.
	timeout := s.cfg.ApplyTimeout
	if s.needFull.Load() {
		timeout = min(timeout, owedApplyTimeout)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()

	// No lock: concurrent Applies (and reconcile batches) may interleave, since every
	// write is rev-checked and every Apply's event follows its own writes (docs/protocol.md, "Invariants").
	recs, rev, err := s.src.AuthRecords(ctx, hashes)
	if err != nil {
		s.markDirty()
		return fmt.Errorf("syncing %s: reading key records: %w", c.Action, err)
	}
	ws, err := s.changeWrites(ctx, hashes, recs, rev)
	if err != nil {
		s.markDirty()
		return fmt.Errorf("syncing %s: %w", c.Action, err)
	}
	evRev := c.Rev
	if evRev == 0 {
		evRev = rev
	}
	epoch, err := s.writeAndPublish(ctx, ws, evRev, hashes)
	if errors.Is(err, errNotReplicated) {
		// Written, but not known to survive a failover: pending; its outbox row stays
		// and Run re-applies it. No full sync: Redis lacks nothing it can be told.
		return fmt.Errorf("syncing %s to redis: %w", c.Action, err)
	}
	if err != nil {
		s.m.redisErrors.Inc()
		s.markDirty()
		return fmt.Errorf("syncing %s to redis: %w", c.Action, err)
	}
	if epoch == "" {
		// Redis lost its data (restart, FLUSHALL): the epoch check would see it within
		// a second; ask for the full sync now.
		s.markDirty()
	}
	s.m.success()
	return nil
}

// changeWrites seals the write of each of hashes read at rev: its live record in recs,
// or a tombstone carrying the key's identity from the store ("-" when it has none).
func (s *Syncer) changeWrites(ctx context.Context, hashes []keystore.KeyHash, recs map[keystore.KeyHash]wire.Record, rev int64) ([]write, error) {
	var dead []keystore.KeyHash
	for _, h := range hashes {
		if _, ok := recs[h]; !ok {
			dead = append(dead, h)
		}
	}
	var ids map[keystore.KeyHash]wire.Record
	if len(dead) > 0 {
		var err error
		if ids, err = s.src.KeyIdentities(ctx, dead); err != nil {
			return nil, err
		}
	}
	ps := make([]pending, len(hashes))
	for i, h := range hashes {
		if r, ok := recs[h]; ok {
			ps[i] = pendingRecord(h, r, rev)
		} else {
			ps[i] = pendingTomb(h, rev, ids[h])
		}
	}
	return sealWrites(s.key, ps, s.group(), now())
}

// NoteRevision implements keystore.RevisionNoter: it raises the revision marker to rev,
// a commit that changed no key record, so that the check of the marker does not take
// it for a change Redis lacks. A failure is only logged: the marker then stays behind,
// and the check runs a full sync (which Redis, failing, needs anyway).
func (s *Syncer) NoteRevision(ctx context.Context, rev int64) {
	timeout := s.cfg.ApplyTimeout
	if s.needFull.Load() {
		timeout = min(timeout, owedApplyTimeout)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	defer cancel()
	s.digests.sawChange(rev, nil)
	if err := s.raiseRev(ctx, rev); errors.Is(err, errMarkerLost) {
		return // logged by raised, and a full sync is owed
	} else if err != nil {
		s.m.redisErrors.Inc()
		s.log.Warn("redis sync: raising the revision marker failed", zap.Int64("rev", rev), zap.Error(err))
	}
}

var _ keystore.RevisionNoter = (*Syncer)(nil)

// owedApplyTimeout bounds an Apply made while a full sync is owed: the sync covers the
// change if the attempt fails (its commit precedes the sync's scan of the store).
const owedApplyTimeout = 250 * time.Millisecond

// dedupe returns hashes without repeats, in first-seen order.
func dedupe(hashes []keystore.KeyHash) []keystore.KeyHash {
	if len(hashes) <= 1 {
		return hashes
	}
	seen := make(map[keystore.KeyHash]struct{}, len(hashes))
	out := make([]keystore.KeyHash, 0, len(hashes))
	for _, h := range hashes {
		if _, ok := seen[h]; !ok {
			seen[h] = struct{}{}
			out = append(out, h)
		}
	}
	return out
}
