package keycache_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sagate/sagate/internal/redistest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/keycache"
)

// The miss path against a real Redis: one pipelined round trip (GET epoch + GET record)
// on loopback, the record decoded and cached. The cache holds far fewer entries than
// the keys walked in order, so no key is still cached when it comes round again.
// Run: go test -run '^$' -bench Miss -benchmem ./keystore/keycache/

const (
	missKeys      = 4096
	missCacheSize = 256
)

// missSetup writes missKeys records and the epoch marker to a fresh Redis and returns
// a started cache too small to hold them, with their hashes.
func missSetup(b *testing.B) (*keycache.Cache, []keystore.KeyHash) {
	b.Helper()
	srv := redistest.Start(b)
	rdb := srv.Client()
	ctx := context.Background()
	hashes := make([]keystore.KeyHash, missKeys)
	pipe := rdb.Pipeline()
	for i := range hashes {
		hashes[i] = keystore.HashKey(fmt.Sprintf("miss-bench-%d", i))
		raw, err := keystore.EncodeRecord(keystore.Record{
			KeyID: fmt.Sprintf("key_%020d", i), SAID: "sa_00000000000000000001", SA: "bot@bench",
			Workspace: "bench", State: keystore.KeyActive,
			Roles: map[string]keystore.Role{keystore.AllProjects: keystore.RoleViewer}, Rev: 1,
		})
		if err != nil {
			b.Fatal(err)
		}
		pipe.Set(ctx, keystore.RedisKey(hashes[i]), raw, 0)
	}
	pipe.Set(ctx, keystore.RedisEpoch, "bench-epoch", 0)
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatalf("writing records: %v", err)
	}
	c := keycache.New(rdb, keycache.Config{Size: missCacheSize})
	c.Start()
	b.Cleanup(func() { _ = c.Close() })
	return c, hashes
}

func BenchmarkLookupMissRedis(b *testing.B) {
	c, hashes := missSetup(b)
	ctx := context.Background()
	p := keycache.Policy{}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		e, src, err := c.Lookup(ctx, hashes[i%missKeys], p)
		if err != nil || !e.Found() || src != keycache.SourceRedis {
			b.Fatalf("lookup %d: entry %v, source %v, %v; want a Redis answer", i, e.Found(), src, err)
		}
		i++
	}
}

// BenchmarkLookupMissRedisParallel runs misses from 64 goroutines, as many as wrk's
// connections in `make bench` (and the cache's bound on lookups in flight).
func BenchmarkLookupMissRedisParallel(b *testing.B) {
	c, hashes := missSetup(b)
	ctx := context.Background()
	p := keycache.Policy{}
	// Open the client's connections before timing: with few iterations, dialing
	// would otherwise dominate the figure.
	var wg sync.WaitGroup
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _ = c.Lookup(ctx, hashes[(missKeys/2+g)%missKeys], p)
		}()
	}
	wg.Wait()
	b.SetParallelism(32) // × GOMAXPROCS 2 = 64 goroutines
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64
	failed := make(chan error, 1)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1))
			e, src, err := c.Lookup(ctx, hashes[i%missKeys], p)
			if err != nil || !e.Found() || src != keycache.SourceRedis {
				select {
				case failed <- fmt.Errorf("lookup %d: entry %v, source %v, %w", i, e.Found(), src, err):
				default:
				}
				return
			}
		}
	})
	close(failed)
	if err := <-failed; err != nil {
		b.Fatal(err)
	}
}
