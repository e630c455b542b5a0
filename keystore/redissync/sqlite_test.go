package redissync

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
	"github.com/sagate/sagate/keystore/wire"
)

// TestWithSQLiteStore drives the real Service and SQLite store with this Syncer and
// checks, after each mutation, the key's record, its event, and Redis against the store.
func TestWithSQLiteStore(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	store, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "sagate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	e.s = newSyncer(t, e.rdb, store, Config{})
	svc, err := keystore.NewService(store, keystore.ServiceOptions{Syncer: e.s})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateWorkspace(ctx, "ml", 0); err != nil {
		t.Fatal(err)
	}
	_, first, err := svc.CreateServiceAccount(ctx, "ml", keystore.CreateServiceAccountInput{
		Name: "ci-bot", AllProjectsRole: keystore.RoleViewer, CreateKey: true})
	if err != nil {
		t.Fatal(err)
	}
	h1 := keystore.HashKey(first.Key)
	var h2 keystore.KeyHash

	steps := []struct {
		name  string
		do    func() error
		hash  func() keystore.KeyHash
		check func(r wire.Record) bool
	}{
		{"created", func() error { return nil }, func() keystore.KeyHash { return h1 },
			func(r wire.Record) bool {
				return r.KeyID == first.ID && r.SA == "ci-bot@ml" && r.State == keystore.KeyActive && r.Roles["*"] == keystore.RoleViewer
			}},
		{"granted", func() error {
			_, err := svc.SetGrant(ctx, "ml", "billing", "ci-bot", keystore.RoleOwner)
			return err
		}, func() keystore.KeyHash { return h1 },
			func(r wire.Record) bool { return r.Roles["billing"] == keystore.RoleOwner }},
		{"account deactivated", func() error {
			_, err := svc.DeactivateServiceAccount(ctx, "ml", "ci-bot")
			return err
		}, func() keystore.KeyHash { return h1 },
			func(r wire.Record) bool { return r.State == keystore.KeyDeactivated }},
		{"account reactivated: old key revoked", func() error {
			_, k, err := svc.ReactivateServiceAccount(ctx, "ml", "ci-bot")
			h2 = keystore.HashKey(k.Key)
			return err
		}, func() keystore.KeyHash { return h1 },
			func(r wire.Record) bool { return r.State == keystore.KeyRevoked && r.KeyID == first.ID }},
		{"account reactivated: fresh key live", func() error { return nil }, func() keystore.KeyHash { return h2 },
			func(r wire.Record) bool {
				return r.State == keystore.KeyActive && r.Roles["billing"] == keystore.RoleOwner
			}},
		{"account deleted", func() error { return svc.DeleteServiceAccount(ctx, "ml", "ci-bot") },
			func() keystore.KeyHash { return h2 },
			func(r wire.Record) bool { return r.State == keystore.KeyRevoked }},
	}
	for _, st := range steps {
		before := len(e.events(t))
		if err := st.do(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		r, ok := e.record(t, st.hash())
		if !ok || !st.check(r) {
			t.Errorf("%s: record %+v", st.name, r)
		}
		evs := e.events(t)
		if len(evs) > before && !hashSet(evs[len(evs)-1].Hashes)[st.hash()] {
			t.Errorf("%s: the last event does not carry the key", st.name)
		}
		if msg := e.mismatchWith(t, store); msg != "" {
			t.Errorf("%s: %s", st.name, msg)
		}
	}

	// Redis wiped: a reconcile rebuilds it from the store.
	if _, _, err := svc.CreateServiceAccount(ctx, "ml", keystore.CreateServiceAccountInput{Name: "etl", CreateKey: true}); err != nil {
		t.Fatal(err)
	}
	if err := e.rdb.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	st, err := e.s.Reconcile(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !st.NewEpoch || st.Written != 1 {
		t.Errorf("stats %+v, want 1 record written with a new epoch", st)
	}
	if msg := e.mismatchWith(t, store); msg != "" {
		t.Error(msg)
	}
}
