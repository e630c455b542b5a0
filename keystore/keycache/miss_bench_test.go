package keycache_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/keytest"
	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore/keycache"
	"github.com/sagate/sagate/keystore/wire"
)

// The miss path against a real Redis: one pipelined round trip (GET epoch, GET rev,
// GET record) on loopback, the record verified (or its verdict found) and decoded
// and cached. The cache holds far fewer entries than
// the keys walked in order, so no key is still cached when it comes round again.
// Run: go test -run '^$' -bench Miss -benchmem ./keystore/keycache/

const (
	missKeys      = 4096
	missCacheSize = 256
)

// missSetup writes missKeys sealed records and the markers to a fresh Redis and
// returns a started cache too small to hold them, with their hashes. cold: the
// cache's verdict table keeps (almost) nothing, so that every record is verified.
func missSetup(b *testing.B, cold bool) (*keycache.Cache, []wire.KeyHash) {
	b.Helper()
	return missSetupOn(b, redistest.Start(b).Client(), cold)
}

// missSetupOn is missSetup on rdb, a single server or a Cluster (then with the shard
// revision markers the admin writes there).
func missSetupOn(b *testing.B, rdb redis.UniversalClient, cold bool) (*keycache.Cache, []wire.KeyHash) {
	b.Helper()
	ctx := context.Background()
	hashes := make([]wire.KeyHash, missKeys)
	pipe := rdb.Pipeline()
	for i := range hashes {
		hashes[i] = wire.HashKey(fmt.Sprintf("miss-bench-%d", i))
		raw := sealRecord(b, hashes[i], wire.Record{
			KeyID: fmt.Sprintf("key_%020d", i), SAID: "sa_00000000000000000001", SA: "bot@bench",
			Workspace: "bench", State: wire.KeyActive,
			Roles: map[string]wire.Role{wire.AllProjects: wire.RoleViewer}, Rev: 1,
		})
		pipe.Set(ctx, wire.RedisKey(hashes[i]), raw, 0)
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		shards, err := wire.LoadShards(ctx, cc)
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range shards.Keys() {
			pipe.Set(ctx, k, wire.SealShardRev(keytest.SigningKey(b), k, 1), 0)
		}
	}
	queueMarkers(b, pipe, 1, "bench-epoch")
	if _, err := pipe.Exec(ctx); err != nil {
		b.Fatalf("writing records: %v", err)
	}
	c := newCache(b, rdb, keycache.Config{Size: missCacheSize})
	if cold {
		keycache.ShrinkVerdicts(c)
	}
	c.Start()
	b.Cleanup(func() { _ = c.Close() })
	return c, hashes
}

// BenchmarkLookupMissRedis is the miss path once every record has been seen: the
// signature's verdict is found in the verdict table (a SHA-256, no Ed25519).
func BenchmarkLookupMissRedis(b *testing.B) {
	benchmarkMiss(b, false)
}

// BenchmarkLookupMissRedisVerify is the miss path with every record verified
// (Ed25519): a table of one bucket keeps no verdict for the keys walked in order.
func BenchmarkLookupMissRedisVerify(b *testing.B) {
	benchmarkMiss(b, true)
}

// BenchmarkLookupMissCluster is BenchmarkLookupMissRedis on a Redis Cluster of three
// primaries (a replica each): the pipeline goes to the primaries of the epoch, of
// sagate:rev and of the record, and reads the record's shard revision marker with it.
// Run with the cluster tests' target or on its own: go test -run '^$' -bench MissCluster.
func BenchmarkLookupMissCluster(b *testing.B) {
	c, hashes := missSetupOn(b, redistest.StartCluster(b).Client(), false)
	runMiss(b, c, hashes)
}

func benchmarkMiss(b *testing.B, cold bool) {
	c, hashes := missSetup(b, cold)
	runMiss(b, c, hashes)
}

// runMiss times lookups of hashes in order, each a miss answered by Redis.
func runMiss(b *testing.B, c *keycache.Cache, hashes []wire.KeyHash) {
	ctx := context.Background()
	p := keycache.Policy{}
	warmVerdicts(b, c, hashes)
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
	benchmarkMissParallel(b, false)
}

// BenchmarkLookupMissRedisVerifyParallel is BenchmarkLookupMissRedisParallel with
// every record verified (Ed25519), as after a restart: the batches that verify
// several records share them out over GOMAXPROCS goroutines.
func BenchmarkLookupMissRedisVerifyParallel(b *testing.B) {
	benchmarkMissParallel(b, true)
}

func benchmarkMissParallel(b *testing.B, cold bool) {
	c, hashes := missSetup(b, cold)
	ctx := context.Background()
	p := keycache.Policy{}
	warmVerdicts(b, c, hashes)
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

// warmVerdicts looks every hash up once before timing: the verifications of the
// first walk, whose verdicts are kept, are not what the benchmarks measure.
func warmVerdicts(b *testing.B, c *keycache.Cache, hashes []wire.KeyHash) {
	b.Helper()
	for _, h := range hashes {
		if e, _, err := c.Lookup(context.Background(), h, keycache.Policy{}); err != nil || !e.Found() {
			b.Fatalf("warming up: entry %v, %v", e.Found(), err)
		}
	}
}
