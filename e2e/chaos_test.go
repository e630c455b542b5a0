package e2e

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/internal/testing/systest"
	"github.com/sagate/sagate/keystore/wire"
)

// The chaos tests: two admins on one PostgreSQL, two Caddy sidecars, traffic through
// both and about six changes a second (issue, revoke, re-role) sent to either admin,
// while random faults hit every part; every answer is checked against what the admins
// acknowledged (chaos_helpers_test.go). CHAOS_SEED replays a run, CHAOS_DURATION sets
// its length (default 20s: the short run of `make test`; `make chaos` runs minutes).

// TestChaosSingleRedis runs chaos on one Redis: killed -9 and back from a snapshot
// taken seconds before, frozen (SIGSTOP) for a while, emptied; admins and sidecars
// killed -9 and started again.
func TestChaosSingleRedis(t *testing.T) {
	r := redistest.Start(t)
	runChaos(t, r.URL(), []chaosFault{
		{"redis killed -9, back from a snapshot", func(w *chaosWorld, rng *rand.Rand) {
			r.Save()
			w.sleep(rng, time.Second, 3*time.Second)
			r.KillAndRestartKeepingData()
		}},
		{"redis frozen", func(w *chaosWorld, rng *rand.Rand) {
			r.Freeze()
			w.sleep(rng, time.Second, 3*time.Second)
			r.Thaw()
		}},
		{"redis emptied", func(w *chaosWorld, rng *rand.Rand) { flushAll(t, r) }},
	})
}

// TestSentinelChaos runs chaos on Redis Sentinel (a primary, a replica, three Sentinels
// with down-after 1s): the primary killed -9 or frozen past the failover and resumed,
// the replica killed, a Sentinel killed, the primary emptied; admins and sidecars
// killed -9 and started again.
func TestSentinelChaos(t *testing.T) {
	ss := redistest.StartSentinel(t)
	other := func(p *redistest.Server) *redistest.Server {
		if p == ss.Data[0] {
			return ss.Data[1]
		}
		return ss.Data[0]
	}
	primary := func() *redistest.Server {
		var p *redistest.Server
		for end := time.Now().Add(promotionBound); p == nil && time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			p = ss.Primary()
		}
		if p == nil {
			t.Fatal("the sentinels name no primary")
		}
		return p
	}
	runChaos(t, ss.URL(), []chaosFault{
		{"primary killed -9", func(w *chaosWorld, rng *rand.Rand) {
			p := primary()
			p.Kill()
			ss.WaitPromoted(p, promotionBound)
			w.sleep(rng, 0, 2*time.Second)
			p.Restart() // empty: the Sentinels make it a replica of the new primary
			ss.WaitReplica(p, promotionBound)
		}},
		{"primary frozen past the failover, then resumed", func(w *chaosWorld, rng *rand.Rand) {
			p := primary()
			p.Freeze()
			ss.WaitPromoted(p, promotionBound)
			w.sleep(rng, 0, time.Second)
			p.Thaw()
			ss.WaitReplica(p, promotionBound)
		}},
		{"replica killed", func(w *chaosWorld, rng *rand.Rand) {
			rep := other(primary())
			rep.Kill()
			w.sleep(rng, time.Second, 3*time.Second)
			rep.Restart()
			ss.WaitReplica(rep, promotionBound)
		}},
		{"sentinel killed", func(w *chaosWorld, rng *rand.Rand) {
			s := ss.Sentinels[rng.IntN(len(ss.Sentinels))]
			s.Kill()
			w.sleep(rng, time.Second, 4*time.Second)
			s.Restart() // its configuration file keeps what it knew
		}},
		{"primary emptied", func(w *chaosWorld, rng *rand.Rand) { flushAll(t, primary()) }},
	})
}

// TestClusterChaos runs chaos on a Redis Cluster (three primaries with a replica each,
// node timeout 1s), each fault on a random shard: its primary killed -9 past the node
// timeout (its replica takes over; the old primary comes back empty as a replica), its
// primary frozen (SIGSTOP) past the node timeout and resumed as a replica, its replica
// killed -9 and restarted, its primary emptied; admins and sidecars killed -9 and
// started again. A primary is failed only while its replica is in sync (WaitHealthy),
// or the cluster would not fail it over.
func TestClusterChaos(t *testing.T) {
	c := redistest.StartCluster(t)
	// shard returns a random slot's key and the primary serving it now.
	shard := func(rng *rand.Rand) (string, *redistest.Server) {
		key := wire.ShardRevKey(rng.IntN(16384))
		return key, c.PrimaryFor(key)
	}
	// promoted waits until a node other than old serves key's slot.
	promoted := func(key string, old *redistest.Server) {
		systest.Eventually(t, promotionBound, "a replica takes over the slots of "+old.String(), func() bool {
			return c.PrimaryFor(key) != old
		})
	}
	runChaos(t, c.URL(), []chaosFault{
		{"primary killed -9", func(w *chaosWorld, rng *rand.Rand) {
			c.WaitHealthy(promotionBound)
			key, p := shard(rng)
			p.Kill()
			promoted(key, p)
			w.sleep(rng, 0, 2*time.Second)
			p.Restart() // empty, with its nodes.conf: the cluster makes it a replica
			c.WaitHealthy(promotionBound)
		}},
		{"primary frozen past the node timeout, then resumed", func(w *chaosWorld, rng *rand.Rand) {
			c.WaitHealthy(promotionBound)
			key, p := shard(rng)
			p.Freeze()
			promoted(key, p)
			w.sleep(rng, 0, time.Second)
			p.Thaw()
			c.WaitReplica(p, promotionBound)
			c.WaitHealthy(promotionBound)
		}},
		{"replica killed", func(w *chaosWorld, rng *rand.Rand) {
			c.WaitHealthy(promotionBound)
			_, p := shard(rng)
			rep := c.ReplicaOf(p)
			rep.Kill()
			w.sleep(rng, time.Second, 3*time.Second)
			rep.Restart()
			c.WaitHealthy(promotionBound)
		}},
		{"primary emptied", func(w *chaosWorld, rng *rand.Rand) {
			_, p := shard(rng)
			flushAll(t, p)
		}},
	})
}

// flushAll empties s (FLUSHALL).
func flushAll(t *testing.T, s *redistest.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Client().FlushAll(ctx).Err(); err != nil {
		t.Logf("chaos: FLUSHALL: %v", err)
	}
}
