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
)

// fullSync makes Redis match one snapshot of the store and sets a new epoch; doc.go,
// "Full sync", explains why it needs no re-read and no lock against Apply.
//
// It lists the records Redis holds first (on an empty Redis that is one empty SCAN),
// then writes every live record as the store's scan yields them, then replaces the
// listed records of keys that are not live by tombstones, and sets the epoch last.
func (s *Syncer) fullSync(ctx context.Context, st *ReconcileStats) error {
	present, err := s.recordKeys(ctx, st)
	if err != nil {
		return err
	}
	live, rev, err := s.writeSnapshot(ctx, present, st)
	if err != nil {
		return err
	}
	var stale []keystore.KeyHash
	for h := range present {
		if _, ok := live[h]; !ok {
			stale = append(stale, h)
		}
	}
	for b := range slices.Chunk(stale, batchSize) {
		r, err := s.syncBatch(ctx, b, true, false, "", st)
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
	err := s.scanKeys(ctx, keystore.RedisKeyPrefix+"*", func(keys []string) error {
		var junk []string
		for _, k := range keys {
			h, err := keystore.ParseKeyHash(strings.TrimPrefix(k, keystore.RedisKeyPrefix))
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

// writeSnapshot writes the records of ScanAuthRecords with the revision they carry, in
// batches of batchSize, one or two pipelines each; the next batch is read from the store
// while the previous one is being written. present holds the records Redis had before
// the scan. It returns the live hashes and the snapshot's revision (0 when the store
// holds no live key).
func (s *Syncer) writeSnapshot(ctx context.Context, present map[keystore.KeyHash]struct{}, st *ReconcileStats) (map[keystore.KeyHash]struct{}, int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	batches := make(chan []write, 1)
	done := make(chan error, 1)
	go func() {
		var err error
		for ws := range batches {
			if err != nil {
				continue // drain: the scan stops at its next batch
			}
			if err = s.writeSnapshotBatch(ctx, ws, present, st); err != nil {
				cancel(err)
			}
		}
		done <- err
	}()
	send := func(ws []write) error {
		select {
		case batches <- ws:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}

	live := make(map[keystore.KeyHash]struct{})
	var rev int64
	var at time.Time
	ws := make([]write, 0, batchSize)
	err := s.src.ScanAuthRecords(ctx, func(h keystore.KeyHash, r keystore.Record) error {
		if r.Rev <= 0 {
			// Written with rev 0, it would lose to any stale record in Redis.
			return fmt.Errorf("record of key %s carries no store revision", r.KeyID)
		}
		if _, dup := live[h]; dup {
			return nil
		}
		live[h] = struct{}{}
		rev = max(rev, r.Rev)
		if len(ws) == 0 {
			at = now()
		}
		w, err := recordWrite(h, r, r.Rev, at)
		if err != nil {
			return err
		}
		if ws = append(ws, w); len(ws) == batchSize {
			if err := send(ws); err != nil {
				return err
			}
			ws = make([]write, 0, batchSize)
		}
		return nil
	})
	if err == nil && len(ws) > 0 {
		err = send(ws)
	}
	close(batches)
	if werr := <-done; werr != nil {
		return nil, 0, werr // the write error, not the cancellation it caused in the scan
	}
	if err != nil {
		return nil, 0, fmt.Errorf("scanning live keys: %w", err)
	}
	return live, rev, nil
}

// writeSnapshotBatch writes records of one store snapshot and counts the outcome in st.
// A key that Redis did not hold when the sync began is written with SET NX: with no
// record there, there is no rev to compare, and SET NX is several times cheaper for
// Redis than the script. The other keys, and every SET NX that found a record (written
// since by Apply), go through the rev-checked script.
func (s *Syncer) writeSnapshotBatch(ctx context.Context, ws []write, present map[keystore.KeyHash]struct{}, st *ReconcileStats) error {
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
		cmds = append(cmds, pipe.SetNX(ctx, keystore.RedisKey(w.hash), w.val, w.ttl))
	}
	if len(cmds) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			s.m.redisErrors.Inc()
			return fmt.Errorf("writing %d records: %w", len(cmds), err)
		}
		for i, c := range cmds {
			if c.Val() {
				st.Written++
			} else {
				checked = append(checked, nx[i])
			}
		}
	}
	if len(checked) == 0 {
		return nil
	}
	applied, err := s.execWrites(ctx, checked)
	if err != nil {
		s.m.redisErrors.Inc()
		return err
	}
	for _, ok := range applied {
		if ok {
			st.Written++
		} else {
			st.Unchanged++ // a newer record is there
		}
	}
	return nil
}
