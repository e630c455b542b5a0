package redissync

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// clusterEnv is a real Redis Cluster (three primaries, a replica each), a fake store
// and a running Syncer on a cluster client.
type clusterEnv struct {
	c   *redistest.Cluster
	rdb *redis.ClusterClient
	src *memSource
	s   *Syncer
}

func newClusterEnv(t *testing.T, keys int, checkEvery time.Duration) *clusterEnv {
	t.Helper()
	c := redistest.StartCluster(t)
	e := &clusterEnv{c: c, rdb: c.Client(), src: newMemSource()}
	for i := range keys {
		e.src.put(testHash(i), testRecord(i))
	}
	e.s = newSyncer(t, e.rdb, e.src, Config{EpochCheckInterval: checkEvery})
	startRun(t, e.s)
	waitFor(t, "the initial sync", func() bool { return e.s.Ready(context.Background()) == nil })
	return e
}

// shardRevs returns the revision of each shard marker of the cluster's slot map, by
// key: -1 when missing, -2 when it does not verify.
func (e *clusterEnv) shardRevs(t *testing.T) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	out := map[string]int64{}
	for _, k := range e.shards(t).Keys() {
		v, err := e.rdb.Get(ctx, k).Result()
		switch {
		case errors.Is(err, redis.Nil):
			out[k] = -1
		case err != nil:
			t.Fatalf("reading %s: %v", k, err)
		default:
			rev, err := wire.OpenShardRev(verifier(t), k, v)
			if err != nil {
				rev = -2
			}
			out[k] = rev
		}
	}
	return out
}

// allAt reports whether every shard marker is at rev.
func allAt(revs map[string]int64, rev int64) bool {
	for _, r := range revs {
		if r != rev {
			return false
		}
	}
	return len(revs) > 0
}

// TestClusterShardMarkers: on a Cluster the admin keeps one revision marker per slot
// range, in that range, raises every one with each change, and repairs a shard that
// lost its records (a primary restarted empty: FLUSHALL on that node alone), one whose
// marker went back, and one whose marker is forged, with a full sync.
func TestClusterShardMarkers(t *testing.T) {
	e := newClusterEnv(t, 60, 100*time.Millisecond)
	ctx := context.Background()
	_, rev := e.src.snapshot()
	if revs := e.shardRevs(t); len(revs) != 3 || !allAt(revs, rev) {
		t.Fatalf("after the initial sync the shard markers are %v, want 3 at %d", revs, rev)
	}
	// wire.Slot is Redis' own: every marker is in the first slot of its range.
	for k := range e.shardRevs(t) {
		got, err := e.rdb.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if int(got) != wire.Slot(k) {
			t.Errorf("CLUSTER KEYSLOT %s = %d, wire.Slot = %d", k, got, wire.Slot(k))
		}
	}

	// A change raises every marker, on every primary.
	rev = e.src.remove(testHash(0))
	if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "test", Hashes: []keystore.KeyHash{testHash(0)}}); err != nil {
		t.Fatal(err)
	}
	if revs := e.shardRevs(t); !allAt(revs, rev) {
		t.Fatalf("after a change at %d the shard markers are %v", rev, revs)
	}
	// So does a change made by an admin that has not looked at the slot map yet (its
	// Run has not started).
	second := newSyncer(t, e.rdb, e.src, Config{})
	rev = e.src.put(testHash(0), testRecord(0))
	if err := second.Apply(ctx, keystore.Change{Rev: rev, Action: "test", Hashes: []keystore.KeyHash{testHash(0)}}); err != nil {
		t.Fatal(err)
	}
	if revs := e.shardRevs(t); !allAt(revs, rev) {
		t.Fatalf("after a change at %d by a new admin the shard markers are %v", rev, revs)
	}

	// A shard that lost everything (its primary restarted empty before its replica
	// took over, which then copied the empty primary): the admin rewrites it.
	// The victim holds neither the epoch nor sagate:rev, which would tell on their own.
	victim := e.otherPrimary(t)
	epoch := e.epoch(t)
	start := time.Now()
	if err := victim.Client().FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// A change elsewhere before the admin's check must not raise the emptied shard's
	// marker over the loss.
	rev = e.src.put(testHash(1000), testRecord(1000))
	if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "test", Hashes: []keystore.KeyHash{testHash(1000)}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the admin to repair the emptied shard", func() bool {
		return allAt(e.shardRevs(t), rev) && e.epoch(t) != epoch && e.mismatch(t) == ""
	})
	t.Logf("a shard emptied on its own was repaired in %v", time.Since(start).Round(time.Millisecond))

	// A marker put back to an older revision: repaired after the grace.
	markerKey, _ := e.shards(t).KeyFor(wire.RedisKey(testHash(3)))
	sk := keytest.SigningKey(t)
	epoch = e.epoch(t)
	if err := e.rdb.Set(ctx, markerKey, wire.SealShardRev(sk, markerKey, rev-1), 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the admin to repair a shard marker gone back", func() bool {
		return allAt(e.shardRevs(t), rev) && e.epoch(t) != epoch
	})

	// A marker that does not verify (another shard's, copied): replaced at once.
	var other string
	for k := range e.shardRevs(t) {
		if k != markerKey {
			other = k
			break
		}
	}
	epoch = e.epoch(t)
	if err := e.rdb.Set(ctx, markerKey, wire.SealShardRev(sk, other, rev), 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the admin to replace a forged shard marker", func() bool {
		return allAt(e.shardRevs(t), rev) && e.epoch(t) != epoch
	})
}

