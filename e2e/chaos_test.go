package e2e

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/redistest"
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

// flushAll empties s (FLUSHALL).
func flushAll(t *testing.T, s *redistest.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Client().FlushAll(ctx).Err(); err != nil {
		t.Logf("chaos: FLUSHALL: %v", err)
	}
}
