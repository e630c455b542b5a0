package redissync

import (
	"context"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

func TestApply(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	e.fill(6)
	if _, err := e.s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	epoch := e.epoch(t)

	exp := time.Now().Add(time.Hour).UnixMilli()
	tests := []struct {
		name   string
		mutate func() (int64, []keystore.KeyHash)
		check  func(t *testing.T)
		gone   []int // the keys the event flags as gone (wire.Event.Gone)
	}{
		{
			name: "changed records are rewritten",
			mutate: func() (int64, []keystore.KeyHash) {
				var rev int64
				for _, i := range []int{0, 1} {
					r := testRecord(i)
					r.Roles = map[string]keystore.Role{"billing": keystore.RoleOwner}
					rev = e.src.put(testHash(i), r)
				}
				return rev, []keystore.KeyHash{testHash(0), testHash(1), testHash(0)}
			},
			check: func(t *testing.T) {
				for _, i := range []int{0, 1} {
					r, ok := e.record(t, testHash(i))
					if !ok || r.Roles["billing"] != keystore.RoleOwner || r.Roles["*"] != "" {
						t.Errorf("key %d: record %+v, want the new roles", i, r)
					}
				}
			},
		},
		{
			name: "a removed key gets a tombstone keeping its identity",
			mutate: func() (int64, []keystore.KeyHash) {
				return e.src.remove(testHash(2)), []keystore.KeyHash{testHash(2)}
			},
			gone: []int{2},
			check: func(t *testing.T) {
				r, ok := e.record(t, testHash(2))
				if !ok || r.State != keystore.KeyRevoked || r.KeyID != "key_2" || r.Live(time.Now()) {
					t.Errorf("record %+v, want a revoked tombstone of key_2", r)
				}
				ttl := e.rdb.PTTL(ctx, wire.RedisKey(testHash(2))).Val()
				if ttl <= 0 || ttl > tombstoneTTL {
					t.Errorf("tombstone TTL %v, want in (0, %v]", ttl, tombstoneTTL)
				}
			},
		},
		{
			name: "a key unknown to redis and store gets a tombstone",
			mutate: func() (int64, []keystore.KeyHash) {
				return e.src.remove(testHash(99)), []keystore.KeyHash{testHash(99)}
			},
			gone: []int{99},
			check: func(t *testing.T) {
				r, ok := e.record(t, testHash(99))
				if !ok || r.State != keystore.KeyRevoked || r.KeyID != "-" {
					t.Errorf("record %+v, want an anonymous tombstone", r)
				}
			},
		},
		{
			name: "a key with an expiry expires from redis after it",
			mutate: func() (int64, []keystore.KeyHash) {
				r := testRecord(10)
				r.Exp = exp
				return e.src.put(testHash(10), r), []keystore.KeyHash{testHash(10)}
			},
			check: func(t *testing.T) {
				r, ok := e.record(t, testHash(10))
				if !ok || r.Exp != exp || !r.Live(time.Now()) {
					t.Errorf("record %+v, want live with exp %d", r, exp)
				}
				ttl := e.rdb.PTTL(ctx, wire.RedisKey(testHash(10))).Val()
				if ttl <= time.Hour || ttl > time.Hour+expirySlack {
					t.Errorf("record TTL %v, want in (1h, %v]", ttl, time.Hour+expirySlack)
				}
				if ttl := e.rdb.PTTL(ctx, wire.RedisKey(testHash(3))).Val(); ttl != -1 {
					t.Errorf("record without expiry has TTL %v", ttl)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.events(t)
			rev, hashes := tt.mutate()
			if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "test", Hashes: hashes}); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			tt.check(t)
			_, storeRev := e.src.snapshot()
			for _, h := range hashes {
				if r, _ := e.record(t, h); r.Rev != storeRev {
					t.Errorf("record rev %d, want the read revision %d", r.Rev, storeRev)
				}
			}
			after := e.events(t)
			if len(after) != len(before)+1 {
				t.Fatalf("%d events published, want 1", len(after)-len(before))
			}
			ev := after[len(after)-1]
			want := hashSet(hashes)
			if ev.Kind != wire.EventKeys || ev.Rev != rev || ev.Epoch != epoch ||
				ev.Seq != before[len(before)-1].Seq+1 || len(ev.Hashes) != len(want) {
				t.Fatalf("event %+v, want kind keys, rev %d, epoch %s, next seq, %d hashes", ev, rev, epoch, len(want))
			}
			for _, h := range ev.Hashes {
				if !want[h] {
					t.Errorf("event carries a hash that the change did not touch")
				}
			}
			wantGone := map[keystore.KeyHash]bool{}
			for _, i := range tt.gone {
				wantGone[testHash(i)] = true
			}
			if len(tt.gone) == 0 && ev.Gone != nil {
				t.Errorf("event flags %v gone, want no flags", ev.Gone)
			}
			for i, h := range ev.Hashes {
				if g := i < len(ev.Gone) && ev.Gone[i]; g != wantGone[h] {
					t.Errorf("event hash %d: gone %v, want %v", i, g, wantGone[h])
				}
			}
			if msg := e.mismatch(t); msg != "" {
				t.Errorf("redis does not match the store: %s", msg)
			}
		})
	}
}

