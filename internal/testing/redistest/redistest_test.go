package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestStartRestart(t *testing.T) {
	s := Start(t)
	c := s.Client()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("after restart: exists=%d err=%v, want an empty server", n, err)
	}
	s.Kill()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("ping succeeded after Kill")
	}
}

func TestSentinelPromotesReplica(t *testing.T) {
	ss := StartSentinel(t)
	old := ss.Primary()
	if old != ss.Data[0] {
		t.Fatalf("sentinels name %v as primary, want %v", old, ss.Data[0])
	}
	ctx := context.Background()
	if err := old.Client().Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the write replicated", func() error {
		return ss.Data[1].Client().Get(ctx, "k").Err()
	})
	old.Kill()
	p := ss.WaitPromoted(old, 30*time.Second)
	if v, err := p.Client().Get(ctx, "k").Result(); err != nil || v != "v" {
		t.Fatalf("new primary: k = %q, %v", v, err)
	}
}

func TestClusterFailsOver(t *testing.T) {
	c := StartCluster(t)
	cc := c.Client()
	ctx := context.Background()
	if err := cc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	old := c.PrimaryFor("k")
	old.Kill()
	c.WaitHealthy(30 * time.Second)
	if p := c.PrimaryFor("k"); p == old {
		t.Fatalf("slot of k still served by the killed %v", old)
	}
}

// TestClusterLostWrite loses an acknowledged write as Redis Cluster may: the primary
// of k acknowledges a write its replica never gets, is killed, and the replica takes
// over with the older value; another shard keeps what it was given.
func TestClusterLostWrite(t *testing.T) {
	c := StartCluster(t)
	cc := c.Client()
	ctx := context.Background()
	const k = "k"
	old := c.PrimaryFor(k)
	other := ""
	for i := 0; other == ""; i++ {
		if key := fmt.Sprintf("other%d", i); c.PrimaryFor(key) != old {
			other = key
		}
	}
	if err := cc.Set(ctx, k, "v1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := old.Client().Wait(ctx, 1, 5*time.Second).Result(); err != nil || n != 1 {
		t.Fatalf("WAIT 1 on %v: %d replicas, %v", old, n, err)
	}

	start := time.Now()
	replica := c.CutReplication(old)
	t.Logf("CutReplication took %v", time.Since(start))
	if replica == old || replica != c.ReplicaOf(old) {
		t.Fatalf("CutReplication returned %v, want the replica of %v", replica, old)
	}
	if err := cc.Set(ctx, k, "v2", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := cc.Set(ctx, other, "w", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := old.Client().Get(ctx, k).Result(); err != nil || v != "v2" {
		t.Fatalf("the primary acknowledged v2 but holds k = %q, %v", v, err)
	}
	// The replica does not get v2, even after it tried again: the primary refused
	// its next attempt (it retries once a second and fails at AUTH, before any data).
	refused := func() int { // AUTHs the primary refused: "cmdstat_auth:calls=…,failed_calls=N"
		for _, kv := range strings.Split(infoField(old, "commandstats", "cmdstat_auth"), ",") {
			if n, ok := strings.CutPrefix(kv, "failed_calls="); ok {
				v, err := strconv.Atoi(n)
				if err != nil {
					t.Fatalf("cmdstat_auth of %v: %v", old, err)
				}
				return v
			}
		}
		return 0
	}
	before := refused()
	waitFor(t, 10*time.Second, "the replica's next attempt refused", func() error {
		if refused() <= before {
			return fmt.Errorf("%v refused nothing since the writes", old)
		}
		return nil
	})
	rc := replica.Client()
	if err := rc.ReadOnly(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if v, err := rc.Get(ctx, k).Result(); err != nil || v != "v1" {
		t.Fatalf("the cut replica holds k = %q, %v, want v1", v, err)
	}

	start = time.Now()
	old.Kill()
	c.WaitHealthy(30 * time.Second)
	t.Logf("failover took %v", time.Since(start))
	if p := c.PrimaryFor(k); p != replica {
		t.Fatalf("slot of k served by %v, want the former replica %v", p, replica)
	}
	// A new client: cc still maps k's slot to the killed node, and go-redis only
	// reloads the map on MOVED or after 10 s.
	after := c.Client()
	if v, err := after.Get(ctx, k).Result(); err != nil || v != "v1" {
		t.Fatalf("after the failover k = %q, %v, want v1 (v2 lost)", v, err)
	}
	if v, err := after.Get(ctx, other).Result(); err != nil || v != "w" {
		t.Fatalf("after the failover %s = %q, %v, want w", other, v, err)
	}
}

func TestTLSServer(t *testing.T) {
	p := NewPKI(t)
	s := StartTLS(t, p)
	if err := s.Client().Ping(context.Background()).Err(); err != nil {
		t.Fatalf("ping over TLS: %v", err)
	}
	// Without a client certificate the server refuses the client.
	o := Options(s.Addr())
	o.TLSConfig = p.ClientTLS(t)
	o.TLSConfig.Certificates = nil
	o.MaxRetries = -1
	c := redis.NewClient(o)
	defer c.Close()
	if err := c.Ping(context.Background()).Err(); err == nil {
		t.Fatal("ping without a client certificate succeeded")
	}
}

func TestSaveAndRestartKeepingData(t *testing.T) {
	s := Start(t)
	c := s.Client()
	ctx := context.Background()
	if err := c.Set(ctx, "saved", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Save()
	if err := c.Set(ctx, "after", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.KillAndRestartKeepingData()
	if v, err := c.Get(ctx, "saved").Result(); err != nil || v != "v" {
		t.Errorf("after the restart from the snapshot: saved = %q, %v", v, err)
	}
	if n := c.Exists(ctx, "after").Val(); n != 0 {
		t.Error("a key written after the snapshot survived the kill")
	}
	s.Restart()
	if n := c.Exists(ctx, "saved").Val(); n != 0 {
		t.Error("Restart kept the snapshot's data")
	}
}