func (e *clusterEnv) shards(t *testing.T) wire.Shards {
	t.Helper()
	sh, err := wire.LoadShards(context.Background(), e.rdb)
	if err != nil {
		t.Fatal(err)
	}
	return sh
}

func (e *clusterEnv) epoch(t *testing.T) string {
	t.Helper()
	return syncerEpoch(t, e.s)
}

// mismatch is env.mismatch's check of every live key's record, read through the
// cluster client ("" when Redis holds the store's state for them).
func (e *clusterEnv) mismatch(t *testing.T) string {
	t.Helper()
	recs, _ := e.src.snapshot()
	for h, want := range recs {
		b, err := e.rdb.Get(context.Background(), wire.RedisKey(h)).Bytes()
		if err != nil {
			return "record of " + want.KeyID + ": " + err.Error()
		}
		got, err := wire.OpenRecord(verifier(t), h, b)
		if err != nil || !sameRecord(got, want) {
			return "record of " + want.KeyID + " differs from the store"
		}
	}
	return ""
}

// otherPrimary returns the primary that holds neither the epoch nor sagate:rev.
func (e *clusterEnv) otherPrimary(t *testing.T) *redistest.Server {
	t.Helper()
	busy := map[*redistest.Server]bool{e.c.PrimaryFor(wire.RedisEpoch): true, e.c.PrimaryFor(wire.RedisRev): true}
	for i := range 100 {
		if p := e.c.PrimaryFor(wire.RedisKey(testHash(i))); !busy[p] {
			return p
		}
	}
	t.Fatal("no primary without the epoch and sagate:rev holds a key record")
	return nil
}

// TestClusterNoFalseAlarm: changes made concurrently while the admin checks the markers
// every 5ms never look like a shard that lost writes (no full sync, the epoch stays):
// every writer raises the shard markers before sagate:rev, and the check reads
// sagate:rev before the shard markers. (Raising sagate:rev first fails it.)
func TestClusterNoFalseAlarm(t *testing.T) {
	e := newClusterEnv(t, 100, 5*time.Millisecond)
	ctx := context.Background()
	epoch := e.epoch(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				h := testHash(100 + w*1000 + i)
				rev := e.src.put(h, testRecord(100+w*1000+i))
				if err := e.s.Apply(ctx, keystore.Change{Rev: rev, Action: "test", Hashes: []keystore.KeyHash{h}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	waitChecks(t, e.s, 3)
	if got := e.epoch(t); got != epoch {
		t.Fatalf("the epoch changed from %q to %q: a full sync ran for concurrent changes", epoch, got)
	}
	_, rev := e.src.snapshot()
	if revs := e.shardRevs(t); !allAt(revs, rev) {
		t.Fatalf("after the changes the shard markers are %v, want all at %d", revs, rev)
	}
}
