package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/sagate/sagate/keystore"
)

// postgresTx implements Tx over one database/sql transaction on PostgreSQL.
// It shares the row helpers found and collect with the SQLite store.
type postgresTx struct {
	tx *sql.Tx
	groupSQL
}

// nullTime turns an optional time into a nullable TIMESTAMPTZ parameter.
func nullTime(t *time.Time) sql.NullTime {
	if t == nil {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: *t, Valid: true}
}

// fromNullTime turns a nullable TIMESTAMPTZ into an optional UTC time.
func fromNullTime(v sql.NullTime) *time.Time {
	if !v.Valid {
		return nil
	}
	t := v.Time.UTC()
	return &t
}

// pgInsertErr maps a uniqueness violation to ErrConflict, as insertErr does for SQLite.
func pgInsertErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if isPostgresUniqueViolation(err) {
		return fmt.Errorf("inserting %s: %w", what, keystore.ErrConflict)
	}
	return fmt.Errorf("inserting %s: %w", what, err)
}

// --- workspaces ---

func (t *postgresTx) InsertWorkspace(ctx context.Context, w keystore.Workspace) error {
	_, err := t.tx.ExecContext(ctx, "INSERT INTO workspaces (name, max_service_accounts, created_at) VALUES ($1, $2, $3)",
		w.Name, w.MaxServiceAccounts, w.CreatedAt)
	return pgInsertErr("workspace", err)
}

func pgScanWorkspace(r rowScanner) (keystore.Workspace, error) {
	var w keystore.Workspace
	err := r.Scan(&w.Name, &w.MaxServiceAccounts, &w.CreatedAt)
	w.CreatedAt = w.CreatedAt.UTC()
	return w, err
}

func (t *postgresTx) GetWorkspace(ctx context.Context, name string) (keystore.Workspace, bool, error) {
	w, err := pgScanWorkspace(t.tx.QueryRowContext(ctx,
		"SELECT name, max_service_accounts, created_at FROM workspaces WHERE name = $1", name))
	return found(w, err, "reading workspace")
}

func (t *postgresTx) ListWorkspaces(ctx context.Context, after string, limit int) ([]keystore.Workspace, error) {
	rows, err := t.tx.QueryContext(ctx,
		"SELECT name, max_service_accounts, created_at FROM workspaces WHERE name > $1 ORDER BY name LIMIT $2", after, limit)
	return collect(rows, err, "listing workspaces", pgScanWorkspace)
}

func (t *postgresTx) UpdateWorkspace(ctx context.Context, w keystore.Workspace) error {
	if _, err := t.tx.ExecContext(ctx, "UPDATE workspaces SET max_service_accounts = $1 WHERE name = $2", w.MaxServiceAccounts, w.Name); err != nil {
		return fmt.Errorf("updating workspace: %w", err)
	}
	return nil
}

// LockWorkspace locks the workspace row until the transaction ends. A second admin's
// transaction that locks the same workspace waits here, and (at READ COMMITTED) its
// following count sees the accounts the first one committed: count-then-insert cannot
// let max_service_accounts + 1 in. A missing workspace locks nothing; Service reports it.
func (t *postgresTx) LockWorkspace(ctx context.Context, name string) error {
	if _, err := t.tx.ExecContext(ctx, "SELECT 1 FROM workspaces WHERE name = $1 FOR UPDATE", name); err != nil {
		return fmt.Errorf("locking workspace: %w", err)
	}
	return nil
}

func (t *postgresTx) CountServiceAccounts(ctx context.Context, ws string) (int, error) {
	var n int
	if err := t.tx.QueryRowContext(ctx, "SELECT count(*) FROM service_accounts WHERE workspace = $1", ws).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting service accounts: %w", err)
	}
	return n, nil
}

// --- service accounts ---

