package redissync

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
	"github.com/sagate/sagate/keystore/wire"
)

// expiryEnv runs Run over a real SQLite store and Service, and issues one key that
// expires in two seconds.
func expiryEnv(t *testing.T) (e *env, store *sqlstore.SQLiteStore, k keystore.IssuedKey) {
	t.Helper()
	e = newEnv(t, Config{})
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "sagate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	e.s = newSyncer(t, e.rdb, store, Config{ApplyTimeout: 500 * time.Millisecond})
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.s.Run(runCtx) }()
	t.Cleanup(func() { stop(); <-done })
	waitFor(t, "the first full sync", func() bool { return e.s.Ready(ctx) == nil })
	svc, err := keystore.NewService(store, keystore.ServiceOptions{Syncer: e.s})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateWorkspace(ctx, "ml", 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.CreateServiceAccount(ctx, "ml", keystore.CreateServiceAccountInput{Name: "bot"}); err != nil {
		t.Fatal(err)
	}
	if k, err = svc.CreateKey(ctx, "ml", "bot", keystore.CreateKeyInput{ExpiresIn: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if r, ok := e.record(t, keystore.HashKey(k.Key)); !ok || r.State != keystore.KeyActive {
		t.Fatalf("record of the fresh key: %+v, %v", r, ok)
	}
	return e, store, k
}

// TestExpiryAnnounced: at a key's expiry Run replaces its record with a tombstone and
// publishes an event that flags the key gone, then confirms the outbox row.
func TestExpiryAnnounced(t *testing.T) {
	e, store, k := expiryEnv(t)
	h := keystore.HashKey(k.Key)
	waitFor(t, "the tombstone of the expired key", func() bool {
		r, ok := e.record(t, h)
		return ok && r.State == keystore.KeyRevoked
	})
	if time.Now().Before(*k.ExpiresAt) {
		t.Fatal("the key was announced expired before its expiry")
	}
	evs := e.events(t)
	i := slices.IndexFunc(evs, func(ev wire.Event) bool { return slices.Contains(ev.Hashes, h) && len(ev.Gone) > 0 })
	if i < 0 || !evs[i].Gone[slices.Index(evs[i].Hashes, h)] {
		t.Errorf("no event flags the expired key gone: %+v", evs)
	}
	waitFor(t, "the outbox emptied", func() bool {
		n, err := store.CountPending(context.Background(), 0)
		return err == nil && n == 0
	})
}

// TestExpiryAnnouncedWhileRedisDown: Redis is down when the key expires. The
// announcement is committed with its outbox row; when Redis comes back (from a snapshot
// holding the live record) Run writes the tombstone and the row goes.
func TestExpiryAnnouncedWhileRedisDown(t *testing.T) {
	e, store, k := expiryEnv(t)
	h := keystore.HashKey(k.Key)
	e.srv.Save()
	e.srv.Kill()
	waitFor(t, "the announcement committed with its outbox row", func() bool {
		ps, err := store.PendingChanges(context.Background(), 0, 100)
		return err == nil && slices.ContainsFunc(ps, func(p keystore.PendingChange) bool { return slices.Contains(p.Hashes, h) })
	})
	e.srv.KillAndRestartKeepingData() // with the live record of the snapshot
	waitFor(t, "the tombstone of the expired key after redis returned", func() bool {
		r, ok := e.record(t, h)
		return !ok || r.State == keystore.KeyRevoked
	})
	waitFor(t, "the outbox emptied", func() bool {
		n, err := store.CountPending(context.Background(), 0)
		return err == nil && n == 0
	})
}
