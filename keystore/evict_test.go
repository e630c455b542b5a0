package keystore

import (
	"context"
	"strings"
	"testing"

	"github.com/sagate/sagate/internal/redistest"
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
