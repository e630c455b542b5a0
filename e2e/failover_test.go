package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/internal/testing/systest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// promotionBound bounds how long a test waits for Redis to replace a killed primary
// (Sentinel: down after 1 s, then an election; Cluster: node timeout 1 s, then one).
const promotionBound = 30 * time.Second

// TestSentinelFailover runs the failover scenario (runFailover) on Redis Sentinel: a
// primary, a replica and three Sentinels; the admin and the sidecars use a
// redis+sentinel:// URL; the primary is killed and Sentinel promotes the replica.
func TestSentinelFailover(t *testing.T) {
	ss := redistest.StartSentinel(t)
	var old *redistest.Server
	runFailover(t, haRedis{
		url: ss.URL(),
		fail: func() {
			old = ss.Primary()
			if old == nil {
				t.Fatal("the sentinels name no primary")
			}
			old.Kill()
		},
		recovered: func() *redis.Client { return ss.WaitPromoted(old, promotionBound).Client() },
	})
}

// TestClusterFailover runs the failover scenario (runFailover) on a Redis Cluster of
// three primaries with a replica each; the admin and the sidecars use a
// redis+cluster:// URL; key records spread over the slots of every primary; the
// primary that holds the events stream is killed and its replica takes over.
func TestClusterFailover(t *testing.T) {
	c := redistest.StartCluster(t)
	failing := c.PrimaryFor(wire.RedisEvents)
	runFailover(t, haRedis{
		url:       c.URL(),
		onFailing: func(k string) bool { return c.PrimaryFor(k) == failing },
		fail:      failing.Kill,
		recovered: func() *redis.Client {
			c.WaitHealthy(promotionBound)
			p := c.PrimaryFor(wire.RedisEvents)
			if p == failing {
				t.Fatalf("the events' slot is still served by the killed %v", failing)
			}
			return p.Client()
		},
	})
}

// lostWriteBound is how soon after a promotion every sidecar must answer right a
// change that Redis' asynchronous replication lost: the admin's check notices the
// revision marker behind the store's (every second, after a 2 s grace), then runs a
// full sync with a new epoch.
const lostWriteBound = 10 * time.Second

