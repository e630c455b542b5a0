package redissync

import (
	"context"
	"testing"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

func TestReconcileFullSyncAfterFlushAll(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	const n = 2*batchSize + 300 // several batches
	e.fill(n)

	for round := range 2 {
		if round == 1 {
			if err := e.rdb.FlushAll(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			if err := e.s.Ready(ctx); err == nil {
				t.Fatal("Ready after FLUSHALL, want an error")
			}
		}
		st, err := e.s.Reconcile(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !st.NewEpoch || st.Written != n || st.Removed != 0 {
			t.Errorf("round %d: stats %+v, want a new epoch and %d written", round, st, n)
		}
		if err := e.s.Ready(ctx); err != nil {
			t.Errorf("round %d: Ready: %v", round, err)
		}
		if msg := e.mismatch(t); msg != "" {
			t.Errorf("round %d: %s", round, msg)
		}
		evs := e.events(t)
		last := evs[len(evs)-1]
		if last.Kind != wire.EventResync || last.Epoch == "" || last.Epoch != e.epoch(t) {
			t.Errorf("round %d: last event %+v, want a resync carrying epoch %q", round, last, e.epoch(t))
		}
	}
}

func TestReconcileRepairs(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	e.fill(20)
	if _, err := e.s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	epoch := e.epoch(t)
	nEvents := len(e.events(t))

	set := func(h keystore.KeyHash, r wire.Record) {
		t.Helper()
		if err := e.rdb.Set(ctx, wire.RedisKey(h), seal(t, h, r), 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Damage Redis in every way a reconcile must repair, and add what it must leave.
	altered := testRecord(3)
	altered.Roles = map[string]keystore.Role{"*": keystore.RoleOwner} // an escalated role
	set(testHash(3), altered)
	deactivated := testRecord(4)
	deactivated.State = keystore.KeyDeactivated
	set(testHash(4), deactivated)                                                                                     // the store says active
	e.rdb.Del(ctx, wire.RedisKey(testHash(5)))                                                                        // a lost record
	set(testHash(500), testRecord(500))                                                                               // a stray live-looking record
	set(testHash(501), wire.Record{KeyID: "key_501", SAID: "-", SA: "-", Workspace: "-", State: keystore.KeyRevoked}) // a tombstone: left
	e.rdb.Set(ctx, wire.RedisKeyPrefix+"not-a-hash", "x", 0)                                                          // junk under the prefix
	e.rdb.Set(ctx, wire.RedisKey(testHash(502)), "{garbage", 0)                                                       // undecodable

	st, err := e.s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.NewEpoch || st.Written != 3 || st.Removed != 3 || st.Unchanged != 18 {
		t.Errorf("stats %+v, want 3 written, 3 removed, 18 unchanged, no new epoch", st)
	}
	if msg := e.mismatch(t); msg != "" {
		t.Fatal(msg)
	}
	if got := e.epoch(t); got != epoch {
		t.Errorf("epoch changed from %q to %q", epoch, got)
	}
	if n := e.rdb.Exists(ctx, wire.RedisKeyPrefix+"not-a-hash").Val(); n != 0 {
		t.Error("junk key under the record prefix was not deleted")
	}
	if r, _ := e.record(t, testHash(500)); r.State != keystore.KeyRevoked || r.KeyID != "-" {
		t.Errorf("stray record is %+v, want a tombstone (without identity: the store does not know the key)", r)
	}
	evs := e.events(t)[nEvents:]
	got := map[keystore.KeyHash]bool{}
	for _, ev := range evs {
		if ev.Kind != wire.EventKeys || ev.Epoch != epoch {
			t.Errorf("event %+v, want kind keys with epoch %q", ev, epoch)
		}
		for _, h := range ev.Hashes {
			got[h] = true
		}
	}
	want := hashSet([]keystore.KeyHash{testHash(3), testHash(4), testHash(5), testHash(500), testHash(502)})
	if len(got) != len(want) {
		t.Errorf("events carry %d hashes, want %d", len(got), len(want))
	}
	for h := range want {
		if !got[h] {
			t.Errorf("a repaired hash was not published")
		}
	}

	// A second pass finds nothing to do and publishes nothing.
	st, err = e.s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != 0 || st.Removed != 0 || len(e.events(t)) != nEvents+len(evs) {
		t.Errorf("second reconcile: %+v, and events were published", st)
	}
}

func TestReconcileStoreError(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	e.fill(3)
	e.src.mu.Lock()
	e.src.authErr = errStoreDown
	e.src.mu.Unlock()
	if _, err := e.s.Reconcile(ctx); err == nil {
		t.Fatal("Reconcile succeeded while the store fails")
	}
	if e.epoch(t) != "" {
		t.Error("a failed full sync set the epoch marker")
	}
}
