package caddymodule

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/redissync"
	"github.com/sagate/sagate/keystore/sqlstore"
	"github.com/sagate/sagate/keystore/wire"
)

// These tests run a real Caddy in this process against real redis-servers: what a
// flood of made-up keys and a Redis that evicts keys do to verified keys.

// TestFloodThenRedisDownKeepsVerifiedKey: a key verified before a flood of made-up
// well-formed keys (three times cache_size, all refused) is still let in, from the
// cache, once Redis is gone.
func TestFloodThenRedisDownKeepsVerifiedKey(t *testing.T) {
	const size = 200
	st := newStore(t)
	up := newUpstream(t)
	sc := newSidecarURL(t)
	// The account exists before the sidecar starts, so that no event of its creation
	// drops the key's entry after the first lookup (see TestCaddyRedisDownNeverSeenKey).
	known := st.newAccount("known", "ml", map[string]wire.Role{wire.AllProjects: wire.RoleViewer})
	loadCaddy(t, globalOptions+fmt.Sprintf(`
%s {
	sagate {
		redis %s
		%s
		cache_size %d
		stale_if_error 5m
	}
	reverse_proxy %s
}
`, sc.url, st.sidecarURL(), trustedAny(t), size, up.URL))
	sc.waitStatus(t, "the verified key", known.key, 200)
	waitUntil(t, "the verified key answered from the cache", func() bool {
		before := cacheHits()
		sc.do(t, "/", "Bearer "+known.key)
		return cacheHits() > before
	})
	for i := range 3 * size {
		if a := sc.do(t, "/", "Bearer "+keytest.New(t)); a.status != 401 {
			t.Fatalf("made-up key %d: status %d, want 401", i, a.status)
		}
	}
	st.srv.Kill()
	if a := sc.do(t, "/", "Bearer "+known.key); a.status != 200 {
		t.Fatalf("verified key after the flood, redis down: status %d (%s), want 200 (stale)", a.status, a.body)
	}
}

// TestEvictingRedisNeverRefusesValidKeys: on a Redis with maxmemory and allkeys-lru,
// another application's writes evict sagate's records while the epoch stays. Every
// valid key, issued through the real Service and Syncer, is then let in from the cache
// or answered 503: never refused with 401.
func TestEvictingRedisNeverRefusesValidKeys(t *testing.T) {
	const keys = 20
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	srv := redistest.Start(t, "--maxmemory", "8mb", "--maxmemory-policy", "allkeys-lru")
	rdb := srv.Client()

	sqlite, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "sagate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sqlite.Close() })
	syncer, err := redissync.New(rdb, sqlite, redissync.Config{SigningKey: keytest.SigningKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := keystore.NewService(sqlite, keystore.ServiceOptions{Syncer: syncer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := syncer.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateWorkspace(ctx, "ml", 0); err != nil {
		t.Fatal(err)
	}
	valid := make([]string, keys)
	for i := range valid {
		_, k, err := svc.CreateServiceAccount(ctx, "ml", keystore.CreateServiceAccountInput{
			Name: "bot-" + strconv.Itoa(i), AllProjectsRole: wire.RoleViewer, CreateKey: true})
		if err != nil {
			t.Fatal(err)
		}
		valid[i] = k.Key
	}
	epoch, err := rdb.Get(ctx, wire.RedisEpoch).Result()
	if err != nil {
		t.Fatalf("reading the epoch: %v", err)
	}

	up := newUpstream(t)
	sc := newSidecarURL(t)
	loadCaddy(t, globalOptions+fmt.Sprintf(`
%s {
	metrics /metrics
	@api not path /metrics
	sagate @api {
		redis %s
		%s
	}
	reverse_proxy %s
}
`, sc.url, srv.URL(), trustedAny(t), up.URL))
	waitUntil(t, "the sidecar reporting that redis may evict", func() bool {
		return strings.Contains(sc.do(t, "/metrics", "").body, "\nsagate_redis_may_evict 1\n")
	})
	if a := sc.do(t, "/", "Bearer "+valid[0]); a.status != 200 {
		t.Fatalf("valid key before the eviction: status %d", a.status)
	}

	// Another application fills Redis past maxmemory: Redis evicts.
	fill(t, rdb, 24<<20)
	info, err := rdb.Info(ctx, "stats").Result()
	if err != nil || !strings.Contains(info, "evicted_keys:") || strings.Contains(info, "evicted_keys:0\r\n") {
		t.Fatalf("redis evicted nothing: %v\n%s", err, info)
	}
	// The epoch stayed hot (it is read on every miss); put it back should it have gone,
	// and evict the records that survived, so that every record is gone.
	if err := rdb.SetNX(ctx, wire.RedisEpoch, epoch, 0).Err(); err != nil {
		t.Fatal(err)
	}
	for _, k := range valid {
		if err := rdb.Del(ctx, wire.RedisKey(wire.HashKey(k))).Err(); err != nil {
			t.Fatal(err)
		}
	}

	for i, k := range valid {
		a := sc.do(t, "/", "Bearer "+k)
		if a.status != 200 && a.status != 503 {
			t.Errorf("valid key %d with its record evicted: status %d (%s), want 200 (cached) or 503", i, a.status, a.body)
		}
		if i > 0 && a.status != 503 {
			t.Errorf("valid key %d, never cached, with its record evicted: status %d, want 503", i, a.status)
		}
	}
	// A key nobody issued cannot be told from an evicted one either.
	if a := sc.do(t, "/", "Bearer "+keytest.New(t)); a.status != 503 {
		t.Errorf("unknown key while redis may evict: status %d, want 503", a.status)
	}
}

// fill writes about n bytes of another application's data to rdb.
func fill(t *testing.T, rdb *redis.Client, n int) {
	t.Helper()
	ctx := context.Background()
	val := strings.Repeat("x", 64<<10)
	pipe := rdb.Pipeline()
	for i := range n / len(val) {
		pipe.Set(ctx, "other-app:"+strconv.Itoa(i), val, 0)
		if pipe.Len() == 32 {
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatalf("filling redis: %v", err)
			}
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatalf("filling redis: %v", err)
	}
}