// TestSentinelLostWrite: changes the primary acknowledged but never replicated reach
// the sidecars after the failover, because the admin repairs Redis from the store.
// The replica replicates through a TCP proxy that is stalled (the link stays up, so
// Sentinel still deems the replica promotable; nothing reaches it), a key is issued
// and two are revoked through the admin API (the primary took them), the primary is
// killed (SIGKILL) and Sentinel promotes the replica, which holds none of them. The
// sidecars saw the first revocation before the kill (the test waits for it): they
// must never answer that key 200 again, though Redis now says it is live. The second
// revocation and the issued key came just before the kill; a fourth sidecar, started
// during the failover, saw none of the changes. Every sidecar must refuse the one and
// allow the other within lostWriteBound of the promotion; until the repair a sidecar
// may still allow the revoked key (it cannot know) and refuse the issued one (401 for
// a key Redis has not got is "unknown key"), never the other way round once it
// answered right.
func TestSentinelLostWrite(t *testing.T) {
	ss := redistest.StartSentinel(t)
	a := startAdmin(t, ss.URL(), filepath.Join(t.TempDir(), "sagate.db"))
	up := startUpstream(t)
	var sidecars []*sidecar
	for range 3 {
		sidecars = append(sidecars, startSidecar(t, ss.URL(), up.srv.URL, ""))
	}
	a.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "lost"})
	seen, unseen := a.newAccount("lost", "seen", ""), a.newAccount("lost", "unseen", "")
	a.newAccount("lost", "fresh", "")
	for i, s := range sidecars {
		systest.Eventually(t, propagation, fmt.Sprintf("sidecar %d allows the keys", i), func() bool {
			return s.status(t, seen.Key) == http.StatusOK && s.status(t, unseen.Key) == http.StatusOK
		})
	}

	old := ss.Primary()
	if old != ss.Data[0] {
		t.Fatalf("the sentinels name %v as the primary, want %v", old, ss.Data[0])
	}
	link := systest.StartProxy(t, old.Addr())
	ss.ReplicateFrom(ss.Data[1], link.Addr()) // Sentinel puts it back after 5 s: the fault is quicker
	var recs []map[string]*recorder
	for _, s := range sidecars {
		recs = append(recs, map[string]*recorder{"seen": record(s, seen.Key), "unseen": record(s, unseen.Key)})
	}

	link.Stall()
	fresh := keyOf(t, a.must(http.StatusCreated, "POST", "/v1/workspaces/lost/service-accounts/fresh/keys", map[string]any{"name": "lost"}))
	for i, s := range sidecars {
		recs[i]["fresh"] = record(s, fresh.Key)
	}
	a.must(http.StatusNoContent, "DELETE", "/v1/workspaces/lost/service-accounts/seen/keys/"+seen.ID, nil)
	systest.Eventually(t, time.Second, "every sidecar refuses the first key revoked", func() bool {
		for _, r := range recs {
			if r["seen"].last().status != http.StatusUnauthorized {
				return false
			}
		}
		return true
	})
	a.must(http.StatusNoContent, "DELETE", "/v1/workspaces/lost/service-accounts/unseen/keys/"+unseen.ID, nil)
	storeRev := redisRev(t, old.Client()) // the primary holds every change: Apply ran before the API answered
	// The replica lacks them (read before the kill: the admin repairs the promoted
	// replica within a check, too soon for the test to catch it behind).
	if rev := redisRev(t, ss.Data[1].Client()); rev >= storeRev {
		t.Fatalf("the replica holds revision %d, the store %d: replication lost nothing", rev, storeRev)
	}
	old.Kill()
	switched := make(chan time.Time, 1)
	go func() { // the promotion: when the Sentinels name the replica
		for end := time.Now().Add(promotionBound); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
			if p := ss.Primary(); p != nil && p != old {
				break
			}
		}
		switched <- time.Now()
	}()
	// A sidecar (re)started during the failover saw none of the changes: it trusts the
	// promoted replica until the repair.
	cold := startSidecar(t, ss.URL(), up.srv.URL, "")
	recs = append(recs, map[string]*recorder{"unseen": record(cold, unseen.Key), "fresh": record(cold, fresh.Key)})
	p := ss.WaitPromoted(old, promotionBound)
	promoted := <-switched
	newRedis := p.Client()

	var repaired time.Duration
	systest.Eventually(t, lostWriteBound, "the admin repairs Redis from the store", func() bool {
		repaired = time.Since(promoted)
		return redisRev(t, newRedis) >= storeRev
	})
	refusedBy, allowedBy, _ := checkLostWrite(t, recs, promoted)
	t.Logf("lost write: Redis repaired (revision marker back to the store's %d) %v after the promotion; "+
		"the last sidecar refused the key revoked just before the kill %s after it, allowed the key issued just before it %s after it",
		storeRev, repaired.Round(time.Millisecond), since(refusedBy), since(allowedBy))
}

