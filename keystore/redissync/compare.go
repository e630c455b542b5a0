package redissync

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// repairPass is the periodic repair of a Redis that holds an epoch: it finds the keys
// where Redis may differ from the store by comparing fingerprints and digests
// (digestSet), and hands only those to repairBatch, which checks them exactly (sealing
// afresh) and rewrites what differs. Three steps:
//
//  1. The store's scan: a live key whose record has the fingerprint of the entry's live
//     content is marked confirmed; every other live key (changed in the store, written
//     by another admin, never seen) is checked exactly. The step is skipped when the
//     store has not moved since the last complete scan but by changes this Syncer was
//     told of (quiet.go): then only the keys of those changes are checked exactly, and
//     the entries flagged flagLive are the confirmed ones.
//  2. Redis' scan (SCAN, then the values in batches): a value passes when its digest is
//     the entry's and the entry is a tombstone, a live record confirmed in step 1, or
//     written or checked exactly during this pass. Every other value (replaced, forged,
//     a record of a key no longer live, another admin's write) is checked exactly.
//  3. A confirmed live key whose value step 2 did not find was deleted from Redis: the
//     store is scanned once more for those keys, which are checked exactly. Entries
//     neither confirmed, found nor fresh (keys gone from both) are dropped.
//
// A record that is replaced, forged or deleted therefore fails its comparison and is
// put right by this pass; a key whose store record changed moved the store's revision,
// so step 1 checks it, by the scan or among the changes.
func (s *Syncer) repairPass(ctx context.Context, epoch string, st *ReconcileStats) (err error) {
	d := s.digests
	rev, err := s.src.Revision(ctx)
	if err != nil {
		return err
	}
	expired := true // a source that cannot tell is scanned every pass
	if er, ok := s.src.(keystore.ExpiryReporter); ok {
		next, err := er.NextExpiry(ctx)
		if err != nil {
			return fmt.Errorf("reading the next expiry: %w", err)
		}
		expired = !next.IsZero() && !next.After(now())
	}
	scan, changed := d.startPass(rev, now(), expired)
	st.StoreScanned = scan
	defer func() {
		missing := d.endPass(err == nil)
		if err == nil && len(missing) > 0 {
			err = s.repairMissing(ctx, missing, epoch, st)
		}
	}()
	if scan {
		if changed, err = s.compareStore(ctx, st); err != nil {
			return err
		}
	}
	for b := range slices.Chunk(changed, batchSize) {
		if _, err := s.repairBatch(ctx, b, true, epoch, st); err != nil {
			return err
		}
	}
	return s.compareRedis(ctx, epoch, st)
}

