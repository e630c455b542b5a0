package redissync

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"

	"github.com/redis/go-redis/v9"
)

// repairBatch brings the records of hashes in line with the store, under s.mu: the store
// is the truth, whatever a stored rev says. It reads Redis first, then the store (so
// that a record an admin wrote carries a rev no higher than the store's), and for each key:
//
//   - a live key whose stored record has the same content at a rev not above the store's
//     is left alone if its bytes equal the record sealed afresh at that rev (Ed25519
//     signatures are deterministic: equal bytes mean equal content and a valid seal), so
//     checking costs a signature, not a verification;
//   - a key that is not live is left alone when Redis holds nothing or a tombstone that
//     verifies at a rev not above the store's;
//   - everything else is rewritten from the store at its revision R (a record, or a
//     tombstone carrying the key's identity): with the rev-checked script when the stored
//     rev is at most R (a concurrent Apply's newer record still wins), and with a
//     compare-and-set on the exact bytes read when the stored rev is above R (a rev from
//     the future is forged) or the value does not verify (the script could read another
//     rev in it than Go does); the compare-and-set never overwrites what an Apply wrote
//     meanwhile.
//
// With publish, the rewritten hashes are announced in a "keys" event, after the
// revision marker is raised to R. It returns R.
func (s *Syncer) repairBatch(ctx context.Context, hashes []keystore.KeyHash, publish bool, epoch string, st *ReconcileStats) (int64, error) {
	return s.repairBatchForce(ctx, hashes, publish, epoch, st, nil)
}

// repairBatchForce is repairBatch that also rewrites the live keys force names when
// Redis holds their record with the store's content: at R, above the revision Redis
// holds (watch.go: an older revision put back).
func (s *Syncer) repairBatchForce(ctx context.Context, hashes []keystore.KeyHash, publish bool, epoch string, st *ReconcileStats, force map[keystore.KeyHash]bool) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st.Checked += len(hashes)
	cur, err := s.readRecords(ctx, hashes)
	if err != nil {
		s.m.redisErrors.Inc()
		return 0, err
	}
	recs, rev, err := s.src.AuthRecords(ctx, hashes)
	if err != nil {
		return 0, fmt.Errorf("reading key records: %w", err)
	}
	same := s.sealedEqual(hashes, cur, recs, rev)
	var dead []keystore.KeyHash
	todo := make([]int, 0, len(hashes))
	unsigned := make([]bool, len(hashes)) // values that read as records but do not verify
	g := s.digests.digester()
	for i, h := range hashes {
		c := cur[i]
		forged := c.raw != nil && (!c.ok || c.rec.Rev > rev)
		if r, live := recs[h]; live {
			if same[i] && !force[h] {
				s.digests.confirm(g, h, r, c.raw)
				st.Unchanged++
				continue
			}
			forged = forged || c.ok && c.rec.Rev <= rev && sameRecord(c.rec, r) // same content, not our seal
		} else {
			tomb := c.ok && c.rec.State == keystore.KeyRevoked && c.rec.Rev <= rev
			if c.raw == nil {
				st.Unchanged++
				continue
			}
			if tomb && s.verifies(h, c.raw) {
				s.digests.confirmTomb(g, h, c.raw)
				st.Unchanged++
				continue
			}
			unsigned[i] = tomb // a tombstone that did not verify just above
			dead = append(dead, h)
		}
		if !unsigned[i] && c.raw != nil && c.ok && c.rec.Rev <= rev && !s.verifies(h, c.raw) {
			unsigned[i] = true
		}
		if unsigned[i] {
			// Not the admin's. The script reads its revision from the JSON by its own
			// rules, which may differ from Go's (a second "Rev" field, say), so it is
			// replaced by compare-and-set, whatever revision it claims.
			forged = true
		}
		if forged {
			s.m.forged.WithLabelValues("record").Inc()
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return rev, nil
	}
	var ids map[keystore.KeyHash]wire.Record
	if len(dead) > 0 {
		if ids, err = s.src.KeyIdentities(ctx, dead); err != nil {
			return 0, err
		}
	}
	ps := make([]pending, len(todo))
	for j, i := range todo {
		h := hashes[i]
		if r, ok := recs[h]; ok {
			ps[j] = pendingRecord(h, r, rev)
		} else {
			ps[j] = pendingTomb(h, rev, ids[h])
		}
	}
	ws, err := sealWrites(s.key, ps, s.group(), now())
	if err != nil {
		return 0, err
	}
	var checked, cas []write
	var casOld [][]byte
	for j, i := range todo {
		// A value from the future, one that does not even read as a record, or one that
		// does not verify (the script may read any of them otherwise) is replaced only
		// while it holds the bytes read.
		if c := cur[i]; c.raw != nil && (!c.ok || c.rec.Rev > rev || unsigned[i]) {
			cas, casOld = append(cas, ws[j]), append(casOld, c.raw)
		} else {
			checked = append(checked, ws[j])
		}
	}
	var changed []keystore.KeyHash
	count := func(w write, ok bool) {
		switch {
		case !ok:
			st.Unchanged++ // a newer record is there
		case w.tomb:
			st.Removed++
			changed = append(changed, w.hash)
		default:
			st.Written++
			changed = append(changed, w.hash)
		}
	}
	if len(checked) > 0 {
		applied, err := s.execWrites(ctx, checked)
		if err != nil {
			s.m.redisErrors.Inc()
			return 0, err
		}
		for i, w := range checked {
			count(w, applied[i])
		}
	}
	if len(cas) > 0 {
		applied, err := s.execCAS(ctx, cas, casOld)
		if err != nil {
			s.m.redisErrors.Inc()
			return 0, err
		}
		for i, w := range cas {
			count(w, applied[i])
		}
	}
	if publish && len(changed) > 0 {
		if err := s.raiseRev(ctx, rev); err != nil {
			s.m.redisErrors.Inc()
			return 0, err
		}
		if err := s.publish(ctx, wire.EventKeys, rev, epoch, changed); err != nil {
			s.m.redisErrors.Inc()
			return 0, err
		}
	}
	return rev, nil
}

