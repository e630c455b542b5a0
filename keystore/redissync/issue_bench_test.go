package redissync

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/redistest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
)

// BenchmarkCreateKeyWithRedis issues keys through the real Service on a real SQLite
// store with this Syncer writing to a real Redis: what the admin does per issued key
// (commit, then Apply), 8 callers at a time as internal/bench/issue -c 8.
//
//	go test -run '^$' -bench CreateKeyWithRedis -benchtime 5000x ./keystore/redissync/
func BenchmarkCreateKeyWithRedis(b *testing.B) {
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	srv := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	b.Cleanup(func() { _ = rdb.Close() })
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(b.TempDir(), "sagate.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	s := newSyncer(b, rdb, store, Config{})
	svc, err := keystore.NewService(store, keystore.ServiceOptions{Syncer: s})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.Reconcile(ctx); err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateWorkspace(ctx, "ws", 0); err != nil {
		b.Fatal(err)
	}
	if _, _, err := svc.CreateServiceAccount(ctx, "ws", keystore.CreateServiceAccountInput{
		Name: "bot", AllProjectsRole: keystore.RoleOwner}); err != nil {
		b.Fatal(err)
	}
	b.SetParallelism(4) // × GOMAXPROCS 2: 8 callers
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := svc.CreateKey(ctx, "ws", "bot", keystore.CreateKeyInput{}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	if n := testutil.ToFloat64(s.m.redisErrors); n != 0 {
		b.Fatalf("%v redis errors while issuing", n)
	}
	if n, err := rdb.DBSize(ctx).Result(); err != nil || n != int64(b.N)+2 { // + epoch, events
		b.Fatalf("redis holds %d keys (%v), want %d records, the epoch and the stream", n, err, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}

// BenchmarkAuthRecordsOne reads the record of one key from a real SQLite store, as
// Apply does after each issued key.
func BenchmarkAuthRecordsOne(b *testing.B) {
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(b.TempDir(), "sagate.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	svc, err := keystore.NewService(store, keystore.ServiceOptions{})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.CreateWorkspace(ctx, "ws", 0); err != nil {
		b.Fatal(err)
	}
	_, k, err := svc.CreateServiceAccount(ctx, "ws", keystore.CreateServiceAccountInput{
		Name: "bot", AllProjectsRole: keystore.RoleOwner, CreateKey: true})
	if err != nil {
		b.Fatal(err)
	}
	hs := []keystore.KeyHash{keystore.HashKey(k.Key)}
	for b.Loop() {
		recs, _, err := store.AuthRecords(ctx, hs)
		if err != nil || len(recs) != 1 {
			b.Fatalf("AuthRecords: %d records, %v", len(recs), err)
		}
	}
}