func pgScanAccount(r rowScanner) (keystore.ServiceAccount, error) {
	var sa keystore.ServiceAccount
	var rps sql.NullFloat64
	var burst sql.NullInt64
	err := r.Scan(&sa.ID, &sa.Workspace, &sa.Name, &sa.Description, &sa.State, &sa.CreatedAt, &sa.UpdatedAt, &sa.CreatedBy, &sa.Owner, &rps, &burst)
	sa.RateLimit = rateLimitOf(rps, burst)
	sa.CreatedAt, sa.UpdatedAt = sa.CreatedAt.UTC(), sa.UpdatedAt.UTC()
	sa.FullName = keystore.FullName(sa.Name, sa.Workspace)
	return sa, err
}

func (t *postgresTx) InsertServiceAccount(ctx context.Context, sa keystore.ServiceAccount) error {
	rps, burst := rateLimitColumns(sa.RateLimit)
	_, err := t.tx.ExecContext(ctx, "INSERT INTO service_accounts ("+saColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
		sa.ID, sa.Workspace, sa.Name, sa.Description, string(sa.State), sa.CreatedAt, sa.UpdatedAt, sa.CreatedBy, sa.Owner, rps, burst)
	return pgInsertErr("service account", err)
}

func (t *postgresTx) GetServiceAccountByID(ctx context.Context, ws, id string) (keystore.ServiceAccount, bool, error) {
	sa, err := pgScanAccount(t.tx.QueryRowContext(ctx,
		"SELECT "+saColumns+" FROM service_accounts WHERE id = $1 AND workspace = $2", id, ws))
	return found(sa, err, "reading service account")
}

func (t *postgresTx) GetServiceAccountByName(ctx context.Context, ws, name string) (keystore.ServiceAccount, bool, error) {
	sa, err := pgScanAccount(t.tx.QueryRowContext(ctx,
		"SELECT "+saColumns+" FROM service_accounts WHERE workspace = $1 AND name = $2", ws, name))
	return found(sa, err, "reading service account")
}

func (t *postgresTx) ListServiceAccounts(ctx context.Context, ws, after string, limit int) ([]keystore.ServiceAccount, error) {
	rows, err := t.tx.QueryContext(ctx,
		"SELECT "+saColumns+" FROM service_accounts WHERE workspace = $1 AND name > $2 ORDER BY name LIMIT $3", ws, after, limit)
	return collect(rows, err, "listing service accounts", pgScanAccount)
}

func (t *postgresTx) UpdateServiceAccount(ctx context.Context, sa keystore.ServiceAccount) error {
	rps, burst := rateLimitColumns(sa.RateLimit)
	_, err := t.tx.ExecContext(ctx, "UPDATE service_accounts SET description = $1, state = $2, updated_at = $3, owner = $4, rate_limit_rps = $5, rate_limit_burst = $6 WHERE id = $7",
		sa.Description, string(sa.State), sa.UpdatedAt, sa.Owner, rps, burst, sa.ID)
	if err != nil {
		return fmt.Errorf("updating service account: %w", err)
	}
	return nil
}

func (t *postgresTx) DeleteServiceAccount(ctx context.Context, id string) error {
	if _, err := t.tx.ExecContext(ctx, "DELETE FROM service_accounts WHERE id = $1", id); err != nil {
		return fmt.Errorf("deleting service account: %w", err)
	}
	return nil
}

// --- keys ---

func pgScanKey(r rowScanner) (keystore.StoredKey, error) {
	var k keystore.StoredKey
	var hash string
	var expires, used, revoked sql.NullTime
	var successor sql.NullString
	if err := r.Scan(&k.ID, &k.ServiceAccountID, &k.Name, &hash, &k.Last6, &k.State, &k.CreatedAt, &expires, &used, &revoked, &successor); err != nil {
		return k, err
	}
	h, err := keystore.ParseKeyHash(hash)
	if err != nil {
		return k, fmt.Errorf("key %s: %w", k.ID, err)
	}
	k.Hash = h
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt, k.LastUsedAt, k.RevokedAt = fromNullTime(expires), fromNullTime(used), fromNullTime(revoked)
	k.SuccessorID = successor.String
	return k, nil
}

