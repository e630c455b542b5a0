package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// sqliteMigrations are applied in order, each in its own transaction, and recorded in
// schema_migrations. Never edit one that has shipped: append a new one.
//
// Times are INTEGER Unix microseconds (UTC). Key hashes are lower-case hex; secrets are
// never stored. Accounts are deleted for good: their keys and grants go with them.
var sqliteMigrations = []string{
	1: `
CREATE TABLE meta (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	rev INTEGER NOT NULL
);
INSERT INTO meta (id, rev) VALUES (1, 0);

CREATE TABLE workspaces (
	name                 TEXT PRIMARY KEY,
	max_service_accounts INTEGER NOT NULL,
	created_at           INTEGER NOT NULL
);

CREATE TABLE service_accounts (
	id          TEXT PRIMARY KEY,
	workspace   TEXT NOT NULL REFERENCES workspaces (name),
	name        TEXT NOT NULL,
	description TEXT NOT NULL,
	state       TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	UNIQUE (workspace, name)
);

CREATE TABLE api_keys (
	id           TEXT PRIMARY KEY,
	sa_id        TEXT NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	hash         TEXT NOT NULL UNIQUE,
	last6        TEXT NOT NULL,
	state        TEXT NOT NULL,
	created_at   INTEGER NOT NULL,
	expires_at   INTEGER,
	last_used_at INTEGER,
	revoked_at   INTEGER
);
CREATE INDEX api_keys_by_account ON api_keys (sa_id, created_at, id);
CREATE INDEX api_keys_by_last6 ON api_keys (sa_id, last6);

CREATE TABLE grants (
	sa_id      TEXT NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
	project    TEXT NOT NULL,
	workspace  TEXT NOT NULL,
	role       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (sa_id, project)
);
CREATE INDEX grants_by_project ON grants (workspace, project);

CREATE TABLE audit (
	id        INTEGER PRIMARY KEY AUTOINCREMENT,
	at        INTEGER NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	workspace TEXT NOT NULL,
	target    TEXT NOT NULL,
	details   TEXT NOT NULL
);
`,
	// 2: who may manage what. workspace_admins.principal is "sa:ID" or "person:NAME";
	// audit.principal is the JSON of the caller (keystore.AuditPrincipal).
	2: `
CREATE TABLE workspace_admins (
	workspace  TEXT NOT NULL REFERENCES workspaces (name),
	principal  TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (workspace, principal)
);

CREATE TABLE person_roles (
	workspace  TEXT NOT NULL REFERENCES workspaces (name),
	project    TEXT NOT NULL,
	person     TEXT NOT NULL,
	role       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (workspace, project, person)
);

ALTER TABLE audit ADD COLUMN principal TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_by_workspace ON audit (workspace, id);
`,
	// 3: the outbox of changes Redis has not confirmed.
	3: sqliteOutboxMigration,
	// 4: groups, their members and grants, and the account_roles view.
	4: groupsMigration("TEXT", "INTEGER"),
	// 5: who created each account, and who owns it.
	5: ownershipMigration,
	// 6: the successor a rotation issued.
	6: keySuccessorMigration,
	// 7: which keys' expiry the admin has announced.
	7: expiryAnnouncedMigration,
	// 8: an account's rate limit.
	8: rateLimitMigration,
}

// migrate applies every migration not yet recorded in schema_migrations.
func (s *SQLiteStore) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at INTEGER NOT NULL
)`); err != nil {
		return fmt.Errorf("creating schema_migrations: %w", err)
	}
	for v := 1; v < len(sqliteMigrations); v++ {
		err := s.write(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, sqliteMigrations[v]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)", v, s.now().UnixMicro())
			return err
		})
		if err != nil {
			return fmt.Errorf("applying migration %d: %w", v, err)
		}
	}
	return nil
}

// SchemaVersion returns the highest migration applied.
func (s *SQLiteStore) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.w.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	return int(v.Int64), nil
}
