package redissync

import (
	"context"
	"flag"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// syncKeys is the number of keys of BenchmarkSync1M.
var syncKeys = flag.Int("sync-keys", 1_000_000, "keys of BenchmarkSync1M")

// BenchmarkSync1M measures a full sync of 1,000,000 keys (-sync-keys) into an empty
// Redis, a full sync over a Redis that holds them all (an admin's restart), and a
// compare-and-repair reconcile of the same keys when nothing differs. It is not part of
// the test suite; run it alone (2 cores):
//
//	go test -run '^$' -bench Sync1M -benchtime 1x ./keystore/redissync/ [-args -sync-keys 200000]
func BenchmarkSync1M(b *testing.B) {
	n := *syncKeys
	srv := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	b.Cleanup(func() { _ = rdb.Close() })
	src := newGenSource(n)
	s := newSyncer(b, rdb, src, Config{})
	ctx := context.Background()

	b.Run("full-into-empty", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			if err := rdb.FlushAll(ctx).Err(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			cpu := cpuMeter(b, rdb)
			st, err := s.Reconcile(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if !st.NewEpoch || st.Written != n {
				b.Fatalf("stats %+v, want %d written with a new epoch", st, n)
			}
			adminCPU, redisCPU := cpu()
			reportSync(b, st, adminCPU, redisCPU)
		}
	})
	b.Run("full-over-synced", func(b *testing.B) {
		for b.Loop() {
			cpu := cpuMeter(b, rdb)
			st, err := s.reconcile(ctx, true)
			if err != nil {
				b.Fatal(err)
			}
			if !st.NewEpoch || st.Written != n {
				b.Fatalf("stats %+v, want %d written with a new epoch", st, n)
			}
			adminCPU, redisCPU := cpu()
			reportSync(b, st, adminCPU, redisCPU)
		}
	})
	b.Run("compare-unchanged", func(b *testing.B) {
		for b.Loop() {
			cpu := cpuMeter(b, rdb)
			st, err := s.Reconcile(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if st.NewEpoch || st.Unchanged != n || st.Written+st.Removed != 0 {
				b.Fatalf("stats %+v, want %d unchanged", st, n)
			}
			adminCPU, redisCPU := cpu()
			reportSync(b, st, adminCPU, redisCPU)
		}
	})
}

// cpuMeter starts measuring the CPU time of this process and of the Redis server;
// calling the function it returns gives both, in seconds, since the start. On a machine
// shared with other work, CPU time tells more than the wall time: about
// max(admin/cores, redis) is the wall time of an idle machine.
func cpuMeter(b *testing.B, rdb *redis.Client) func() (admin, redisCPU float64) {
	self := func() float64 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	}
	server := func() float64 {
		info, err := rdb.Info(context.Background(), "cpu").Result()
		if err != nil {
			b.Fatal(err)
		}
		var sum float64
		for _, line := range strings.Split(info, "\r\n") {
			for _, f := range []string{"used_cpu_user:", "used_cpu_sys:"} {
				if v, ok := strings.CutPrefix(line, f); ok {
					x, _ := strconv.ParseFloat(v, 64)
					sum += x
				}
			}
		}
		return sum
	}
	a0, r0 := self(), server()
	return func() (float64, float64) { return self() - a0, server() - r0 }
}

// reportSync reports the wall time and the CPU times of one sync.
func reportSync(b *testing.B, st ReconcileStats, admin, redisCPU float64) {
	b.ReportMetric(st.Duration.Seconds(), "s/sync")
	b.ReportMetric(admin, "admin-cpu-s/sync")
	b.ReportMetric(redisCPU, "redis-cpu-s/sync")
}

// genSource is a read-only RecordSource of n keys whose records are built on each read,
// as a real store does, so that the Go heap holds no records (only pointer-free indexes).
type genSource struct {
	hashes []keystore.KeyHash
	index  map[keystore.KeyHash]int32
	exp    int64
}

func newGenSource(n int) *genSource {
	g := &genSource{hashes: make([]keystore.KeyHash, n), index: make(map[keystore.KeyHash]int32, n),
		exp: time.Now().Add(24 * time.Hour).UnixMilli()}
	for i := range n {
		g.hashes[i] = testHash(i)
		g.index[g.hashes[i]] = int32(i)
	}
	return g
}

func (g *genSource) record(i int) wire.Record {
	r := testRecord(i)
	if i%10 == 0 {
		r.Exp = g.exp
	}
	r.Rev = 1
	return r
}

func (g *genSource) AuthRecords(ctx context.Context, hashes []keystore.KeyHash) (map[keystore.KeyHash]wire.Record, int64, error) {
	out := make(map[keystore.KeyHash]wire.Record, len(hashes))
	for _, h := range hashes {
		if i, ok := g.index[h]; ok {
			out[h] = g.record(int(i))
		}
	}
	return out, 1, nil
}

func (g *genSource) ScanAuthRecords(ctx context.Context, fn func(keystore.KeyHash, wire.Record) error) error {
	for i, h := range g.hashes {
		if err := fn(h, g.record(i)); err != nil {
			return err
		}
	}
	return nil
}

func (g *genSource) Revision(ctx context.Context) (int64, error) { return 1, nil }

func (g *genSource) KeyIdentities(ctx context.Context, hashes []keystore.KeyHash) (map[keystore.KeyHash]wire.Record, error) {
	return map[keystore.KeyHash]wire.Record{}, nil
}

func (g *genSource) RecordKeyUse(ctx context.Context, uses map[string]time.Time) error { return nil }
