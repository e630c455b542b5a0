package keycache_test

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore/keycache"
	"github.com/sagate/sagate/keystore/wire"
)

// The heap a full cache holds, per entry: records as the admin writes them (keys spread
// over memAccounts service accounts, each with a grant on every project and one on a
// project of its own, as internal/tools/bench/reconcile fills the store), every one looked up
// once through Redis, then the growth of HeapInuse after GC per entry added.
// Run: go test -run '^$' -bench Memory -benchmem ./keystore/keycache/

const memAccounts = 50

// fillRedis writes n sealed records and the markers and returns their hashes.
func fillRedis(tb testing.TB, srv *redistest.Server, n int) []wire.KeyHash {
	tb.Helper()
	rdb := srv.Client()
	ctx := context.Background()
	hashes := make([]wire.KeyHash, n)
	pipe := rdb.Pipeline()
	for i := range hashes {
		hashes[i] = wire.HashKey(fmt.Sprintf("memory-%d", i))
		sa := i % memAccounts
		raw := sealRecord(tb, hashes[i], wire.Record{
			KeyID: fmt.Sprintf("key_%020d", i), SAID: fmt.Sprintf("sa_%020d", sa),
			SA: fmt.Sprintf("bot-%d@bench", sa), Workspace: "bench", State: wire.KeyActive,
			Roles: map[string]wire.Role{
				wire.AllProjects:           wire.RoleViewer,
				fmt.Sprintf("proj-%d", sa): wire.RoleOwner,
			},
			Rev: int64(1 + i%7),
		})
		pipe.Set(ctx, wire.RedisKey(hashes[i]), raw, 0)
		if pipe.Len() == 1000 {
			if _, err := pipe.Exec(ctx); err != nil {
				tb.Fatalf("writing records: %v", err)
			}
		}
	}
	queueMarkers(tb, pipe, 7, "memory-epoch")
	if _, err := pipe.Exec(ctx); err != nil {
		tb.Fatalf("writing records: %v", err)
	}
	return hashes
}

// heapInuse returns HeapInuse after two collections.
func heapInuse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// bytesPerEntry fills a cache of len(hashes) entries from Redis, with 32 goroutines,
// and returns the memory it holds per entry, on the Go heap and in its slab: the
// growth from a fifth full to full, so that what does not grow with the entries
// (connections, pools) is left out.
func bytesPerEntry(tb testing.TB, srv *redistest.Server, hashes []wire.KeyHash) (heap, slab float64) {
	tb.Helper()
	rdb := srv.Client()
	c := newCache(tb, rdb, keycache.Config{Size: len(hashes), LookupTimeout: 10 * time.Second})
	c.Start()
	defer func() { _ = c.Close() }()
	first := len(hashes) / 5
	fill(tb, c, hashes[:first])
	before, slabBefore := heapInuse(), c.Stats().SlabBytes
	fill(tb, c, hashes[first:])
	st := c.Stats()
	if st.Entries < len(hashes)*9/10 {
		tb.Fatalf("%d entries cached of %d", st.Entries, len(hashes))
	}
	after := heapInuse()
	runtime.KeepAlive(c)
	n := float64(len(hashes) - first)
	return float64(int64(after)-int64(before)) / n, float64(st.SlabBytes-slabBefore) / n
}

// fill looks every hash up once, from 32 goroutines.
func fill(tb testing.TB, c *keycache.Cache, hashes []wire.KeyHash) {
	tb.Helper()
	ctx := context.Background()
	p := keycache.Policy{}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(hashes) {
					return
				}
				if e, _, err := c.Lookup(ctx, hashes[i], p); err != nil || !e.Found() {
					select {
					case errs <- fmt.Errorf("lookup %d: entry %v, %v", i, e.Found(), err):
					default:
					}
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		tb.Fatal(err)
	}
}

func BenchmarkCacheMemory(b *testing.B) {
	srv := redistest.Start(b)
	hashes := fillRedis(b, srv, 100_000)
	var heap, slab float64
	for b.Loop() {
		heap, slab = bytesPerEntry(b, srv, hashes)
	}
	b.ReportMetric(heap+slab, "B/entry")
	b.ReportMetric(heap, "heap-B/entry")
	b.ReportMetric(slab, "slab-B/entry")
}

// TestEntryMemoryBound keeps an entry compact: account strings and roles are shared
// between the keys of one account, and the rest of a record is one slot of the slab.
// The heap bound is loose on purpose: it catches a per-key copy of the shared parts (a
// roles map alone is ~300 B) or a per-key heap object, not the accounts that a small
// fill is still interning (50 per shard, each holding its record's text: ~75 B per key
// at this size, ~2 B at 100,000 keys) nor allocator noise.
func TestEntryMemoryBound(t *testing.T) {
	const n, heapBound = 20_000, 160
	srv := redistest.Start(t)
	hashes := fillRedis(t, srv, n)
	heap, slab := bytesPerEntry(t, srv, hashes)
	t.Logf("%.0f B of heap and %.0f B of slab per cached entry", heap, slab)
	if heap > heapBound {
		t.Errorf("%.0f B of heap per cached entry, want at most %d", heap, heapBound)
	}
	if slab <= 0 || slab > 2*float64(keycache.SlotSize) {
		t.Errorf("%.0f B of slab per cached entry, want about one slot (%d B)", slab, keycache.SlotSize)
	}
}
