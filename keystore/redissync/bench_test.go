package redissync

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/redistest"
	"github.com/sagate/sagate/keystore"
)

// BenchmarkSync1M measures a full sync of 1,000,000 keys into an empty Redis, and a
// compare-and-repair reconcile of the same keys when nothing differs. It is not part of
// the test suite; run it alone (2 cores):
//
//	go test -run '^$' -bench Sync1M -benchtime 1x ./keystore/redissync/
func BenchmarkSync1M(b *testing.B) {
	const n = 1_000_000
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
			st, err := s.Reconcile(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if !st.NewEpoch || st.Written != n {
				b.Fatalf("stats %+v, want %d written with a new epoch", st, n)
			}
			b.ReportMetric(st.Duration.Seconds(), "s/sync")
		}
	})
	b.Run("compare-unchanged", func(b *testing.B) {
		for b.Loop() {
			st, err := s.Reconcile(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if st.NewEpoch || st.Unchanged != n || st.Written+st.Removed != 0 {
				b.Fatalf("stats %+v, want %d unchanged", st, n)
			}
			b.ReportMetric(st.Duration.Seconds(), "s/sync")
		}
	})
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

func (g *genSource) record(i int) keystore.Record {
	r := testRecord(i)
	if i%10 == 0 {
		r.Exp = g.exp
	}
	r.Rev = 1
	return r
}

func (g *genSource) AuthRecords(ctx context.Context, hashes []keystore.KeyHash) (map[keystore.KeyHash]keystore.Record, int64, error) {
	out := make(map[keystore.KeyHash]keystore.Record, len(hashes))
	for _, h := range hashes {
		if i, ok := g.index[h]; ok {
			out[h] = g.record(int(i))
		}
	}
	return out, 1, nil
}

func (g *genSource) ScanAuthRecords(ctx context.Context, fn func(keystore.KeyHash, keystore.Record) error) error {
	for i, h := range g.hashes {
		if err := fn(h, g.record(i)); err != nil {
			return err
		}
	}
	return nil
}

func (g *genSource) Revision(ctx context.Context) (int64, error) { return 1, nil }

func (g *genSource) KeyIdentities(ctx context.Context, hashes []keystore.KeyHash) (map[keystore.KeyHash]keystore.Record, error) {
	return map[keystore.KeyHash]keystore.Record{}, nil
}

func (g *genSource) RecordKeyUse(ctx context.Context, uses map[string]time.Time) error { return nil }
