package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
)

// postgresMigrations are applied in order, each in its own transaction, and recorded in
// schema_migrations. Never edit one that has shipped: append a new one.
//
// The tables mirror the SQLite schema. Times are TIMESTAMPTZ (microsecond precision,
// like SQLite's Unix microseconds). Key hashes are lower-case hex; secrets are never
// stored. Every text column that is sorted or paged on is COLLATE "C", so lists come
// in byte order (as on SQLite) whatever the database's default collation.
var postgresMigrations = []string{
	1: `
CREATE TABLE meta (
	id  INTEGER PRIMARY KEY CHECK (id = 1),
	rev BIGINT NOT NULL
);
INSERT INTO meta (id, rev) VALUES (1, 0);

CREATE TABLE workspaces (
	name                 TEXT COLLATE "C" PRIMARY KEY,
	max_service_accounts INTEGER NOT NULL,
	created_at           TIMESTAMPTZ NOT NULL
);

CREATE TABLE service_accounts (
	id          TEXT COLLATE "C" PRIMARY KEY,
	workspace   TEXT COLLATE "C" NOT NULL REFERENCES workspaces (name),
	name        TEXT COLLATE "C" NOT NULL,
	description TEXT NOT NULL,
	state       TEXT NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL,
	UNIQUE (workspace, name)
);

CREATE TABLE api_keys (
	id           TEXT COLLATE "C" PRIMARY KEY,
	sa_id        TEXT COLLATE "C" NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
	name         TEXT NOT NULL,
	hash         TEXT COLLATE "C" NOT NULL UNIQUE,
	last6        TEXT COLLATE "C" NOT NULL,
	state        TEXT NOT NULL,
	created_at   TIMESTAMPTZ NOT NULL,
	expires_at   TIMESTAMPTZ,
	last_used_at TIMESTAMPTZ,
	revoked_at   TIMESTAMPTZ
);
CREATE INDEX api_keys_by_account ON api_keys (sa_id, created_at, id);
CREATE INDEX api_keys_by_last6 ON api_keys (sa_id, last6);

CREATE TABLE grants (
	sa_id      TEXT COLLATE "C" NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
	project    TEXT COLLATE "C" NOT NULL,
	workspace  TEXT COLLATE "C" NOT NULL,
	role       TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (sa_id, project)
);
CREATE INDEX grants_by_project ON grants (workspace, project);

CREATE TABLE audit (
	id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at        TIMESTAMPTZ NOT NULL,
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	workspace TEXT NOT NULL,
	target    TEXT NOT NULL,
	details   JSONB NOT NULL
);
`,
	// 2: who may manage what, as in the SQLite schema.
	2: `
CREATE TABLE workspace_admins (
	workspace  TEXT COLLATE "C" NOT NULL REFERENCES workspaces (name),
	principal  TEXT COLLATE "C" NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (workspace, principal)
);

CREATE TABLE person_roles (
	workspace  TEXT COLLATE "C" NOT NULL REFERENCES workspaces (name),
	project    TEXT COLLATE "C" NOT NULL,
	person     TEXT COLLATE "C" NOT NULL,
	role       TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (workspace, project, person)
);

ALTER TABLE audit ADD COLUMN principal TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_by_workspace ON audit (workspace, id);
`,
	// 3: the outbox of changes Redis has not confirmed.
	3: postgresOutboxMigration,
	// 4: groups, their members and grants, and the account_roles view.
	4: groupsMigration(`TEXT COLLATE "C"`, "TIMESTAMPTZ"),
	// 5: who created each account, and who owns it.
	5: ownershipMigration,
	// 6: the successor a rotation issued.
	6: keySuccessorMigration,
	// 7: which keys' expiry the admin has announced.
	7: expiryAnnouncedMigration,
	// 8: an account's rate limit.
	8: rateLimitMigration,
}

// migrationLockID is the key of the transaction-level advisory lock that serialises
// migrations between admins starting at the same time on one database ("sagate" in ASCII).
const migrationLockID = 0x736167617465

// migrate applies every migration not yet recorded in schema_migrations. Each step runs
// in a transaction that first takes the migration advisory lock, so that of two admins
// starting at once one applies the step and the other, once the lock is free, sees it
// recorded. The lock goes with the transaction: a crashed admin cannot leave it held.
func (s *PostgresStore) migrate(ctx context.Context) error {
	for v := 0; v < len(postgresMigrations); v++ {
		err := s.write(ctx, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLockID)); err != nil {
				return fmt.Errorf("taking the migration lock: %w", err)
			}
			if v == 0 { // step 0 only makes sure the ledger exists (IF NOT EXISTS alone races)
				_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER PRIMARY KEY,
	applied_at TIMESTAMPTZ NOT NULL
)`)
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = $1", v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.ExecContext(ctx, postgresMigrations[v]); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", v, s.now().UTC())
			return err
		})
		if err != nil {
			if v == 0 {
				return fmt.Errorf("creating schema_migrations: %w", err)
			}
			return fmt.Errorf("applying migration %d: %w", v, err)
		}
	}
	return nil
}

// SchemaVersion returns the highest migration applied.
func (s *PostgresStore) SchemaVersion(ctx context.Context) (int, error) {
	var v sql.NullInt64
	if err := s.db.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("reading schema version: %w", err)
	}
	return int(v.Int64), nil
}
