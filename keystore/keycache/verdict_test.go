package keycache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore/wire"
)

// setRaw writes value at key as someone other than the admin would.
func (e *env) setRaw(key string, value []byte) {
	e.t.Helper()
	if err := e.rdb.Set(context.Background(), key, value, 0).Err(); err != nil {
		e.t.Fatal(err)
	}
}

// sealFor returns rec sealed for h with the admin's key.
func (e *env) sealFor(h wire.KeyHash, rec wire.Record) []byte {
	e.t.Helper()
	b, err := wire.SealRecord(e.sk, h, rec)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// groupFor returns rec sealed for h in a group with a record of another key, signed by
// k (wire.SealBatch), as a full sync seals it.
func (e *env) groupFor(k wire.SigningKey, h wire.KeyHash, rec wire.Record) []byte {
	e.t.Helper()
	vals, err := wire.SealRecords(k, []wire.KeyHash{newHash(e.t), h}, []wire.Record{activeRecord(), rec})
	if err != nil {
		e.t.Fatal(err)
	}
	return vals[1]
}

// otherKey is a signing key the cache does not trust.
func otherKey(t testing.TB) wire.SigningKey {
	t.Helper()
	k, err := wire.SigningKeyFromSeed(bytes.Repeat([]byte{0x33}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// ownerRecord is the record an attacker would mint: owner of every project, at a
// revision no admin will reach.
func ownerRecord() wire.Record {
	r := activeRecord()
	r.Roles = map[string]wire.Role{wire.AllProjects: wire.RoleOwner}
	r.Rev = 9000000000000000000
	return r
}

// TestForgedRecordsAreRefused: a record the admin did not seal for this key hash is
// "cannot tell" (ErrUnavailable, or the stale entry of a key cached before), never an
// answer, never cached, and counted.
func TestForgedRecordsAreRefused(t *testing.T) {
	tests := []struct {
		name  string
		value func(e *env, h wire.KeyHash) []byte
	}{
		{"unsigned owner record", func(e *env, h wire.KeyHash) []byte {
			b, _ := wire.EncodeRecord(ownerRecord())
			return b
		}},
		{"sealed by another key", func(e *env, h wire.KeyHash) []byte {
			b, _ := wire.SealRecord(otherKey(e.t), h, ownerRecord())
			return b
		}},
		{"sealed for another key hash", func(e *env, h wire.KeyHash) []byte {
			return e.sealFor(newHash(e.t), activeRecord())
		}},
		{"unsigned tombstone", func(e *env, h wire.KeyHash) []byte {
			r := activeRecord()
			r.State, r.Rev = wire.KeyRevoked, 9000000000000000000
			b, _ := wire.EncodeRecord(r)
			return b
		}},
		{"verified record with its payload changed", func(e *env, h wire.KeyHash) []byte {
			sealed := e.sealFor(h, activeRecord())
			return bytes.Replace(sealed, []byte(`"viewer"`), []byte(`"owner"`), 1)
		}},
		{"garbage", func(e *env, h wire.KeyHash) []byte { return []byte("s1:not a signature") }},
		{"group sealed by another key", func(e *env, h wire.KeyHash) []byte {
			return e.groupFor(otherKey(e.t), h, ownerRecord())
		}},
		{"group member sealed for another key hash", func(e *env, h wire.KeyHash) []byte {
			return e.groupFor(e.sk, newHash(e.t), activeRecord())
		}},
		{"group member with its payload changed", func(e *env, h wire.KeyHash) []byte {
			return bytes.Replace(e.groupFor(e.sk, h, activeRecord()), []byte(`"viewer"`), []byte(`"owner"`), 1)
		}},
		{"group garbage", func(e *env, h wire.KeyHash) []byte { return []byte("s2:not a signature:{}") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			// A key never seen: ErrUnavailable, and nothing cached.
			h := newHash(t)
			e.setRaw(wire.RedisKey(h), tt.value(e, h))
			for range 2 {
				ent, _, err := foundOf(e.cache.Lookup(context.Background(), h, testPolicy))
				if !errors.Is(err, ErrUnavailable) || ent != nil {
					t.Fatalf("forged record of an unknown key: %+v, %v; want ErrUnavailable", ent, err)
				}
			}
			if got := e.cache.Stats().SignatureFailures.Records; got != 2 {
				t.Errorf("%d record signature failures, want 2 (nothing cached: each lookup asks again)", got)
			}
			// A key cached before, its record replaced by the forgery and its entry
			// flushed: the stale entry answers, as it would with Redis down.
			known, rec := e.putNew()
			e.lookup(known)
			e.setRaw(wire.RedisKey(known), tt.value(e, known))
			e.cache.flush("test")
			ent, src, err := foundOf(e.cache.Lookup(context.Background(), known, testPolicy))
			if err != nil || src != SourceStale || ent == nil || ent.KeyID() != rec.KeyID || !ent.Live(time.Now()) {
				t.Fatalf("forged record of a cached key: %+v from %v, %v; want the cached entry as stale", ent, src, err)
			}
			// The admin's record again: answered and cached.
			e.put(known, rec)
			if ent, src := e.lookup(known); src != SourceRedis || ent == nil || ent.KeyID() != rec.KeyID {
				t.Fatalf("after the admin rewrote it: %+v from %v", ent, src)
			}
		})
	}
}

// TestForgedMarkersAreRefused: an epoch or revision marker that does not verify makes
// the whole reply "cannot tell".
func TestForgedMarkersAreRefused(t *testing.T) {
	tests := []struct {
		name  string
		key   string
		value func(e *env) string
		count func(SignatureFailures) uint64
	}{
		{"unsigned epoch", wire.RedisEpoch, func(*env) string { return "e2" },
			func(s SignatureFailures) uint64 { return s.Epochs }},
		{"epoch sealed as a revision marker", wire.RedisEpoch, func(e *env) string { return wire.SealRev(e.sk, 5) },
			func(s SignatureFailures) uint64 { return s.Epochs }},
		{"unsigned revision marker", wire.RedisRev, func(*env) string { return "9000000000000000000" },
			func(s SignatureFailures) uint64 { return s.Revs }},
		{"revision marker sealed by another key", wire.RedisRev, func(e *env) string { return wire.SealRev(otherKey(e.t), 5) },
			func(s SignatureFailures) uint64 { return s.Revs }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envOpts{})
			h, _ := e.putNew()
			e.setRaw(tt.key, []byte(tt.value(e)))
			if _, _, err := e.cache.Lookup(context.Background(), h, testPolicy); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("lookup: %v, want ErrUnavailable", err)
			}
			if got := tt.count(e.cache.Stats().SignatureFailures); got != 1 {
				t.Errorf("%d failures counted, want 1", got)
			}
			if e.cache.Stats().Flushes > 1 { // the follower's first flush only
				t.Error("a forged epoch flushed the cache")
			}
		})
	}
}

// TestForgedEventChangesNothing: an event that does not verify is not applied: its gone
// flags do not refuse a valid key, and the cache is not flushed.
func TestForgedEventChangesNothing(t *testing.T) {
	e := newEnv(t, envOpts{})
	h, rec := e.putNew()
	e.lookup(h)
	if _, src := e.lookup(h); src != SourceCache {
		t.Fatalf("cached: %v", src)
	}
	before := e.cache.Stats()
	forged := wire.Event{Kind: wire.EventKeys, Epoch: "e1", Rev: 9000000000000000000,
		Hashes: []wire.KeyHash{h}, Gone: []bool{true}}
	forged.Sig = otherKey(t).Sign(wire.DomainEvent, "", wire.EventSigningPayload(forged))
	if _, _, err := wire.PublishEvent(context.Background(), e.rdb, forged, 0); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the forged event counted", func() bool { return e.cache.Stats().SignatureFailures.Events == 1 })
	if st := e.cache.Stats(); st.Flushes != before.Flushes || st.EventsApplied != before.EventsApplied {
		t.Fatalf("after a forged event: %d flushes, %d events applied (before %d, %d); want no change",
			st.Flushes, st.EventsApplied, before.Flushes, before.EventsApplied)
	}
	ent, src := e.lookup(h)
	if src != SourceCache || ent == nil || !ent.Live(time.Now()) || ent.KeyID() != rec.KeyID {
		t.Fatalf("valid key after a forged gone event: %+v from %v, want it live from the cache", ent, src)
	}
	// Its revision was not believed: Redis is not taken for behind.
	if got := e.cache.seenRev.Load(); got >= forged.Rev {
		t.Fatalf("seenRev %d taken from a forged event", got)
	}
	// The admin's events go on being applied.
	e.revoke(h, rec)
	eventually(t, "the revocation", func() bool {
		ent, _, err := foundOf(e.cache.Lookup(context.Background(), h, testPolicy))
		return err == nil && ent != nil && !ent.Live(time.Now())
	})
}

// TestRevisionNeverGoesBack: once the cache has seen a revision (in the marker or an
// event), a reply whose marker is missing or lower is "cannot tell" and caches nothing.
func TestRevisionNeverGoesBack(t *testing.T) {
	e := newEnv(t, envOpts{})
	cached, _ := e.putNew()
	e.setRev(10)
	e.lookup(cached)
	if got := e.cache.seenRev.Load(); got != 10 {
		t.Fatalf("seenRev %d after a reply with marker 10", got)
	}
	fresh, _ := e.putNew()
	for _, tc := range []struct {
		name  string
		apply func()
	}{
		{"lower marker", func() { e.setRev(9) }},
		{"missing marker", func() {
			if err := e.rdb.Del(context.Background(), wire.RedisRev).Err(); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		tc.apply()
		behind := e.cache.Stats().RedisBehind
		if _, _, err := e.cache.Lookup(context.Background(), fresh, testPolicy); !errors.Is(err, ErrUnavailable) {
			t.Fatalf("%s: unseen key: %v, want ErrUnavailable", tc.name, err)
		}
		e.cache.flush("test")
		ent, src, err := foundOf(e.cache.Lookup(context.Background(), cached, testPolicy))
		if err != nil || src != SourceStale || ent == nil {
			t.Fatalf("%s: cached key: %+v from %v, %v; want stale", tc.name, ent, src, err)
		}
		if got := e.cache.Stats().RedisBehind - behind; got != 2 {
			t.Errorf("%s: %d replies counted behind, want 2", tc.name, got)
		}
	}
	// A tombstone is final: even from a Redis that is behind, it refuses the key (and
	// a stale entry of the key does not answer instead).
	e.cache.flush("test")
	revoked := activeRecord()
	revoked.State = wire.KeyRevoked
	e.put(cached, revoked)
	if ent, src, err := e.cache.Lookup(context.Background(), cached, testPolicy); err != nil || !ent.Found() || ent.Live(time.Now()) || src != SourceRedis {
		t.Fatalf("a tombstone from a Redis behind: found %v, live %v, from %v, %v; want refused from redis", ent.Found(), ent.Live(time.Now()), src, err)
	}
	// A verified event's revision counts too: the marker (10) is now below it.
	e.setRev(10)
	applied := e.cache.Stats().EventsApplied
	ev := wire.Event{Kind: wire.EventKeys, Epoch: "e1", Rev: 12}
	wire.SignEvent(e.sk, &ev)
	if _, _, err := wire.PublishEvent(context.Background(), e.rdb, ev, 0); err != nil {
		t.Fatal(err)
	}
	e.waitEvents(applied + 1)
	if _, _, err := e.cache.Lookup(context.Background(), fresh, testPolicy); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("marker below an event's revision: %v, want ErrUnavailable", err)
	}
	// The admin catches Redis up: answers again.
	e.setRev(12)
	if ent, src := e.lookup(fresh); ent == nil || src != SourceRedis {
		t.Fatalf("marker caught up: %+v from %v", ent, src)
	}
}

// TestRedisRestoredFromAnOlderSnapshot: a real redis-server restarted with what it
// held before a revocation (records, markers, events of the time) must not let the
// revoked key in at a running cache, however long it is watched, until the admin
// repairs Redis.
func TestRedisRestoredFromAnOlderSnapshot(t *testing.T) {
	e := newEnv(t, envOpts{cfg: Config{LookupTimeout: time.Second}})
	h, rec := e.putNew()
	e.publish(wire.EventKeys, h)
	e.lookup(h)
	ctx := context.Background()
	snapshot := map[string]string{}
	for _, k := range []string{wire.RedisKey(h), wire.RedisEpoch, wire.RedisRev} {
		v, err := e.rdb.Get(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		snapshot[k] = v
	}
	applied := e.cache.Stats().EventsApplied
	e.revoke(h, rec)
	e.waitEvents(applied + 1)
	revokedAt := e.rev

	e.srv.Restart()
	for k, v := range snapshot {
		e.setRaw(k, []byte(v))
	}

	policy := Policy{TTL: 10 * time.Millisecond, StaleIfError: time.Hour}
	for i := range 50 {
		ent, src, err := foundOf(e.cache.Lookup(ctx, h, policy))
		if err == nil && ent != nil && ent.Live(time.Now()) {
			t.Fatalf("lookup %d after the restore: the revoked key is live (%v)", i, src)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if e.cache.Stats().RedisBehind == 0 {
		t.Error("no reply counted as behind")
	}
	// The admin repairs Redis: the tombstone, the marker, a new epoch.
	rec.State, rec.Rev = wire.KeyRevoked, revokedAt
	e.put(h, rec)
	e.setRev(revokedAt + 1)
	e.setEpoch("e2")
	eventually(t, "the tombstone after the repair", func() bool {
		ent, src, err := foundOf(e.cache.Lookup(ctx, h, policy))
		return err == nil && src == SourceRedis && ent != nil && ent.State() == wire.KeyRevoked
	})
}

// TestVerdicts: a record that verified is found by its digest, not verified again;
// another value or another key is not found; a bucket keeps its two newest.
func TestVerdicts(t *testing.T) {
	e := newEnv(t, envOpts{})
	h, rec := e.putNew()
	e.lookup(h)
	sealed := e.sealFor(h, rec)
	d := recordDigest(h, sealed)
	if !e.cache.verdicts.has(&d) {
		t.Fatal("the verdict of a record that verified is not kept")
	}
	other := recordDigest(newHash(t), sealed)
	if e.cache.verdicts.has(&other) {
		t.Fatal("the same value under another key has a verdict")
	}

	v := newVerdicts(0)
	if len(v.slots) != verdictMinSlots {
		t.Errorf("%d slots for a small cache, want %d", len(v.slots), verdictMinSlots)
	}
	if n := len(newVerdicts(100_000).slots); n != 1<<17 {
		t.Errorf("%d slots for 100,000 entries, want %d", n, 1<<17)
	}
	// Three digests of one bucket: the oldest goes.
	var a, b, c [32]byte
	a[31], b[31], c[31] = 1, 2, 3
	v.add(&a)
	v.add(&b)
	v.add(&b) // again: no change
	v.add(&c)
	if v.has(&a) || !v.has(&b) || !v.has(&c) {
		t.Errorf("bucket after a, b, b, c: has a %v b %v c %v; want b and c", v.has(&a), v.has(&b), v.has(&c))
	}
}

// TestMarkersVerifiedOnChange: an unchanged marker is not verified again, a changed
// one is.
func TestMarkersVerifiedOnChange(t *testing.T) {
	e := newEnv(t, envOpts{noStart: true})
	sk := e.sk
	good := wire.SealMarker(sk, wire.DomainEpoch, "e9")
	if text, err := e.cache.openEpoch(good); err != nil || text != "e9" {
		t.Fatalf("openEpoch: %q %v", text, err)
	}
	// A verifier that trusts nothing would refuse it: only the memo answers.
	e.cache.cfg.Verifier = wire.NewVerifier()
	if text, err := e.cache.openEpoch(good); err != nil || text != "e9" {
		t.Fatalf("unchanged epoch verified again: %q %v", text, err)
	}
	if _, err := e.cache.openEpoch(wire.SealMarker(sk, wire.DomainEpoch, "e10")); err == nil {
		t.Fatal("a changed epoch was not verified")
	}
	if _, err := e.cache.openEpoch(""); err == nil {
		t.Fatal("an empty epoch opened")
	}
}

// TestGroupSealedRecordsAnswer: records the admin sealed in one group (a full sync's) are
// each answered for their own key, the group's signature checked once.
func TestGroupSealedRecordsAnswer(t *testing.T) {
	e := newEnv(t, envOpts{})
	hashes := []wire.KeyHash{newHash(t), newHash(t), newHash(t)}
	recs := []wire.Record{activeRecord(), activeRecord(), activeRecord()}
	for i := range recs {
		recs[i].KeyID = fmt.Sprintf("key_group%d", i)
	}
	vals, err := wire.SealRecords(e.sk, hashes, recs)
	if err != nil {
		t.Fatal(err)
	}
	for i, h := range hashes {
		if !bytes.HasPrefix(vals[i], []byte("s2:")) {
			t.Fatalf("value %d is not sealed in a group", i)
		}
		e.setRaw(wire.RedisKey(h), vals[i])
	}
	for i, h := range hashes {
		if ent, src := e.lookup(h); src != SourceRedis || ent == nil || ent.KeyID() != recs[i].KeyID {
			t.Fatalf("key %d: %+v from %v", i, ent, src)
		}
	}
	if got := e.cache.Stats().SignatureFailures.Records; got != 0 {
		t.Errorf("%d record signature failures, want 0", got)
	}
}