func (t *postgresTx) InsertKey(ctx context.Context, k keystore.StoredKey) error {
	_, err := t.tx.ExecContext(ctx, "INSERT INTO api_keys ("+keyColumns+") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
		k.ID, k.ServiceAccountID, k.Name, k.Hash.String(), k.Last6, string(k.State), k.CreatedAt,
		nullTime(k.ExpiresAt), nullTime(k.LastUsedAt), nullTime(k.RevokedAt), nullString(k.SuccessorID))
	return pgInsertErr("key", err)
}

func (t *postgresTx) GetKey(ctx context.Context, saID, id string) (keystore.StoredKey, bool, error) {
	k, err := pgScanKey(t.tx.QueryRowContext(ctx, "SELECT "+keyColumns+" FROM api_keys WHERE id = $1 AND sa_id = $2", id, saID))
	return found(k, err, "reading key")
}

func (t *postgresTx) FindKeysByLast6(ctx context.Context, saID, last6 string) ([]keystore.StoredKey, error) {
	rows, err := t.tx.QueryContext(ctx,
		"SELECT "+keyColumns+" FROM api_keys WHERE sa_id = $1 AND last6 = $2 ORDER BY created_at, id", saID, last6)
	return collect(rows, err, "finding keys", pgScanKey)
}

func (t *postgresTx) ListKeys(ctx context.Context, saID string, afterCreated time.Time, afterID string, limit int) ([]keystore.StoredKey, error) {
	var rows *sql.Rows
	var err error
	if afterID == "" {
		rows, err = t.tx.QueryContext(ctx,
			"SELECT "+keyColumns+" FROM api_keys WHERE sa_id = $1 ORDER BY created_at, id LIMIT $2", saID, limit)
	} else {
		rows, err = t.tx.QueryContext(ctx, "SELECT "+keyColumns+` FROM api_keys WHERE sa_id = $1
			AND (created_at, id) > ($2, $3) ORDER BY created_at, id LIMIT $4`,
			saID, afterCreated, afterID, limit)
	}
	return collect(rows, err, "listing keys", pgScanKey)
}

func (t *postgresTx) UnrevokedKeys(ctx context.Context, saID string) ([]keystore.StoredKey, error) {
	rows, err := t.tx.QueryContext(ctx,
		"SELECT "+keyColumns+" FROM api_keys WHERE sa_id = $1 AND state <> 'revoked' ORDER BY created_at, id", saID)
	return collect(rows, err, "listing keys", pgScanKey)
}

func (t *postgresTx) UpdateKey(ctx context.Context, k keystore.StoredKey) error {
	_, err := t.tx.ExecContext(ctx, "UPDATE api_keys SET name = $1, state = $2, expires_at = $3, revoked_at = $4, successor_id = $5 WHERE id = $6",
		k.Name, string(k.State), nullTime(k.ExpiresAt), nullTime(k.RevokedAt), nullString(k.SuccessorID), k.ID)
	if err != nil {
		return fmt.Errorf("updating key: %w", err)
	}
	return nil
}

// --- grants ---

const pgGrantSelect = `SELECT g.workspace, g.project, g.sa_id, s.name, g.role, g.created_at, g.updated_at
		FROM grants g JOIN service_accounts s ON s.id = g.sa_id`

func pgScanGrant(r rowScanner) (keystore.GrantRow, error) {
	var g keystore.GrantRow
	err := r.Scan(&g.Workspace, &g.Project, &g.ServiceAccountID, &g.AccountName, &g.Role, &g.CreatedAt, &g.UpdatedAt)
	g.ServiceAccount = keystore.FullName(g.AccountName, g.Workspace)
	g.CreatedAt, g.UpdatedAt = g.CreatedAt.UTC(), g.UpdatedAt.UTC()
	return g, err
}

