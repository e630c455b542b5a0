package redisurl

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/redistest"
)

// TestSentinelClientLeavesDeposedPrimary: the primary stalls (SIGSTOP) past the
// Sentinels' down-after and resumes after the promotion. Connections a client opened
// to it before, idle in its pool, must not carry a command to it afterwards: neither
// those of the client itself, nor those of a client built from a copy of its options
// (as the sidecar's events follower is), which go-redis' own +switch-master handling
// does not reach. A probe written through each must land on the new primary, or fail;
// never on the deposed one. Then CheckPrimary names the new primary's replicas.
func TestSentinelClientLeavesDeposedPrimary(t *testing.T) {
	ss := redistest.StartSentinel(t)
	o, err := Parse(ss.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := o.Client()
	t.Cleanup(func() { _ = rdb.Close() })
	cl := rdb.(*redis.Client)
	opts := *cl.Options()
	opts.PoolSize = 1
	copied := redis.NewClient(&opts)
	t.Cleanup(func() { _ = copied.Close() })
	ctx := context.Background()
	for _, c := range []*redis.Client{cl, copied} {
		if err := c.Ping(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	p, err := CheckPrimary(ctx, rdb)
	if err != nil || !p.Sentinel || p.Replicas != 1 {
		t.Fatalf("CheckPrimary = %+v, %v; want a sentinel primary with one replica", p, err)
	}

	old := ss.Primary()
	old.Freeze()
	promoted := ss.WaitPromoted(old, 30*time.Second)
	old.Thaw()
	for i, c := range []*redis.Client{cl, copied} {
		key := []string{"probe:client", "probe:copy"}[i]
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		werr := c.Set(wctx, key, "x", 0).Err()
		cancel()
		if onOld, err := old.Client().Exists(ctx, key).Result(); err == nil && onOld == 1 {
			onNew, _ := promoted.Client().Exists(ctx, key).Result()
			if onNew == 0 {
				t.Errorf("%s: written to the deposed primary %v (write error: %v)", key, old, werr)
			}
		}
	}
	var last error
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if _, last = CheckPrimary(ctx, rdb); last == nil {
			return
		}
	}
	t.Fatalf("CheckPrimary after the failover: %v", last)
}
