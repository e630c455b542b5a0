package keycache

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore/wire"
)

// clusterEnv is a real Redis Cluster to which the test writes what the admin would:
// sealed records, the epoch, sagate:rev and the shard markers, and signed events.
type clusterEnv struct {
	t      *testing.T
	rdb    *redis.ClusterClient
	sk     wire.SigningKey
	shards wire.Shards
	rev    int64
}

// newClusterEnv writes the epoch and every revision marker at 1 to c.
func newClusterEnv(t *testing.T, c *redistest.Cluster) *clusterEnv {
	t.Helper()
	e := &clusterEnv{t: t, rdb: c.Client(), sk: keytest.SigningKey(t)}
	slots, err := e.rdb.ClusterSlots(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	e.shards = wire.ShardsOf(slots)
	if e.shards.Len() != 3 {
		t.Fatalf("the cluster has %d slot ranges, want 3", e.shards.Len())
	}
	e.raise(1)
	e.set(wire.RedisEpoch, wire.SealMarker(e.sk, wire.DomainEpoch, "e1"))
	return e
}

func (e *clusterEnv) set(key, val string) {
	e.t.Helper()
	if err := e.rdb.Set(context.Background(), key, val, 0).Err(); err != nil {
		e.t.Fatalf("writing %s: %v", key, err)
	}
}

// raise sets every shard marker, then sagate:rev, to rev, as the admin does.
func (e *clusterEnv) raise(rev int64) {
	e.t.Helper()
	e.rev = rev
	for _, k := range e.shards.Keys() {
		e.set(k, wire.SealShardRev(e.sk, k, rev))
	}
	e.set(wire.RedisRev, wire.SealRev(e.sk, rev))
}

// cache returns a started cache on a cluster client of its own whose follower has
// caught up.
func (e *clusterEnv) cache(c *redistest.Cluster) *Cache {
	e.t.Helper()
	cc := c.Client()
	ca := New(cc, Config{Verifier: testVerifier(e.t)})
	e.t.Cleanup(func() { _ = ca.Close() })
	ca.Start()
	eventually(e.t, "follower connected", func() bool { return ca.connected.Load() })
	return ca
}

// keyOn returns a fresh hash whose record lives in the slot range of marker.
func (e *clusterEnv) keyOn(marker string) wire.KeyHash {
	e.t.Helper()
	for range 10000 {
		h := newHash(e.t)
		if k, _ := e.shards.KeyFor(wire.RedisKey(h)); k == marker {
			return h
		}
	}
	e.t.Fatalf("no key found in the range of %s", marker)
	return wire.KeyHash{}
}

// put writes a live record for h.
func (e *clusterEnv) put(h wire.KeyHash) {
	e.t.Helper()
	b, err := wire.SealRecord(e.sk, h, activeRecord())
	if err != nil {
		e.t.Fatal(err)
	}
	e.set(wire.RedisKey(h), string(b))
}

// publish raises every marker to the next revision and appends a signed event naming h.
func (e *clusterEnv) publish(h wire.KeyHash) {
	e.t.Helper()
	e.raise(e.rev + 1)
	ev := wire.Event{Kind: wire.EventKeys, Rev: e.rev, Epoch: "e1", Hashes: []wire.KeyHash{h}}
	wire.SignEvent(e.sk, &ev)
	if _, _, err := wire.PublishEvent(context.Background(), e.rdb, ev, 0); err != nil {
		e.t.Fatal(err)
	}
}

// TestClusterShardGoesBack: on a Cluster, a shard whose marker is missing or below
// what the cache has seen is not answered from (a primary that lost writes or came back
// empty), while the other shards answer; a cache that has seen nothing answers the
// records a markerless shard holds, but not the absence of one.
func TestClusterShardGoesBack(t *testing.T) {
	c := redistest.StartCluster(t)
	e := newClusterEnv(t, c)
	ctx := context.Background()
	keys := e.shards.Keys()
	back, other := keys[0], keys[1]
	h1, h2, h3 := e.keyOn(back), e.keyOn(back), e.keyOn(other)
	for _, h := range []wire.KeyHash{h1, h2, h3} {
		e.put(h)
	}
	ca := e.cache(c)
	lookup := func(h wire.KeyHash) (Entry, error) {
		ent, _, err := ca.Lookup(ctx, h, Policy{})
		return ent, err
	}
	if ent, err := lookup(h1); err != nil || !ent.Found() {
		t.Fatalf("a key before any fault: %v, found %v", err, ent.Found())
	}
	e.publish(newHash(t)) // the cache has now seen revision 2
	eventually(t, "the cache to see revision 2", func() bool { return ca.seenRev.Load() == 2 })

	// The shard goes back to revision 1.
	e.set(back, wire.SealShardRev(e.sk, back, 1))
	behind := ca.Stats().RedisBehind
	if _, err := lookup(h2); !errors.Is(err, ErrUnavailable) {
		t.Errorf("a key on a shard gone back: %v, want ErrUnavailable", err)
	}
	if ca.Stats().RedisBehind <= behind {
		t.Error("the refusal was not counted in RedisBehind")
	}
	if ent, err := lookup(h3); err != nil || !ent.Found() {
		t.Errorf("a key on another shard: %v, found %v; want found", err, ent.Found())
	}
	if ent, err := lookup(e.keyOn(other)); err != nil || ent.Found() {
		t.Errorf("an unknown key on another shard: %v, found %v; want not found", err, ent.Found())
	}

	// The shard lost its marker (emptied), after the cache saw revision 2.
	if err := e.rdb.Del(ctx, back).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := lookup(h2); !errors.Is(err, ErrUnavailable) {
		t.Errorf("a key on a shard without its marker: %v, want ErrUnavailable", err)
	}
	// A cache that has seen nothing yet learns sagate:rev from its first reply, asks
	// again, and refuses the shard too, whether it holds the record or not; another
	// shard answers.
	fresh := New(c.Client(), Config{Verifier: testVerifier(t)})
	t.Cleanup(func() { _ = fresh.Close() })
	if _, _, err := fresh.Lookup(ctx, h2, Policy{}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("a new cache, a record on a shard without its marker: %v, want ErrUnavailable", err)
	}
	if ent, _, err := fresh.Lookup(ctx, e.keyOn(other), Policy{}); err != nil || ent.Found() {
		t.Errorf("a new cache, no record on a sound shard: %v, found %v; want not found", err, ent.Found())
	}
	// The same for a new cache whose first reply shows the shard below sagate:rev.
	e.set(back, wire.SealShardRev(e.sk, back, 1))
	for _, h := range []wire.KeyHash{h1, e.keyOn(back)} {
		fresh := New(c.Client(), Config{Verifier: testVerifier(t)})
		t.Cleanup(func() { _ = fresh.Close() })
		if _, _, err := fresh.Lookup(ctx, h, Policy{}); !errors.Is(err, ErrUnavailable) {
			t.Errorf("a new cache, a key on a shard below sagate:rev: %v, want ErrUnavailable", err)
		}
		if ent, _, err := fresh.Lookup(ctx, h3, Policy{}); err != nil || !ent.Found() {
			t.Errorf("a new cache, a key on another shard: %v, found %v; want found", err, ent.Found())
		}
	}

	// A reply that raced a change (its shard markers raised just before sagate:rev):
	// asked again, the shard has caught up and answers.
	racing := New(c.Client(), Config{Verifier: testVerifier(t)})
	t.Cleanup(func() { _ = racing.Close() })
	var once sync.Once
	racing.replyHook = func() { once.Do(func() { e.set(back, wire.SealShardRev(e.sk, back, e.rev)) }) }
	if ent, _, err := racing.Lookup(ctx, h1, Policy{}); err != nil || !ent.Found() {
		t.Errorf("a reply that raced a change, asked again: %v, found %v; want found", err, ent.Found())
	}
	if n := racing.Stats().Lookups; n != 2 {
		t.Errorf("the raced lookup took %d round trips, want 2", n)
	}

	// Another shard's marker copied onto this one does not verify.
	e.set(back, wire.SealShardRev(e.sk, other, e.rev))
	revs := ca.Stats().SignatureFailures.Revs
	if _, err := lookup(e.keyOn(back)); !errors.Is(err, ErrUnavailable) {
		t.Errorf("a key on a shard with a forged marker: %v, want ErrUnavailable", err)
	}
	if ca.Stats().SignatureFailures.Revs <= revs {
		t.Error("the forged shard marker was not counted")
	}

	// Repaired: answered again.
	e.raise(e.rev)
	if ent, err := lookup(h2); err != nil || !ent.Found() {
		t.Errorf("a key on the repaired shard: %v, found %v; want found", err, ent.Found())
	}
}
