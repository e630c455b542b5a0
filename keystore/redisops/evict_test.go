package redisops

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/redistest"
)

func TestParseEvictionInfo(t *testing.T) {
	const head = "# Memory\r\nused_memory:1024\r\nused_memory_human:1.00K\r\n"
	tests := []struct {
		name    string
		info    string
		want    EvictionRisk
		wantErr bool
	}{
		{"no limit", head + "maxmemory:0\r\nmaxmemory_human:0B\r\nmaxmemory_policy:allkeys-lru\r\n",
			EvictionRisk{Policy: "allkeys-lru"}, false},
		{"noeviction", head + "maxmemory:8388608\r\nmaxmemory_policy:noeviction\r\n",
			EvictionRisk{Policy: "noeviction", MaxMemory: 8388608}, false},
		{"allkeys-lru", head + "maxmemory:8388608\r\nmaxmemory_policy:allkeys-lru\r\n",
			EvictionRisk{MayEvict: true, Policy: "allkeys-lru", MaxMemory: 8388608}, false},
		{"volatile-ttl", "maxmemory_policy:volatile-ttl\nmaxmemory:1\n",
			EvictionRisk{MayEvict: true, Policy: "volatile-ttl", MaxMemory: 1}, false},
		{"no policy field", head + "maxmemory:8388608\r\n", EvictionRisk{}, true},
		{"no maxmemory field", head + "maxmemory_policy:allkeys-lru\r\n", EvictionRisk{}, true},
		{"bad maxmemory", "maxmemory:lots\r\nmaxmemory_policy:allkeys-lru\r\n", EvictionRisk{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEvictionInfo(tt.info)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("ParseEvictionInfo = %+v, %v; want %+v, error %v", got, err, tt.want, tt.wantErr)
			}
			if w := got.Warning(); (w != "") != got.MayEvict || (got.MayEvict && !strings.Contains(w, got.Policy)) {
				t.Errorf("Warning() = %q for %+v", w, got)
			}
		})
	}
}

// TestCheckEvictionOnRealRedis reads the policy of real servers started with and
// without a memory limit and an evicting policy.
func TestCheckEvictionOnRealRedis(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want bool
	}{
		{"defaults", nil, false},
		{"allkeys-lru with a limit", []string{"--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru"}, true},
		{"volatile-lru with a limit", []string{"--maxmemory", "8mb", "--maxmemory-policy", "volatile-lru"}, true},
		{"noeviction with a limit", []string{"--maxmemory", "8mb", "--maxmemory-policy", "noeviction"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := redistest.Start(t, tt.args...)
			got, err := CheckEviction(context.Background(), srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			if got.MayEvict != tt.want {
				t.Fatalf("CheckEviction = %+v, want MayEvict %v", got, tt.want)
			}
		})
	}
}

// TestCheckEvictionOnCluster asks every master of a two-node Redis Cluster: one that
// may evict is enough.
func TestCheckEvictionOnCluster(t *testing.T) {
	ctx := context.Background()
	clusterArgs := []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--maxmemory", "8mb"}
	a := redistest.Start(t, append(clusterArgs, "--maxmemory-policy", "noeviction")...)
	b := redistest.Start(t, append(clusterArgs, "--maxmemory-policy", "noeviction")...)
	ca, cb := a.Client(), b.Client()
	if err := ca.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 8191).Err(); err != nil {
		t.Fatal(err)
	}
	if err := cb.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 8192, 16383).Err(); err != nil {
		t.Fatal(err)
	}
	if err := ca.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(b.Port)).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ia, _ := ca.ClusterInfo(ctx).Result()
		ib, _ := cb.ClusterInfo(ctx).Result()
		if strings.Contains(ia, "cluster_state:ok") && strings.Contains(ib, "cluster_state:ok") &&
			strings.Contains(ia, "cluster_known_nodes:2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the cluster did not form:\n%s\n%s", ia, ib)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{a.Addr()},
		MaintNotificationsConfig: redistest.Options(a.Addr()).MaintNotificationsConfig})
	t.Cleanup(func() { _ = cc.Close() })

	if got, err := CheckEviction(ctx, cc); err != nil || got.MayEvict {
		t.Fatalf("both masters noeviction: %+v, %v", got, err)
	}
	if err := cb.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	if got, err := CheckEviction(ctx, cc); err != nil || !got.MayEvict || got.Policy != "allkeys-lru" {
		t.Fatalf("one master allkeys-lru: %+v, %v", got, err)
	}
}