func TestApplySplitsLargeChanges(t *testing.T) {
	// Sealing 2,500 records is slow under -race on a loaded machine: this test is about
	// the split, not the bound.
	e := newEnv(t, Config{ApplyTimeout: 30 * time.Second})
	ctx := context.Background()
	const n = 2*maxEventHashes + 500
	e.fill(n)
	hashes := make([]keystore.KeyHash, n)
	for i := range hashes {
		hashes[i] = testHash(i)
	}
	// Every 7th key is gone: the flags must stay aligned with the hashes across the split.
	gone := map[keystore.KeyHash]bool{}
	for i := 0; i < n; i += 7 {
		e.src.remove(testHash(i))
		gone[testHash(i)] = true
	}
	_, rev := e.src.snapshot()
	if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "bulk", Hashes: hashes}); err != nil {
		t.Fatal(err)
	}
	evs := e.events(t)
	if len(evs) != 3 {
		t.Fatalf("%d events, want 3", len(evs))
	}
	seen := map[keystore.KeyHash]bool{}
	for i, ev := range evs {
		if ev.Seq != int64(i+1) || ev.Kind != wire.EventKeys || len(ev.Hashes) > maxEventHashes {
			t.Errorf("event %d: seq %d kind %s with %d hashes", i, ev.Seq, ev.Kind, len(ev.Hashes))
		}
		for j, h := range ev.Hashes {
			seen[h] = true
			if g := j < len(ev.Gone) && ev.Gone[j]; g != gone[h] {
				t.Errorf("event %d hash %d: gone %v, want %v", i, j, g, gone[h])
			}
		}
	}
	if len(seen) != n {
		t.Errorf("events carry %d distinct hashes, want %d", len(seen), n)
	}
	if msg := e.mismatch(t); msg != "" {
		t.Error(msg)
	}
}

func TestApplyRevCheck(t *testing.T) {
	newer := func(state keystore.KeyState, rev int64) wire.Record {
		r := testRecord(1)
		r.State, r.Rev = state, rev
		r.Roles = map[string]keystore.Role{"*": keystore.RoleOwner}
		return r
	}
	tests := []struct {
		name     string
		stored   wire.Record
		live     bool // the store holds key 1 (else it was removed)
		wantKept bool // the stored record must survive
	}{
		{"newer record beats an older write", newer(keystore.KeyActive, 100), true, true},
		{"newer tombstone is not brought back", newer(keystore.KeyRevoked, 100), true, true},
		{"newer record beats an older tombstone", newer(keystore.KeyActive, 100), false, true},
		{"equal revision is replaced", newer(keystore.KeyActive, 50), true, false},
		{"older record is replaced", newer(keystore.KeyActive, 49), true, false},
		{"older record is replaced by a tombstone", newer(keystore.KeyActive, 49), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			ctx := context.Background()
			if tt.live {
				e.src.put(testHash(1), testRecord(1))
			}
			e.src.mu.Lock()
			e.src.rev = 50
			e.src.mu.Unlock()
			if err := e.rdb.Set(ctx, wire.RedisKey(testHash(1)), seal(t, testHash(1), tt.stored), 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := e.s.Apply(ctx, keystore.Change{Rev: 50, Action: "test", Hashes: []keystore.KeyHash{testHash(1)}}); err != nil {
				t.Fatal(err)
			}
			got, _ := e.record(t, testHash(1))
			if kept := got.Rev == tt.stored.Rev && sameRecord(got, tt.stored); kept != tt.wantKept {
				t.Errorf("stored record kept = %v, want %v (now %+v)", kept, tt.wantKept, got)
			}
			if !tt.wantKept {
				if wantState := map[bool]keystore.KeyState{true: keystore.KeyActive, false: keystore.KeyRevoked}[tt.live]; got.State != wantState || got.Rev != 50 {
					t.Errorf("record %+v, want state %s at rev 50", got, wantState)
				}
			}
		})
	}
}

func TestApplyEdges(t *testing.T) {
	tests := []struct {
		name      string
		sync      bool // a full sync ran before
		cancelled bool // the caller's context is already cancelled
		wantFull  bool // a full sync is owed afterwards
	}{
		{name: "a cancelled caller does not stop a committed change", sync: true, cancelled: true},
		{name: "redis without epoch asks for a full sync", sync: false, wantFull: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			e.fill(2)
			if tt.sync {
				if _, err := e.s.Reconcile(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			if tt.cancelled {
				cancel()
			}
			defer cancel()
			rev := e.src.remove(testHash(1))
			if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "test", Hashes: []keystore.KeyHash{testHash(1)}}); err != nil {
				t.Fatalf("Apply: %v", err)
			}
			if r, ok := e.record(t, testHash(1)); !ok || r.State != keystore.KeyRevoked {
				t.Errorf("record %+v, want a tombstone", r)
			}
			if got := e.s.needFull.Load(); got != tt.wantFull {
				t.Errorf("full sync owed = %v, want %v", got, tt.wantFull)
			}
			evs := e.events(t)
			if last := evs[len(evs)-1]; last.Kind != wire.EventKeys || last.Rev != rev {
				t.Errorf("last event %+v, want the change's keys event", last)
			}
		})
	}
}
