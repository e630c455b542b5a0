package e2e

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/redistest"
	"github.com/sagate/sagate/keystore"
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
	failing := c.PrimaryFor(keystore.RedisEvents)
	runFailover(t, haRedis{
		url:       c.URL(),
		onFailing: func(k string) bool { return c.PrimaryFor(k) == failing },
		fail:      failing.Kill,
		recovered: func() *redis.Client {
			c.WaitHealthy(promotionBound)
			p := c.PrimaryFor(keystore.RedisEvents)
			if p == failing {
				t.Fatalf("the events' slot is still served by the killed %v", failing)
			}
			return p.Client()
		},
	})
}
