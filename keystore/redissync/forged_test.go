package redissync

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// The attacks of a writer to Redis that does not hold the admin's signing key, and how
// the store, the truth, wins over each at the full sync of an admin's start and at the
// periodic repair.

// forgedRoot is what one SET minted before records were signed: an owner of every
// project, at a rev that no write could ever beat.
func forgedRoot() wire.Record {
	return wire.Record{KeyID: "key_forged", SAID: "sa_root", SA: "root@ws-a", Workspace: "ws-a",
		State: keystore.KeyActive, Roles: map[string]keystore.Role{"*": keystore.RoleOwner}, Rev: 9_000_000_000_000_000_000}
}

func TestForgedValuesAreRepaired(t *testing.T) {
	ctx := context.Background()
	unsigned := func(t testing.TB, _ keystore.KeyHash, r wire.Record) []byte {
		b, err := wire.EncodeRecord(r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tombstoneAt := func(rev int64) wire.Record {
		return wire.Record{KeyID: "-", SAID: "-", SA: "-", Workspace: "-", State: keystore.KeyRevoked, Rev: rev}
	}
	withRev := func(r wire.Record, rev int64) wire.Record { r.Rev = rev; return r }
	tests := []struct {
		name   string
		key    int // the hash the value is written under; below 3: a live key of the store
		sealer func(testing.TB, keystore.KeyHash, wire.Record) []byte
		value  func(storeRev int64) wire.Record
	}{
		{"unsigned high-rev record of an unknown key", 100, unsigned, func(int64) wire.Record { return forgedRoot() }},
		{"forged-seal high-rev record of an unknown key", 100, forge, func(int64) wire.Record { return forgedRoot() }},
		{"admin-shaped record from the future", 100, forge, func(rev int64) wire.Record { return withRev(testRecord(100), rev+1) }},
		{"forged high-rev record over a live key", 1, forge, func(int64) wire.Record { return forgedRoot() }},
		{"unsigned escalated role of a live key", 1, unsigned, func(rev int64) wire.Record {
			r := withRev(testRecord(1), rev)
			r.Roles = map[string]keystore.Role{"*": keystore.RoleOwner}
			return r
		}},
		{"forged high-rev tombstone locking out a live key", 2, forge, func(int64) wire.Record { return tombstoneAt(1 << 62) }},
		{"tombstone from the future locking out a live key", 2, forge, func(rev int64) wire.Record { return tombstoneAt(rev + 1) }},
		{"live record with a bad signature, same content", 0, forge, func(rev int64) wire.Record { return withRev(testRecord(0), rev) }},
	}
	for _, mode := range []string{"full sync", "repair"} {
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				e := newEnv(t, Config{})
				e.fill(3)
				if _, err := e.s.Reconcile(ctx); err != nil {
					t.Fatal(err)
				}
				_, rev := e.src.snapshot()
				h := testHash(tt.key)
				if err := e.rdb.Set(ctx, wire.RedisKey(h), tt.sealer(t, h, tt.value(rev)), 0).Err(); err != nil {
					t.Fatal(err)
				}
				st, err := e.s.reconcile(ctx, mode == "full sync")
				if err != nil {
					t.Fatal(err)
				}
				if msg := e.mismatch(t); msg != "" { // e.record verifies every record it reads
					t.Fatal(msg)
				}
				got, ok := e.record(t, h)
				if !ok || got.Rev > rev {
					t.Errorf("record %+v after the %s, want the store's at a rev up to %d", got, mode, rev)
				}
				if tt.key >= 3 && (got.State != keystore.KeyRevoked || got.KeyID != "-") {
					t.Errorf("record of a key the store does not know: %+v, want an anonymous tombstone", got)
				}
				if mode == "repair" && st.Written+st.Removed != 1 {
					t.Errorf("repair stats %+v, want the one forged value rewritten", st)
				}
			})
		}
	}
}

// TestForgedMarkersAreRepaired: a revision marker from the future or an epoch that does
// not verify makes the admin's check run a full sync with a new epoch, which rewrites them.
func TestForgedMarkersAreRepaired(t *testing.T) {
	other, err := wire.GenerateSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		key    string
		forged func(storeRev int64) string
	}{
		{"revision marker of another signer", wire.RedisRev, func(rev int64) string {
			return wire.SealRev(other, 9_000_000_000_000_000_000)
		}},
		// Signed by the admin's key but above the store's revision: replayed from a store
		// that was ahead (restored from an older backup since), never written by this one.
		{"revision marker from the future", wire.RedisRev, func(rev int64) string {
			return wire.SealRev(keytest.SigningKey(t), rev+1000)
		}},
		{"unsigned revision marker", wire.RedisRev, func(rev int64) string { return strconv.FormatInt(rev+10, 10) }},
		{"epoch of another signer", wire.RedisEpoch, func(int64) string {
			return wire.SealMarker(other, wire.DomainEpoch, "1-0000000000000000")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, fastRun)
			ctx := context.Background()
			e.fill(3)
			startRun(t, e.s)
			waitFor(t, "the initial sync", func() bool { return e.s.Ready(ctx) == nil })
			_, rev := e.src.snapshot()
			first := e.epoch(t)
			if err := e.rdb.Set(ctx, tt.key, tt.forged(rev), 0).Err(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the markers to be rewritten", func() bool {
				v, err := e.rdb.Get(ctx, wire.RedisRev).Result()
				if err != nil {
					return false
				}
				r, err := wire.OpenRev(verifier(t), v)
				ep, _ := e.s.readEpoch(ctx)
				return err == nil && r == rev && ep != "" && ep != first
			})
			if msg := e.mismatch(t); msg != "" {
				t.Fatal(msg)
			}
		})
	}
}

// TestCASKeepsAConcurrentWrite: the compare-and-set that replaces a forged value leaves
// a value that changed since it was read (an Apply's write) alone.
func TestCASKeepsAConcurrentWrite(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	h := testHash(1)
	forged := forge(t, h, forgedRoot())
	applied := seal(t, h, withRev1(testRecord(1)))
	if err := e.rdb.Set(ctx, wire.RedisKey(h), applied, 0).Err(); err != nil {
		t.Fatal(err)
	}
	ws, err := sealWrites(e.s.key, []pending{pendingTomb(h, 1, wire.Record{})}, wire.MaxTreeLeaves, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	w := ws[0]
	ok, err := e.s.execCAS(ctx, []write{w}, [][]byte{forged})
	if err != nil || ok[0] {
		t.Fatalf("compare-and-set over a changed value: applied %v, %v", ok, err)
	}
	if got, _ := e.record(t, h); got.State != keystore.KeyActive {
		t.Errorf("the concurrent write was overwritten: %+v", got)
	}
	if ok, err := e.s.execCAS(ctx, []write{w}, [][]byte{applied}); err != nil || !ok[0] {
		t.Fatalf("compare-and-set over the value read: applied %v, %v", ok, err)
	}
}

func withRev1(r wire.Record) wire.Record { r.Rev = 1; return r }

// TestFoldClampsFutureTimes: a last-used time from the future (anyone who can write to
// Redis can write the hash) reaches the store as the fold's time, not later.
func TestFoldClampsFutureTimes(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := context.Background()
	if err := e.rdb.HSet(ctx, wire.RedisLastUsed, "key_1", "4102444800000").Err(); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := e.s.foldUsage(ctx); err != nil {
		t.Fatal(err)
	}
	got, ok := e.src.usesCopy()["key_1"]
	if !ok || got.After(time.Now()) || got.Before(before.Add(-time.Millisecond)) {
		t.Errorf("folded time %v (recorded %v), want the fold's time", got, ok)
	}
}