// sealedEqual reports, for each of hashes whose key is live in recs, whether Redis holds
// exactly that record sealed by this Syncer at the stored rev (not above rev): a single
// seal equal to the record sealed afresh, or a seal in a group that verifies with the
// record's payload. The checks run on GOMAXPROCS goroutines.
func (s *Syncer) sealedEqual(hashes []keystore.KeyHash, cur []stored, recs map[keystore.KeyHash]wire.Record, rev int64) []bool {
	same := make([]bool, len(hashes))
	parallel(len(hashes), 64, func(i int) {
		c := cur[i]
		r, live := recs[hashes[i]]
		if !live || !c.ok || c.rec.Rev > rev || !sameRecord(c.rec, r) {
			return
		}
		r.Rev = c.rec.Rev
		if _, _, single := wire.SplitSealed(c.raw); !single {
			// Sealed in a group: its bytes depend on the group's other records, so it
			// is verified (a few hashes once its group's root verified) and its payload
			// compared.
			want, err := wire.EncodeRecord(r)
			got, verr := s.ver.Open(wire.DomainRecord, hashes[i].String(), c.raw)
			same[i] = err == nil && verr == nil && bytes.Equal(want, got)
			return
		}
		want, err := wire.SealRecord(s.key, hashes[i], r)
		same[i] = err == nil && bytes.Equal(want, c.raw)
	})
	return same
}

// verifies reports whether a stored record verifies with this Syncer's key.
func (s *Syncer) verifies(h keystore.KeyHash, raw []byte) bool {
	_, err := s.ver.Open(wire.DomainRecord, h.String(), raw)
	return err == nil
}

// parallel calls fn(0..n-1) on up to GOMAXPROCS goroutines, one for every per calls
// (inline when n is at most per).
func parallel(n, per int, fn func(int)) {
	workers := min(runtime.GOMAXPROCS(0), (n+per-1)/per)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var wg sync.WaitGroup
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// execCAS replaces each of ws's keys with its value while it still holds old[i], in one
// pipeline; applied[i] reports whether it did.
func (s *Syncer) execCAS(ctx context.Context, ws []write, old [][]byte) ([]bool, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(ws))
	for i, w := range ws {
		cmds[i] = casScript.Eval(ctx, pipe, []string{wire.RedisKey(w.hash)}, old[i], w.val, ttlArg(w.ttl))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("replacing %d records: %w", len(ws), err)
	}
	s.noteWrites(ws)
	applied := make([]bool, len(ws))
	for i, c := range cmds {
		n, err := c.Int()
		if err != nil {
			return nil, fmt.Errorf("replacing %d records: %w", len(ws), err)
		}
		applied[i] = n == 1
	}
	return applied, nil
}
