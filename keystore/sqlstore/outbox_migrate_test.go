package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/sagate/sagate/internal/testing/pgtest"
	"github.com/sagate/sagate/keystore"
)

// upgradeCheck opens st's Service with a Syncer, issues a key in the workspace "ws" made
// before the upgrade, and checks the outbox row it leaves.
func upgradeCheck(t *testing.T, st keystore.Store, version func(context.Context) (int, error)) {
	t.Helper()
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	if v, err := version(ctx); err != nil || v != len(sqliteMigrations)-1 {
		t.Fatalf("SchemaVersion after the upgrade = %d, %v; want %d", v, err, len(sqliteMigrations)-1)
	}
	svc, err := keystore.NewService(st, keystore.ServiceOptions{Syncer: nopSyncer{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GetWorkspace(ctx, "ws"); err != nil {
		t.Fatalf("the workspace made before the upgrade: %v", err)
	}
	if _, _, err := svc.CreateServiceAccount(ctx, "ws", keystore.CreateServiceAccountInput{Name: "bot", CreateKey: true}); err != nil {
		t.Fatal(err)
	}
	if ps, err := st.PendingChanges(ctx, 0, 10); err != nil || len(ps) != 1 || len(ps[0].Hashes) != 1 {
		t.Fatalf("pending after issuing a key on the upgraded store = %+v, %v; want one change of one key", ps, err)
	}
}

type nopSyncer struct{}

func (nopSyncer) Apply(context.Context, keystore.Change) error { return nil }

// An existing database at schema version 1 (before the outbox) gains sync_pending on
// open and keeps its rows.
func TestSQLiteUpgradeAddsOutbox(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "sagate.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
		sqliteMigrations[1],
		"INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0)",
		"INSERT INTO workspaces (name, max_service_accounts, created_at) VALUES ('ws', 10, 0)",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("building a version 1 database: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := OpenSQLite(ctx, path)
	if err != nil {
		t.Fatalf("opening a version 1 database: %v", err)
	}
	defer st.Close()
	upgradeCheck(t, st, st.SchemaVersion)
}

func TestPostgresUpgradeAddsOutbox(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t, pgtest.Start(t))
	db, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)",
		postgresMigrations[1],
		"INSERT INTO schema_migrations (version, applied_at) VALUES (1, now())",
		"INSERT INTO workspaces (name, max_service_accounts, created_at) VALUES ('ws', 10, now())",
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("building a version 1 database: %v", err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := OpenPostgres(ctx, url)
	if err != nil {
		t.Fatalf("opening a version 1 database: %v", err)
	}
	defer st.Close()
	upgradeCheck(t, st, st.SchemaVersion)
}
