package redissync

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/sqlstore"
	"github.com/sagate/sagate/keystore/wire"
)

// sqliteAdmin opens the SQLite store at path and makes e.s this admin's Syncer over it,
// with a Service that applies its changes through e.s.
func (e *env) sqliteAdmin(t *testing.T, path string) (*sqlstore.SQLiteStore, *keystore.Service) {
	t.Helper()
	store, err := sqlstore.OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	e.s = newSyncer(t, e.rdb, store, Config{})
	svc, err := keystore.NewService(store, keystore.ServiceOptions{Syncer: e.s})
	if err != nil {
		t.Fatal(err)
	}
	return store, svc
}

// TestWithSQLiteStore drives the real Service and SQLite store with this Syncer and
// checks, after each mutation, the key's record, its event, and Redis against the store.
func TestWithSQLiteStore(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	store, svc := e.sqliteAdmin(t, filepath.Join(t.TempDir(), "sagate.db"))
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

// TestQuietRepairWithSQLiteStore: on the real Service and SQLite store, changes made
// through this admin leave the next repair pass without a scan of the store, checking
// only their keys, and Redis equal to the store; a commit by a second admin on the same
// store (whose Syncer this one never hears from) brings the scan back.
func TestQuietRepairWithSQLiteStore(t *testing.T) {
	e := newEnv(t, Config{})
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	path := filepath.Join(t.TempDir(), "sagate.db")
	store, svc := e.sqliteAdmin(t, path)
	must := func(doing string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", doing, err)
		}
	}
	pass := func(what string, wantScan bool) ReconcileStats {
		t.Helper()
		st, err := e.s.Reconcile(ctx)
		must(what, err)
		if st.StoreScanned != wantScan {
			t.Fatalf("%s: %+v, want the store scanned: %v", what, st, wantScan)
		}
		if msg := e.mismatchWith(t, store); msg != "" {
			t.Fatalf("%s: %s", what, msg)
		}
		return st
	}
	_, err := svc.CreateWorkspace(ctx, "ml", 0)
	must("CreateWorkspace", err)
	var keys []keystore.IssuedKey
	for _, name := range []string{"a", "b", "c"} {
		_, k, err := svc.CreateServiceAccount(ctx, "ml", keystore.CreateServiceAccountInput{Name: name, CreateKey: true})
		must("CreateServiceAccount", err)
		keys = append(keys, *k)
	}
	if st := pass("full sync", false); !st.NewEpoch {
		t.Fatalf("first reconcile: %+v, want a full sync", st)
	}
	pass("first repair", true)
	if st := pass("quiet repair", false); st.Checked != 0 {
		t.Errorf("quiet repair: %+v, want nothing checked", st)
	}

	_, err = svc.SetGrant(ctx, "ml", "billing", "a", keystore.RoleOwner)
	must("SetGrant", err)
	must("RevokeKey", svc.RevokeKey(ctx, "ml", "b", keys[1].ID))
	_, err = svc.CreateKey(ctx, "ml", "c", keystore.CreateKeyInput{Name: "second", ExpiresIn: time.Hour})
	must("CreateKey", err)
	_, err = svc.CreateGroup(ctx, "ml", "team", "") // a commit that changes no record
	must("CreateGroup", err)
	if st := pass("after changes made here", false); st.Checked != 3 || st.Written+st.Removed != 0 {
		t.Errorf("pass after changes made here: %+v, want the 3 changed keys checked and left", st)
	}

	// A second admin on the same store: its commits reach this admin only through
	// the store.
	other, err := sqlstore.OpenSQLite(ctx, path)
	must("opening the store again", err)
	t.Cleanup(func() { _ = other.Close() })
	svc2, err := keystore.NewService(other, keystore.ServiceOptions{Syncer: newSyncer(t, e.rdb, other, Config{})})
	must("NewService", err)
	_, err = svc2.SetGrant(ctx, "ml", "billing", "c", keystore.RoleViewer)
	must("SetGrant by the second admin", err)
	pass("after the second admin's change", true)
	pass("quiet again", false)
}
