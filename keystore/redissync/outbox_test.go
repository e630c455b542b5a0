package redissync

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sagate/sagate/internal/testing/redistest"
	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
)

// admin is one admin of a test: a Service and its Syncer over its own handle on a
// shared SQLite store.
type admin struct {
	store *sqlstore.SQLiteStore
	svc   *keystore.Service
	s     *Syncer
}

func newAdmin(t *testing.T, path string, rdb redis.UniversalClient, cfg Config) admin {
	t.Helper()
	store, err := sqlstore.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	s := newSyncer(t, rdb, store, cfg)
	svc, err := keystore.NewService(store, keystore.ServiceOptions{Syncer: s})
	if err != nil {
		t.Fatal(err)
	}
	return admin{store: store, svc: svc, s: s}
}

// TestOutboxRepairsAChangeOfADeadAdmin: admin A commits a revocation and dies before
// writing Redis (its Redis does not answer, and it never runs again); admin B, on the
// same store, then commits a later change, which raises the revision marker past A's,
// so the marker check cannot see the gap. B finds A's change in the store's outbox
// after the grace and writes it: the revoked key's record becomes a tombstone within a
// few seconds (before the outbox, only the 5-minute repair did). B's own changes leave
// no row behind and are never re-applied; the log names revisions, never a hash.
func TestOutboxRepairsAChangeOfADeadAdmin(t *testing.T) {
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	path := filepath.Join(t.TempDir(), "sagate.db")

	core, logs := observer.New(zapcore.WarnLevel)
	b := newAdmin(t, path, rdb, Config{Logger: zap.New(core)}) // the default 1s check
	dead := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + itoa(redistest.FreePort(t)), MaxRetries: -1, DialTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { _ = dead.Close() })
	a := newAdmin(t, path, dead, Config{ApplyTimeout: 300 * time.Millisecond})

	startRun(t, b.s)
	waitFor(t, "the initial sync", func() bool { return b.s.Ready(ctx) == nil })
	if _, err := b.svc.CreateWorkspace(ctx, "ws", 0); err != nil {
		t.Fatal(err)
	}
	_, k, err := b.svc.CreateServiceAccount(ctx, "ws", keystore.CreateServiceAccountInput{
		Name: "bot", AllProjectsRole: keystore.RoleViewer, CreateKey: true})
	if err != nil {
		t.Fatal(err)
	}
	revoked := keystore.HashKey(k.Key)
	e := &env{rdb: rdb, src: newMemSource(), s: b.s}
	if r, ok := e.record(t, revoked); !ok || r.State != keystore.KeyActive {
		t.Fatalf("the key's record before the revocation: %+v, %v", r, ok)
	}

	// A commits the revocation; its Apply cannot reach Redis, and A is gone for good.
	if err := a.svc.RevokeKey(ctx, "ws", "bot", k.ID); err != nil {
		t.Fatal(err)
	}
	revA, err := a.store.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	committed := time.Now()
	// B commits a later change, written to Redis: the marker passes A's revision.
	later, err := b.svc.CreateKey(ctx, "ws", "bot", keystore.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.redisRev(t); got <= revA {
		t.Fatalf("revision marker %d after B's change, want above A's %d", got, revA)
	}
	if r, ok := e.record(t, revoked); !ok || r.State != keystore.KeyActive {
		t.Fatalf("redis already knows of the revocation: %+v, %v", r, ok)
	}
	epoch := e.epoch(t)

	waitFor(t, "B to write A's revocation", func() bool {
		r, ok := e.record(t, revoked)
		return ok && r.State == keystore.KeyRevoked
	})
	took := time.Since(committed)
	t.Logf("A's revocation reached redis %v after its commit (grace %v, check every %v)",
		took.Round(time.Millisecond), revGrace, DefaultEpochCheckInterval)
	if took < revGrace {
		t.Errorf("re-applied after %v, within the grace %v given to an Apply in flight", took, revGrace)
	}
	if r, ok := e.record(t, keystore.HashKey(later.Key)); !ok || r.State != keystore.KeyActive {
		t.Errorf("B's own change: %+v, %v", r, ok)
	}
	if e.epoch(t) != epoch {
		t.Error("the repair changed the epoch: the outbox re-applies the change, no full sync needed")
	}
	waitFor(t, "the outbox to empty", func() bool {
		n, err := b.store.CountPending(ctx, 0)
		return err == nil && n == 0
	})

	var warned []observer.LoggedEntry
	for _, l := range logs.All() {
		for _, f := range l.Context {
			if s := f.String; strings.Contains(s, revoked.String()) || strings.Contains(s, keystore.HashKey(later.Key).String()) {
				t.Errorf("log %q carries a key hash", l.Message)
			}
		}
		if strings.Contains(l.Message, "re-applying") {
			warned = append(warned, l)
		}
	}
	if len(warned) != 1 {
		t.Fatalf("%d re-apply warnings, want 1: %+v", len(warned), warned)
	}
	revs, ok := warned[0].ContextMap()["revs"].([]any)
	if !ok || !slices.Equal(revs, []any{revA}) {
		t.Errorf("re-apply warning names revisions %v, want only A's %d", warned[0].ContextMap()["revs"], revA)
	}
}
