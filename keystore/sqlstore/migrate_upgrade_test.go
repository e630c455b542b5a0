package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/sagate/sagate/internal/testing/pgtest"
	"github.com/sagate/sagate/keystore"
)

// TestUpgradeFromVersion1: a database made by the first schema (before principals) is
// upgraded in place when a store opens it: its audit rows read back with no principal,
// and the access tables work.
func TestUpgradeFromVersion1(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "v1.db")
		db, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		seedVersion1(t, db, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL);"+sqliteMigrations[1],
			"INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0)",
			"INSERT INTO workspaces (name, max_service_accounts, created_at) VALUES ('ws', 5, 0)",
			"INSERT INTO service_accounts (id, workspace, name, description, state, created_at, updated_at) VALUES ('sa_old', 'ws', 'old', '', 'active', 0, 0)",
			`INSERT INTO audit (at, actor, action, workspace, target, details) VALUES (0, 'alice@laptop', 'workspace.create', 'ws', 'ws', '{}')`)
		st, err := OpenSQLite(context.Background(), path)
		if err != nil {
			t.Fatalf("opening a version-1 database: %v", err)
		}
		defer st.Close()
		checkUpgraded(t, st)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		url := pgtest.NewDatabase(t, pgtest.Start(t))
		db, err := sql.Open("pgx", url)
		if err != nil {
			t.Fatal(err)
		}
		seedVersion1(t, db, "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL);"+postgresMigrations[1],
			"INSERT INTO schema_migrations (version, applied_at) VALUES (1, now())",
			"INSERT INTO workspaces (name, max_service_accounts, created_at) VALUES ('ws', 5, now())",
			"INSERT INTO service_accounts (id, workspace, name, description, state, created_at, updated_at) VALUES ('sa_old', 'ws', 'old', '', 'active', now(), now())",
			`INSERT INTO audit (at, actor, action, workspace, target, details) VALUES (now(), 'alice@laptop', 'workspace.create', 'ws', 'ws', '{}')`)
		st, err := OpenPostgres(context.Background(), url)
		if err != nil {
			t.Fatalf("opening a version-1 database: %v", err)
		}
		defer st.Close()
		checkUpgraded(t, st)
	})
}

func seedVersion1(t *testing.T, db *sql.DB, schema string, stmts ...string) {
	t.Helper()
	defer db.Close()
	if _, err := db.Exec(schema); err != nil {
		t.Fatalf("applying schema 1: %v", err)
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func checkUpgraded(t *testing.T, st keystore.Store) {
	t.Helper()
	ctx := keystore.WithPrincipal(context.Background(), keystore.Operator("test"))
	svc, err := keystore.NewService(st, keystore.ServiceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	evs, _, err := svc.ListAudit(ctx, keystore.AuditFilter{Workspace: "ws"}, keystore.Page{})
	if err != nil || len(evs) != 1 || evs[0].Actor != "alice@laptop" || evs[0].Principal != nil {
		t.Fatalf("old audit rows after the upgrade = %+v, %v", evs, err)
	}
	if _, _, err := svc.SetWorkspaceAdmin(ctx, "ws", "person:alice"); err != nil {
		t.Fatalf("SetWorkspaceAdmin after the upgrade: %v", err)
	}
	if _, err := svc.SetPersonRole(ctx, "ws", "p1", "bob", keystore.RoleOwner); err != nil {
		t.Fatalf("SetPersonRole after the upgrade: %v", err)
	}
	// An account from before rate limits is unlimited, and can be limited.
	if sa, err := svc.GetServiceAccount(ctx, "ws", "old"); err != nil || sa.RateLimit != nil {
		t.Fatalf("an old account after the upgrade = %+v, %v", sa, err)
	}
	if sa, err := svc.SetServiceAccountRateLimit(ctx, "ws", "old", &keystore.RateLimit{RPS: 1, Burst: 2}); err != nil || sa.RateLimit == nil {
		t.Fatalf("SetServiceAccountRateLimit after the upgrade = %+v, %v", sa, err)
	}
	evs, _, err = svc.ListAudit(ctx, keystore.AuditFilter{Workspace: "ws"}, keystore.Page{})
	if err != nil || len(evs) != 4 || evs[0].Principal == nil || evs[0].Principal.Name != "test" {
		t.Fatalf("audit after the upgrade = %+v, %v", evs, err)
	}
}
