package redisurl

import (
	"strings"
	"testing"
)

func TestRedisURLs(t *testing.T) {
	tests := []struct {
		url  string
		kind string // simple, failover, cluster
		addr string
	}{
		{"redis://127.0.0.1:6379/0", "simple", "127.0.0.1:6379"},
		{"rediss://user:pw@cache.example:6380/2", "simple", "cache.example:6380"},
		{"unix:///run/redis.sock?db=1", "simple", "/run/redis.sock"},
		{"redis+sentinel://s1:26379?master_name=mymaster&addr=s2:26379", "failover", "s1:26379"},
		{"REDIS+CLUSTER://n1:7000?addr=n2:7000", "cluster", "n1:7000"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			o, err := Parse(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			var kind, addr string
			switch {
			case o.Simple != nil:
				kind, addr = "simple", o.Simple.Addr
			case o.Failover != nil:
				kind, addr = "failover", o.Failover.SentinelAddrs[0]
			case o.Cluster != nil:
				kind, addr = "cluster", o.Cluster.Addrs[0]
			}
			if kind != tt.kind || addr != tt.addr {
				t.Fatalf("got %s %s, want %s %s", kind, addr, tt.kind, tt.addr)
			}
			c := o.Client()
			if err := c.Close(); err != nil {
				t.Fatalf("closing: %v", err)
			}
		})
	}
}

func TestRedisURLErrorHidesPassword(t *testing.T) {
	for _, u := range []string{"redis://user:s3cret@127.0.0.1:6379/x%zz", "redis://user:s3cret@[::1/0", "redis+sentinel://u:s3cret@h:1?bogus=1"} {
		_, err := Parse(u)
		if err == nil {
			t.Fatalf("%s: want an error", Redacted(u))
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Fatalf("error repeats the password: %v", err)
		}
	}
	if got := Redacted("redis://user:s3cret@h:1/0"); strings.Contains(got, "s3cret") {
		t.Fatalf("Redacted = %q", got)
	}
}

// TestReplicaReadsRefused: every option that sends reads to replicas is refused.
func TestReplicaReadsRefused(t *testing.T) {
	for _, u := range []string{
		"redis+cluster://n1:7000?read_only=true",
		"redis+cluster://n1:7000?route_by_latency=true",
		"redis+cluster://n1:7000?route_randomly=true",
		"redis+sentinel://s1:26379?master_name=m&replica_only=true",
		"redis+sentinel://s1:26379?master_name=m&route_by_latency=true",
		"redis+sentinel://s1:26379?master_name=m&route_randomly=true",
	} {
		if _, err := Parse(u); err == nil || !strings.Contains(err.Error(), "primaries only") {
			t.Errorf("%s: %v, want the replica reads refused", u, err)
		}
	}
	for _, u := range []string{"redis+cluster://n1:7000?read_only=false", "redis+sentinel://s1:26379?master_name=m"} {
		if _, err := Parse(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}