func (t *postgresTx) PutGrant(ctx context.Context, g keystore.Grant) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO grants (sa_id, project, workspace, role, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (sa_id, project) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at`,
		g.ServiceAccountID, g.Project, g.Workspace, string(g.Role), g.CreatedAt, g.UpdatedAt)
	if err != nil {
		return fmt.Errorf("writing grant: %w", err)
	}
	return nil
}

func (t *postgresTx) GetGrant(ctx context.Context, saID, project string) (keystore.Grant, bool, error) {
	g, err := pgScanGrant(t.tx.QueryRowContext(ctx, pgGrantSelect+" WHERE g.sa_id = $1 AND g.project = $2", saID, project))
	return found(g.Grant, err, "reading grant")
}

func (t *postgresTx) DeleteGrant(ctx context.Context, saID, project string) (bool, error) {
	res, err := t.tx.ExecContext(ctx, "DELETE FROM grants WHERE sa_id = $1 AND project = $2", saID, project)
	if err != nil {
		return false, fmt.Errorf("deleting grant: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("deleting grant: %w", err)
	}
	return n > 0, nil
}

func (t *postgresTx) ListGrants(ctx context.Context, ws, project, afterName, afterProject string, limit int) ([]keystore.GrantRow, error) {
	rows, err := t.tx.QueryContext(ctx, pgGrantSelect+`
		WHERE g.workspace = $1 AND g.project IN ($2, '*') AND (s.name, g.project) > ($3, $4)
		ORDER BY s.name, g.project LIMIT $5`, ws, project, afterName, afterProject, limit)
	return collect(rows, err, "listing grants", pgScanGrant)
}

func (t *postgresTx) ListAccountGrants(ctx context.Context, saID, afterProject string, limit int) ([]keystore.Grant, error) {
	rows, err := t.tx.QueryContext(ctx, pgGrantSelect+`
		WHERE g.sa_id = $1 AND g.project > $2 ORDER BY g.project LIMIT $3`, saID, afterProject, limit)
	return collect(rows, err, "listing grants", func(r rowScanner) (keystore.Grant, error) {
		g, err := pgScanGrant(r)
		return g.Grant, err
	})
}

// --- audit ---

// InsertAudit appends an audit row. Its id comes from an identity column; ids are taken
// under the revision lock (see PostgresStore), so they grow in commit order.
func (t *postgresTx) InsertAudit(ctx context.Context, e keystore.AuditEvent) error {
	details, err := json.Marshal(e.Details)
	if err != nil {
		return fmt.Errorf("encoding audit details: %w", err)
	}
	principal, err := encodeAuditPrincipal(e.Principal)
	if err != nil {
		return err
	}
	_, err = t.tx.ExecContext(ctx, "INSERT INTO audit (at, actor, action, workspace, target, details, principal) VALUES ($1, $2, $3, $4, $5, $6, $7)",
		e.At, e.Actor, e.Action, e.Workspace, e.Target, string(details), principal)
	if err != nil {
		return fmt.Errorf("inserting audit event: %w", err)
	}
	return nil
}

func (t *postgresTx) AuditActors(ctx context.Context, ws, prefix string, limit int) ([]string, error) {
	rows, err := t.tx.QueryContext(ctx, auditActorsQuery(len(prefix), func(n int) string { return "$" + strconv.Itoa(n) }), prefix, ws, ws, limit)
	return collect(rows, err, "listing audit actors", scanActor)
}

func (t *postgresTx) ListAudit(ctx context.Context, f keystore.AuditFilter, beforeID int64, limit int) ([]keystore.AuditEvent, error) {
	where, args := auditWhere(f, beforeID, func(n int) string { return "$" + strconv.Itoa(n) }, func(v time.Time) any { return v })
	rows, err := t.tx.QueryContext(ctx, "SELECT id, at, actor, action, workspace, target, details::text, principal FROM audit WHERE "+where+
		" ORDER BY id DESC LIMIT $"+strconv.Itoa(len(args)+1), append(args, limit)...)
	return collect(rows, err, "listing audit events", func(r rowScanner) (keystore.AuditEvent, error) {
		var e keystore.AuditEvent
		var details, principal string
		if err := r.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Workspace, &e.Target, &details, &principal); err != nil {
			return e, err
		}
		e.At = e.At.UTC()
		p, perr := decodeAuditPrincipal(principal)
		if perr != nil {
			return e, fmt.Errorf("decoding the principal of audit event %d: %w", e.ID, perr)
		}
		e.Principal = p
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return e, fmt.Errorf("decoding audit details of event %d: %w", e.ID, err)
		}
		return e, nil
	})
}

var _ keystore.Tx = (*postgresTx)(nil)