// compareStore is step 1 of repairPass: it returns the live keys whose record does not
// match their entry.
func (s *Syncer) compareStore(ctx context.Context, st *ReconcileStats) ([]keystore.KeyHash, error) {
	d, g := s.digests, s.digests.digester()
	type item struct {
		h  keystore.KeyHash
		fp uint64
	}
	var slow []keystore.KeyHash
	batch := make([]item, 0, batchSize)
	slots := make([]uint64, 0, batchSize)
	flush := func() {
		slots = slots[:0]
		for _, it := range batch {
			slots = append(slots, slot(it.h))
		}
		d.mu.Lock()
		defer d.mu.Unlock()
		d.m.touch(slots)
		for _, it := range batch {
			if e := d.m.get(slot(it.h)); e != nil && e.fingerprint() == it.fp {
				e.content |= flagConfirmed
				continue
			}
			slow = append(slow, it.h)
		}
		batch = batch[:0]
	}
	err := s.src.ScanAuthRecords(ctx, func(h keystore.KeyHash, r wire.Record) error {
		batch = append(batch, item{h, g.scanRecord(h, r)})
		if len(batch) == batchSize {
			flush()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scanning live keys: %w", err)
	}
	flush()
	return slow, nil
}

// compareRedis is step 2 of repairPass.
func (s *Syncer) compareRedis(ctx context.Context, epoch string, st *ReconcileStats) error {
	d, g := s.digests, s.digests.digester()
	return s.scanKeys(ctx, wire.RedisKeyPrefix+"*", func(keys []string) error {
		var junk []string
		hashes := make([]keystore.KeyHash, 0, len(keys))
		names := make([]string, 0, len(keys))
		for _, k := range keys {
			h, err := keystore.ParseKeyHash(strings.TrimPrefix(k, wire.RedisKeyPrefix))
			if err != nil {
				junk = append(junk, k)
				continue
			}
			hashes, names = append(hashes, h), append(names, k)
		}
		if err := s.deleteJunk(ctx, junk, st); err != nil {
			return err
		}
		vals, held, err := s.readValues(ctx, names)
		if err != nil {
			s.m.redisErrors.Inc()
			return err
		}
		sums := make([]uint64, len(vals))
		for i, v := range vals {
			if held[i] {
				sums[i] = g.valueString(hashes[i], v)
			}
		}
		slots := make([]uint64, len(hashes))
		for i, h := range hashes {
			slots[i] = slot(h)
		}
		var slow []keystore.KeyHash
		d.mu.Lock()
		d.m.touch(slots)
		for i, h := range hashes {
			if !held[i] {
				continue // gone since the SCAN: step 3 finds it if it was live
			}
			e := d.m.get(slot(h))
			if e != nil && e.value == sums[i] && e.content&(flagTomb|d.confirmed|d.fresh) != 0 {
				if e.content&(flagSeen|d.fresh) == 0 {
					st.Unchanged++ // once; the exact check counted the fresh ones
				}
				e.content |= flagSeen
				continue
			}
			slow = append(slow, h)
		}
		d.mu.Unlock()
		if len(slow) == 0 {
			return nil
		}
		_, err = s.repairBatch(ctx, slow, true, epoch, st)
		return err
	})
}

// repairMissing is step 3 of repairPass: it finds in the store the live keys of the
// entries in missing and checks them exactly.
func (s *Syncer) repairMissing(ctx context.Context, missing map[uint64]struct{}, epoch string, st *ReconcileStats) error {
	var hashes []keystore.KeyHash
	err := s.src.ScanAuthRecords(ctx, func(h keystore.KeyHash, _ wire.Record) error {
		if _, ok := missing[slot(h)]; ok {
			hashes = append(hashes, h)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("scanning live keys: %w", err)
	}
	for b := range slices.Chunk(hashes, batchSize) {
		if _, err := s.repairBatch(ctx, b, true, epoch, st); err != nil {
			return err
		}
	}
	return nil
}

// readValues returns the values of keys, held[i] false where a key is missing: one
// MGET on a single server, a pipeline of GETs on a cluster, where the keys fall in
// many slots.
func (s *Syncer) readValues(ctx context.Context, keys []string) (vals []string, held []bool, err error) {
	vals, held = make([]string, len(keys)), make([]bool, len(keys))
	if len(keys) == 0 {
		return vals, held, nil
	}
	if _, cluster := s.rdb.(*redis.ClusterClient); cluster {
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(keys))
		for i, k := range keys {
			cmds[i] = pipe.Get(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, nil, fmt.Errorf("reading %d records: %w", len(keys), err)
		}
		for i, c := range cmds {
			if v, err := c.Result(); err == nil {
				vals[i], held[i] = v, true
			}
		}
		return vals, held, nil
	}
	res, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, nil, fmt.Errorf("reading %d records: %w", len(keys), err)
	}
	for i, v := range res {
		vals[i], held[i] = v.(string)
	}
	return vals, held, nil
}

// startPass begins a repair pass at time t with the store at revision rev, expired
// telling whether a key may have expired unannounced: what is noted from now on is
// fresh. It reports whether the pass must scan the store (step 1); when it need not, it
// returns the keys of the changes since the last pass, to check exactly (quiet.go).
func (d *digestSet) startPass(rev int64, t time.Time, expired bool) (scan bool, changed []keystore.KeyHash) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.fresh ^= flagFreshA | flagFreshB
	if skip, changed := d.skipScan(rev, t, expired); skip {
		d.confirmed = flagLive
		return false, changed
	}
	d.confirmed = flagConfirmed
	d.startScan(rev, t)
	return true, nil
}

// endPass ends a repair pass: when complete, it returns the slots of confirmed live
// entries that Redis did not show (deleted there) and drops the entries the pass found
// neither in the store nor in Redis; in any case it clears the pass's flags. After a
// complete pass that scanned the store, flagLive marks exactly the entries it confirmed
// and those noted live at the quiet revision during it, and the quiet store is valid;
// after one that did not complete, it is not.
func (d *digestSet) endPass(complete bool) map[uint64]struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	scanned := d.confirmed == flagConfirmed
	var missing map[uint64]struct{}
	d.m.each(func(k uint64, e *digestEntry) bool {
		f := e.content & (d.confirmed | flagSeen | d.fresh)
		switch {
		case !complete:
		case f&d.confirmed != 0 && f&(flagSeen|d.fresh) == 0:
			if missing == nil {
				missing = make(map[uint64]struct{})
			}
			missing[k] = struct{}{}
		case f == 0:
			return true
		}
		if scanned {
			// flagLive from before this pass is for an older scan.
			live := e.content&flagConfirmed != 0 || e.content&(flagLive|d.fresh) == flagLive|d.fresh
			e.content &^= flagLive
			if live && complete {
				e.content |= flagLive
			}
		}
		e.content &^= passFlags
		return false
	})
	if scanned || !complete {
		d.quiet.valid = complete
	}
	d.confirmed = flagConfirmed
	return missing
}
