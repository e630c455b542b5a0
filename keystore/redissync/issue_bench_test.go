package redissync

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
)

// BenchmarkCreateKeyWithRedis issues keys through the real Service on a real SQLite
// store with this Syncer writing to a real Redis: what the admin does per issued key
// (commit with its outbox row, then Apply), 8 callers at a time as internal/tools/bench/issue
// -c 8, with Run deleting the confirmed outbox rows in batches as in the admin.
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
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(runCtx)
	}()
	b.Cleanup(func() {
		stop()
		<-done
	})
	for s.Ready(ctx) != nil { // Run's first full sync
		time.Sleep(10 * time.Millisecond)
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
	if n, err := rdb.DBSize(ctx).Result(); err != nil || n != int64(b.N)+3 { // + epoch, revision marker, events
		b.Fatalf("redis holds %d keys (%v), want %d records, the two markers and the stream", n, err, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "keys/s")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n, err := store.CountPending(ctx, 0)
		if err == nil && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d outbox rows left 5s after the last issuance (%v)", n, err)
		}
	}
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
