package keycache

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore/wire"
)

// replayFlush puts back a record the admin once sealed for h (old: its bytes, as DUMP
// and RESTORE would), then makes the cache drop its entries the way the signed protocol
// can (a resync event), so that the next lookup asks Redis.
func (e *env) replayFlush(h wire.KeyHash, old []byte) {
	e.t.Helper()
	e.setRaw(wire.RedisKey(h), old)
	applied := e.cache.Stats().EventsApplied
	e.publish(wire.EventResync)
	e.waitEvents(applied + 1)
}

// change writes rec as h's record at the next revision and publishes the event, as the
// admin does: the record's revision is the event's.
func (e *env) change(h wire.KeyHash, rec wire.Record) wire.Record {
	e.t.Helper()
	rec.Rev = e.rev + 1
	e.put(h, rec)
	applied := e.cache.Stats().EventsApplied
	e.publish(wire.EventKeys, h)
	e.waitEvents(applied + 1)
	return rec
}

// revokeGone replaces h's record with a tombstone at the next revision and publishes the
// event flagging it gone, as the admin does.
func (e *env) revokeGone(h wire.KeyHash, rec wire.Record) {
	e.t.Helper()
	rec.State, rec.Rev = wire.KeyRevoked, e.rev+1
	e.put(h, rec)
	applied := e.cache.Stats().EventsApplied
	e.publishEvent(wire.Event{Kind: wire.EventKeys, Epoch: "e1", Hashes: []wire.KeyHash{h}, Gone: []bool{true}})
	e.waitEvents(applied + 1)
}

// pushOut looks up n other keys, so that h, cached in a one-shard cache of Size 8, is
// evicted to the floor list, and checks that it was.
func (e *env) pushOut(h wire.KeyHash, n int) {
	e.t.Helper()
	for range n {
		k, _ := e.putNew()
		e.lookup(k)
	}
	s := e.cache.shard(h)
	s.mu.Lock()
	i, _ := s.find(&h)
	kind := s.slots[i].kind
	s.mu.Unlock()
	if i == 0 || kind != slotFloor {
		e.t.Fatalf("after %d other keys: slot %d of kind %d, want a floor", n, i, kind)
	}
}

// TestReplayedRecordIsRefused: a cache that has seen a key revoked, or a newer record of
// it, never takes an older record of it back from Redis, even once the entry was
// evicted (its floor stays) and the cache flushed.
func TestReplayedRecordIsRefused(t *testing.T) {
	for _, evicted := range []bool{false, true} {
		name := "cached"
		if evicted {
			name = "evicted"
		}
		t.Run("revoked/"+name, func(t *testing.T) {
			e := newEnv(t, envOpts{cfg: Config{Size: 8}})
			h, rec := e.putNew()
			old := e.sealFor(h, rec)
			e.lookup(h)
			e.revokeGone(h, rec)
			if evicted {
				e.pushOut(h, 10)
			}
			e.replayFlush(h, old)
			for range 2 { // from Redis, then from the entry the refusal left
				ent, _ := e.lookup(h)
				if ent == nil || ent.Live(time.Now()) || ent.State() != wire.KeyRevoked {
					t.Fatalf("replayed active record of a revoked key: %+v, want it refused as revoked", ent)
				}
			}
			if st := e.cache.Stats(); st.OlderRecords == 0 {
				t.Error("the replay was not counted")
			}
		})
		t.Run("role lowered/"+name, func(t *testing.T) {
			e := newEnv(t, envOpts{cfg: Config{Size: 8}})
			h, rec := e.putNew()
			rec.Roles = map[string]wire.Role{wire.AllProjects: wire.RoleOwner}
			e.put(h, rec)
			old := e.sealFor(h, rec)
			e.lookup(h)
			lowered := rec
			lowered.Roles = map[string]wire.Role{wire.AllProjects: wire.RoleViewer}
			lowered = e.change(h, lowered)
			if ent, _ := e.lookup(h); ent == nil {
				t.Fatal("key lost")
			} else if role, _ := ent.RoleFor("p"); role != wire.RoleViewer {
				t.Fatalf("role %q after the change, want viewer", role)
			}
			if evicted {
				e.pushOut(h, 10)
			}
			e.replayFlush(h, old)
			ent, src, err := foundOf(e.cache.Lookup(context.Background(), h, testPolicy))
			switch {
			case evicted && (!errors.Is(err, ErrUnavailable) || ent != nil):
				t.Fatalf("replayed older record, entry evicted: %+v %v %v, want ErrUnavailable", ent, src, err)
			case !evicted && (err != nil || src != SourceStale || ent == nil):
				t.Fatalf("replayed older record, entry cached: %+v %v %v, want the newer entry as stale", ent, src, err)
			case ent != nil:
				if role, _ := ent.RoleFor("p"); role != wire.RoleViewer {
					t.Fatalf("role %q from a replayed record, want viewer", role)
				}
			}
			if st := e.cache.Stats(); st.OlderRecords == 0 {
				t.Error("the replay was not counted")
			}
			// The admin puts the store's state back: the key answers again.
			e.change(h, lowered)
			eventually(t, "the repaired record", func() bool {
				ent, src, err := foundOf(e.cache.Lookup(context.Background(), h, testPolicy))
				return err == nil && src != SourceStale && ent != nil
			})
		})
	}
}

// TestOldEventLeavesNewerEntry: an event whose revision is not above the cached
// record's (a copy of an old event, which verifies) leaves the entry fresh, so copies of
// old events cannot push entries out to the floor list; a newer one drops it.
func TestOldEventLeavesNewerEntry(t *testing.T) {
	e := newEnv(t, envOpts{})
	h, rec := e.putNew()
	rec.Rev = 5
	e.put(h, rec)
	e.lookup(h)
	publishAt := func(rev int64) {
		t.Helper()
		e.setRev(max(e.rev, rev))
		ev := wire.Event{Kind: wire.EventKeys, Rev: rev, Epoch: "e1", Hashes: []wire.KeyHash{h}}
		wire.SignEvent(e.sk, &ev)
		applied := e.cache.Stats().EventsApplied
		if _, _, err := wire.PublishEvent(context.Background(), e.rdb, ev, 0); err != nil {
			t.Fatal(err)
		}
		e.waitEvents(applied + 1)
	}
	publishAt(5)
	if _, src := e.lookup(h); src != SourceCache {
		t.Fatalf("after an event at the record's revision: %v, want cache", src)
	}
	rec.Rev = 6
	e.put(h, rec)
	publishAt(6)
	if _, src := e.lookup(h); src != SourceRedis {
		t.Fatalf("after a newer event: %v, want redis", src)
	}
}

// TestSlotRevClamps: a slot keeps revisions exactly up to 2^40-1 and clamps above, so
// that a floor never refuses a newer record.
func TestSlotRevClamps(t *testing.T) {
	for _, tt := range []struct{ in, want int64 }{
		{0, 0}, {1, 1}, {255, 255}, {1 << 32, 1 << 32}, {maxSlotRev, maxSlotRev},
		{maxSlotRev + 1, maxSlotRev}, {1 << 62, maxSlotRev}, {-3, 0},
	} {
		var r slotRev
		r.set(tt.in)
		if got := r.get(); got != tt.want {
			t.Errorf("slotRev of %d = %d, want %d", tt.in, got, tt.want)
		}
	}
}