// TestClusterLostWrite is TestSentinelLostWrite on a Redis Cluster, where one shard
// loses writes on its own: the primary that fails holds neither sagate:rev nor the
// events stream, which stay as they were, so only that shard's own revision marker
// (keystore/wire/shards.go) tells the admin and the sidecars that it went back. Its replica's
// link is cut (redistest.Cluster.CutReplication), a key on it is issued and two are
// revoked, it is killed, and the replica, which holds none of the three, takes over.
func TestClusterLostWrite(t *testing.T) {
	c := redistest.StartCluster(t)
	victim := quietPrimary(t, c)
	onVictim := func(key string) bool { return c.PrimaryFor(wire.RedisKey(keystore.HashKey(key))) == victim }
	a := startAdmin(t, c.URL(), filepath.Join(t.TempDir(), "sagate.db"))
	up := startUpstream(t)
	var sidecars []*sidecar
	for range 3 {
		sidecars = append(sidecars, startSidecar(t, c.URL(), up.srv.URL, ""))
	}
	a.must(http.StatusCreated, "POST", "/v1/workspaces", map[string]any{"name": "lost", "max_service_accounts": 100})
	seenSA, seen := accountOn(t, a, "seen", onVictim)
	unseenSA, unseen := accountOn(t, a, "unseen", onVictim)
	for i, s := range sidecars {
		systest.Eventually(t, propagation, fmt.Sprintf("sidecar %d allows the keys", i), func() bool {
			return s.status(t, seen.Key) == http.StatusOK && s.status(t, unseen.Key) == http.StatusOK
		})
	}
	marker, ok := wire.ShardsOf(clusterSlots(t, c)).KeyFor(wire.RedisKey(keystore.HashKey(seen.Key)))
	if !ok {
		t.Fatal("no slot range holds the keys' slot")
	}

	replica := c.CutReplication(victim)
	var recs []map[string]*recorder
	for _, s := range sidecars {
		recs = append(recs, map[string]*recorder{"seen": record(s, seen.Key), "unseen": record(s, unseen.Key)})
	}
	_, fresh := accountOn(t, a, "fresh", onVictim)
	for i, s := range sidecars {
		recs[i]["fresh"] = record(s, fresh.Key)
	}
	a.must(http.StatusNoContent, "DELETE", "/v1/workspaces/lost/service-accounts/"+seenSA+"/keys/"+seen.ID, nil)
	systest.Eventually(t, time.Second, "every sidecar refuses the first key revoked", func() bool {
		for _, r := range recs {
			if r["seen"].last().status != http.StatusUnauthorized {
				return false
			}
		}
		return true
	})
	a.must(http.StatusNoContent, "DELETE", "/v1/workspaces/lost/service-accounts/"+unseenSA+"/keys/"+unseen.ID, nil)
	storeRev := markerRev(t, victim.Client(), marker) // the primary holds every change
	if rev := markerRev(t, readOnly(t, replica), marker); rev >= storeRev {
		t.Fatalf("the replica's shard marker is at %d, the store at %d: replication lost nothing", rev, storeRev)
	}
	victim.Kill()
	cold := startSidecar(t, c.URL(), up.srv.URL, "")
	recs = append(recs, map[string]*recorder{"unseen": record(cold, unseen.Key), "fresh": record(cold, fresh.Key)})
	var promoted time.Time
	systest.Eventually(t, promotionBound, "a replica takes over the killed primary's slots", func() bool {
		promoted = time.Now()
		return c.PrimaryFor(marker) != victim
	})
	c.WaitHealthy(promotionBound)
	newPrimary := c.PrimaryFor(marker).Client()

	var repaired time.Duration
	systest.Eventually(t, lostWriteBound, "the admin repairs the shard from the store", func() bool {
		repaired = time.Since(promoted)
		return markerRev(t, newPrimary, marker) >= storeRev
	})
	refusedBy, allowedBy, coldRevoked := checkLostWrite(t, recs, promoted)
	// Unlike on Sentinel, where the promoted replica is all a new sidecar can see, a
	// Cluster shows the loss to it: sagate:rev, on another shard, is above the shard's
	// marker. So even the sidecar started during the failover never lets the key in.
	if coldRevoked[http.StatusOK] > 0 {
		t.Errorf("the sidecar started during the failover let the key revoked just before the kill in %d times", coldRevoked[http.StatusOK])
	}
	t.Logf("cluster lost write: the shard repaired (its marker back to the store's %d) %v after the promotion; "+
		"the last sidecar refused the key revoked just before the kill %s after it, allowed the key issued just before it %s after it",
		storeRev, repaired.Round(time.Millisecond), since(refusedBy), since(allowedBy))
}

// quietPrimary returns a primary of c that holds neither sagate:rev nor the events
// stream (with three primaries there is at least one).
func quietPrimary(t *testing.T, c *redistest.Cluster) *redistest.Server {
	t.Helper()
	busy := map[*redistest.Server]bool{c.PrimaryFor(wire.RedisRev): true, c.PrimaryFor(wire.RedisEvents): true}
	for slot := 0; slot < 16384; slot += 1000 {
		if p := c.PrimaryFor(wire.ShardRevKey(slot)); !busy[p] {
			return p
		}
	}
	t.Fatal("every primary holds sagate:rev or the events stream")
	return nil
}

// accountOn creates accounts prefix0, prefix1, ... in workspace "lost", each with a
// key, until one's key record lives where on says, and returns its name and key.
func accountOn(t *testing.T, a *admin, prefix string, on func(key string) bool) (string, issued) {
	t.Helper()
	for i := range 30 {
		name := fmt.Sprintf("%s%d", prefix, i)
		if k := a.newAccount("lost", name, ""); on(k.Key) {
			return name, k
		}
	}
	t.Fatalf("no key of %s* landed on the wanted primary in 30 tries", prefix)
	return "", issued{}
}

// clusterSlots returns c's slot map, asked of a fresh client.
func clusterSlots(t *testing.T, c *redistest.Cluster) []redis.ClusterSlot {
	t.Helper()
	slots, err := c.Client().ClusterSlots(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return slots
}

// readOnly returns a client of the cluster replica n that may read (READONLY on its one
// connection).
func readOnly(t *testing.T, n *redistest.Server) *redis.Client {
	t.Helper()
	o := redistest.Options(n.Addr())
	o.PoolSize = 1
	o.OnConnect = func(ctx context.Context, cn *redis.Conn) error { return cn.ReadOnly(ctx).Err() }
	c := redis.NewClient(o)
	t.Cleanup(func() { _ = c.Close() })
	return c
}
