package redissync

import (
	"context"
	"testing"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// killingSource kills Redis once the scan has handed over kill records, so that the
// full sync's writer fails while the store's scan is still running.
type killingSource struct {
	*memSource
	kill int
	e    *env
}

func (k killingSource) ScanAuthRecords(ctx context.Context, fn func(keystore.KeyHash, wire.Record) error) error {
	n := 0
	return k.memSource.ScanAuthRecords(ctx, func(h keystore.KeyHash, r wire.Record) error {
		if n++; n == k.kill {
			k.e.srv.Kill()
		}
		return fn(h, r)
	})
}

// TestFullSyncRedisFailsDuringScan: Redis dies in the middle of a full sync; the sync
// returns the write error (it does not hang on the scan or the writer), and no epoch
// is set once Redis is back.
func TestFullSyncRedisFailsDuringScan(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	e.fill(3*batchSize + 10)
	s := newSyncer(t, e.rdb, killingSource{memSource: e.src, kill: batchSize + 5, e: e}, Config{})
	if _, err := s.Reconcile(ctx); err == nil {
		t.Fatal("Reconcile succeeded while Redis was killed during the sync")
	}
	e.srv.Restart()
	if got := e.epoch(t); got != "" {
		t.Errorf("epoch %q after a failed full sync", got)
	}
	// A later sync completes it.
	st, err := e.s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.NewEpoch || st.Written != 3*batchSize+10 {
		t.Errorf("stats %+v, want every record written with a new epoch", st)
	}
	if msg := e.mismatch(t); msg != "" {
		t.Error(msg)
	}
}

// TestFullSyncKeepsNewerRecords: a full sync over records that Apply wrote at a later
// revision than the sync's snapshot (present before the sync, or written between its
// listing of Redis and its writes) keeps them, and writes stale ones over.
func TestFullSyncKeepsNewerRecords(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	e.fill(4)
	recs, rev := e.src.snapshot()
	// The sync's scan sees the store at rev; an Apply then commits key 0 deactivated at
	// rev+1 and writes it, and something older than the snapshot is left for key 1.
	src := staleScan{memSource: e.src, recs: recs, rev: rev}
	newer := testRecord(0)
	newer.State = keystore.KeyDeactivated
	e.src.put(testHash(0), newer)
	older := testRecord(1)
	older.State = keystore.KeyDeactivated
	ws := []write{mustWrite(t, testHash(0), newer, rev+1), mustWrite(t, testHash(1), older, rev-1)}
	if _, err := e.s.execWrites(ctx, ws); err != nil {
		t.Fatal(err)
	}
	st, err := newSyncer(t, e.rdb, src, Config{}).Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.NewEpoch || st.Written != 3 || st.Unchanged != 1 {
		t.Errorf("stats %+v, want 3 written and the newer record unchanged", st)
	}
	if r, _ := e.record(t, testHash(0)); r.Rev != rev+1 || r.State != keystore.KeyDeactivated {
		t.Errorf("newer record replaced: %+v", r)
	}
	if r, _ := e.record(t, testHash(1)); r.Rev != rev || r.State != keystore.KeyActive {
		t.Errorf("older record kept: %+v", r)
	}
}

// staleScan is a store whose full scan returns an older snapshot (recs at rev), as a
// scan that began before later commits does.
type staleScan struct {
	*memSource
	recs map[keystore.KeyHash]wire.Record
	rev  int64
}

func (s staleScan) ScanAuthRecords(ctx context.Context, fn func(keystore.KeyHash, wire.Record) error) error {
	for h, r := range s.recs {
		r.Rev = s.rev
		if err := fn(h, r); err != nil {
			return err
		}
	}
	return nil
}

func mustWrite(t *testing.T, h keystore.KeyHash, r wire.Record, rev int64) write {
	t.Helper()
	ws, err := sealWrites(keytest.SigningKey(t), []pending{pendingRecord(h, r, rev)}, wire.MaxTreeLeaves, now())
	if err != nil {
		t.Fatal(err)
	}
	return ws[0]
}
