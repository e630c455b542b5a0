package redissync

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// fullSync makes Redis match one snapshot of the store and sets a new epoch; docs/protocol.md,
// "Full sync", explains why it needs no re-read and no lock against Apply.
//
// It lists the records Redis holds first (on an empty Redis that is one empty SCAN),
// then writes every live record as the store's scan yields them, then replaces the
// listed records of keys that are not live by tombstones and checks the records that
// the rev-checked writes kept (a higher rev: an Apply's, or a forgery), then sets the
// revision marker and, last, the epoch.
func (s *Syncer) fullSync(ctx context.Context, st *ReconcileStats) error {
	rev, err := s.src.Revision(ctx)
	if err != nil {
		return err
	}
	present, err := s.recordKeys(ctx, st)
	if err != nil {
		return err
	}
	live, kept, snapRev, err := s.writeSnapshot(ctx, present, st)
	if err != nil {
		return err
	}
	rev = max(rev, snapRev)
	for h := range present {
		if _, ok := live[h]; !ok {
			kept = append(kept, h)
		}
	}
	for b := range slices.Chunk(kept, batchSize) {
		r, err := s.repairBatch(ctx, b, false, "", st)
		if err != nil {
			return err
		}
		rev = max(rev, r)
	}
	return s.setEpoch(ctx, rev)
}

// recordKeys returns the hashes of the records Redis holds; keys under the record
// prefix that are not a key hash are deleted.
func (s *Syncer) recordKeys(ctx context.Context, st *ReconcileStats) (map[keystore.KeyHash]struct{}, error) {
	present := make(map[keystore.KeyHash]struct{})
	err := s.scanKeys(ctx, wire.RedisKeyPrefix+"*", func(keys []string) error {
		var junk []string
		for _, k := range keys {
			h, err := keystore.ParseKeyHash(strings.TrimPrefix(k, wire.RedisKeyPrefix))
			if err != nil {
				junk = append(junk, k)
				continue
			}
			present[h] = struct{}{} // SCAN may return a key twice
		}
		return s.deleteJunk(ctx, junk, st)
	})
	if err != nil {
		return nil, err
	}
	return present, nil
}

// snapshotBatch is one batch of the store's scan, sealed and written by a worker.
type snapshotBatch struct {
	hashes []keystore.KeyHash
	recs   []wire.Record
	at     time.Time
}

// writeSnapshot writes the records of ScanAuthRecords with the revision they carry, in
// batches of batchSize. 2×GOMAXPROCS workers seal (one signature per group of
// wire.MaxTreeLeaves) and write the batches while the store's scan reads the next ones.
// present holds the records Redis had before the scan. It returns the live hashes among
// present, the hashes whose stored record the rev-checked write kept (a higher rev), and
// the snapshot's revision (0 when the store holds no live key).
func (s *Syncer) writeSnapshot(ctx context.Context, present map[keystore.KeyHash]struct{}, st *ReconcileStats) (
	live map[keystore.KeyHash]struct{}, kept []keystore.KeyHash, rev int64, err error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan snapshotBatch, 1)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex // guards st, kept and werr
		werr error
		// Twice the cores: while half the workers wait on Redis for their pipeline, the
		// others seal (keyscale at 1M: a sync 12-15 % shorter than with one per core).
		workers = 2 * runtime.GOMAXPROCS(0)
	)
	for range workers {
		wg.Go(func() {
			for b := range batches {
				var bst ReconcileStats
				k, err := s.writeSnapshotBatch(ctx, b, present, &bst)
				mu.Lock()
				if err != nil && werr == nil {
					werr = err
					cancel(err)
				}
				st.Written += bst.Written
				kept = append(kept, k...)
				mu.Unlock()
			}
		})
	}
	send := func(b snapshotBatch) error {
		select {
		case batches <- b:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}

	live = make(map[keystore.KeyHash]struct{})
	var b snapshotBatch
	err = s.src.ScanAuthRecords(ctx, func(h keystore.KeyHash, r wire.Record) error {
		if r.Rev <= 0 {
			// Written with rev 0, it would lose to any stale record in Redis.
			return fmt.Errorf("record of key %s carries no store revision", r.KeyID)
		}
		if _, held := present[h]; held {
			// Only the keys Redis held are remembered (to tell which of them are not
			// live): an empty Redis costs no memory per key.
			if _, dup := live[h]; dup {
				return nil
			}
			live[h] = struct{}{}
		}
		rev = max(rev, r.Rev)
		if len(b.hashes) == 0 {
			b = snapshotBatch{hashes: make([]keystore.KeyHash, 0, batchSize), recs: make([]wire.Record, 0, batchSize), at: now()}
		}
		b.hashes, b.recs = append(b.hashes, h), append(b.recs, r)
		if len(b.hashes) == batchSize {
			if err := send(b); err != nil {
				return err
			}
			b = snapshotBatch{}
		}
		return nil
	})
	if err == nil && len(b.hashes) > 0 {
		err = send(b)
	}
	close(batches)
	wg.Wait()
	if werr != nil {
		return nil, nil, 0, werr // the write error, not the cancellation it caused in the scan
	}
	if err != nil {
		return nil, nil, 0, fmt.Errorf("scanning live keys: %w", err)
	}
	return live, kept, rev, nil
}

// writeSnapshotBatch seals and writes one batch of a store snapshot, counts the records
// written in st, and returns the hashes whose stored record was kept for its higher rev.
// A key that Redis did not hold when the sync began is written with SET NX: with no
// record there, there is no rev to compare, and SET NX is several times cheaper for
// Redis than the script. The other keys, and every SET NX that found a record (written
// since by Apply), go through the rev-checked script.
func (s *Syncer) writeSnapshotBatch(ctx context.Context, b snapshotBatch, present map[keystore.KeyHash]struct{}, st *ReconcileStats) ([]keystore.KeyHash, error) {
	ps := make([]pending, len(b.hashes))
	for i, h := range b.hashes {
		ps[i] = pendingRecord(h, b.recs[i], b.recs[i].Rev)
	}
	ws, err := sealWrites(s.key, ps, s.group(), b.at)
	if err != nil {
		return nil, err
	}
	checked := make([]write, 0, len(ws))
	pipe := s.rdb.Pipeline()
	var nx []write
	var cmds []*redis.BoolCmd
	for _, w := range ws {
		if _, ok := present[w.hash]; ok {
			checked = append(checked, w)
			continue
		}
		nx = append(nx, w)
		cmds = append(cmds, pipe.SetNX(ctx, wire.RedisKey(w.hash), w.val, w.ttl))
	}
	if len(cmds) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			s.m.redisErrors.Inc()
			return nil, fmt.Errorf("writing %d records: %w", len(cmds), err)
		}
		s.noteWrites(nx)
		for i, c := range cmds {
			if c.Val() {
				st.Written++
			} else {
				checked = append(checked, nx[i])
			}
		}
	}
	if len(checked) == 0 {
		return nil, nil
	}
	applied, err := s.execWrites(ctx, checked)
	if err != nil {
		s.m.redisErrors.Inc()
		return nil, err
	}
	var kept []keystore.KeyHash
	for i, ok := range applied {
		if ok {
			st.Written++
		} else {
			kept = append(kept, checked[i].hash) // a higher rev: checked by the repair
		}
	}
	return kept, nil
}
