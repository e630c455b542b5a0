package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/sagate/sagate/keystore"
)

// sqliteTx implements Tx over one database/sql transaction.
type sqliteTx struct {
	tx    *sql.Tx
	stmts *stmtCache // the handle's prepared statements; nil: none
	groupSQL
}

func (t *sqliteTx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.stmts.exec(ctx, t.tx, query, args...)
}

func (t *sqliteTx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.stmts.query(ctx, t.tx, query, args...)
}

func (t *sqliteTx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return t.stmts.queryRow(ctx, t.tx, query, args...)
}

// rowScanner is *sql.Row or *sql.Rows.
type rowScanner interface{ Scan(dest ...any) error }

func micro(t time.Time) int64 { return t.UnixMicro() }

func fromMicro(v int64) time.Time { return time.UnixMicro(v).UTC() }

func microPtr(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

func fromMicroPtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMicro(v.Int64)
	return &t
}

// insertErr maps a uniqueness violation to ErrConflict.
func insertErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if isUniqueViolation(err) {
		return fmt.Errorf("inserting %s: %w", what, keystore.ErrConflict)
	}
	return fmt.Errorf("inserting %s: %w", what, err)
}

// --- workspaces ---

func (t *sqliteTx) InsertWorkspace(ctx context.Context, w keystore.Workspace) error {
	_, err := t.exec(ctx, "INSERT INTO workspaces (name, max_service_accounts, created_at) VALUES (?, ?, ?)",
		w.Name, w.MaxServiceAccounts, micro(w.CreatedAt))
	return insertErr("workspace", err)
}

func scanWorkspace(r rowScanner) (keystore.Workspace, error) {
	var w keystore.Workspace
	var created int64
	err := r.Scan(&w.Name, &w.MaxServiceAccounts, &created)
	w.CreatedAt = fromMicro(created)
	return w, err
}

func (t *sqliteTx) GetWorkspace(ctx context.Context, name string) (keystore.Workspace, bool, error) {
	w, err := scanWorkspace(t.queryRow(ctx,
		"SELECT name, max_service_accounts, created_at FROM workspaces WHERE name = ?", name))
	return found(w, err, "reading workspace")
}

func (t *sqliteTx) ListWorkspaces(ctx context.Context, after string, limit int) ([]keystore.Workspace, error) {
	rows, err := t.query(ctx,
		"SELECT name, max_service_accounts, created_at FROM workspaces WHERE name > ? ORDER BY name LIMIT ?", after, limit)
	return collect(rows, err, "listing workspaces", scanWorkspace)
}

func (t *sqliteTx) UpdateWorkspace(ctx context.Context, w keystore.Workspace) error {
	if _, err := t.exec(ctx, "UPDATE workspaces SET max_service_accounts = ? WHERE name = ?", w.MaxServiceAccounts, w.Name); err != nil {
		return fmt.Errorf("updating workspace: %w", err)
	}
	return nil
}

func (t *sqliteTx) LockWorkspace(ctx context.Context, name string) error {
	return nil // every write transaction already holds SQLite's single write lock (BEGIN IMMEDIATE)
}

func (t *sqliteTx) CountServiceAccounts(ctx context.Context, ws string) (int, error) {
	var n int
	if err := t.queryRow(ctx, "SELECT count(*) FROM service_accounts WHERE workspace = ?", ws).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting service accounts: %w", err)
	}
	return n, nil
}

// --- service accounts ---

const saColumns = "id, workspace, name, description, state, created_at, updated_at, created_by, owner, rate_limit_rps, rate_limit_burst"

func scanAccount(r rowScanner) (keystore.ServiceAccount, error) {
	var sa keystore.ServiceAccount
	var created, updated int64
	var rps sql.NullFloat64
	var burst sql.NullInt64
	err := r.Scan(&sa.ID, &sa.Workspace, &sa.Name, &sa.Description, &sa.State, &created, &updated, &sa.CreatedBy, &sa.Owner, &rps, &burst)
	sa.RateLimit = rateLimitOf(rps, burst)
	sa.CreatedAt, sa.UpdatedAt = fromMicro(created), fromMicro(updated)
	sa.FullName = keystore.FullName(sa.Name, sa.Workspace)
	return sa, err
}

func (t *sqliteTx) InsertServiceAccount(ctx context.Context, sa keystore.ServiceAccount) error {
	rps, burst := rateLimitColumns(sa.RateLimit)
	_, err := t.exec(ctx, "INSERT INTO service_accounts ("+saColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		sa.ID, sa.Workspace, sa.Name, sa.Description, sa.State, micro(sa.CreatedAt), micro(sa.UpdatedAt), sa.CreatedBy, sa.Owner, rps, burst)
	return insertErr("service account", err)
}

func (t *sqliteTx) GetServiceAccountByID(ctx context.Context, ws, id string) (keystore.ServiceAccount, bool, error) {
	sa, err := scanAccount(t.queryRow(ctx,
		"SELECT "+saColumns+" FROM service_accounts WHERE id = ? AND workspace = ?", id, ws))
	return found(sa, err, "reading service account")
}

func (t *sqliteTx) GetServiceAccountByName(ctx context.Context, ws, name string) (keystore.ServiceAccount, bool, error) {
	sa, err := scanAccount(t.queryRow(ctx,
		"SELECT "+saColumns+" FROM service_accounts WHERE workspace = ? AND name = ?", ws, name))
	return found(sa, err, "reading service account")
}

func (t *sqliteTx) ListServiceAccounts(ctx context.Context, ws, after string, limit int) ([]keystore.ServiceAccount, error) {
	rows, err := t.query(ctx,
		"SELECT "+saColumns+" FROM service_accounts WHERE workspace = ? AND name > ? ORDER BY name LIMIT ?", ws, after, limit)
	return collect(rows, err, "listing service accounts", scanAccount)
}

func (t *sqliteTx) UpdateServiceAccount(ctx context.Context, sa keystore.ServiceAccount) error {
	rps, burst := rateLimitColumns(sa.RateLimit)
	_, err := t.exec(ctx, "UPDATE service_accounts SET description = ?, state = ?, updated_at = ?, owner = ?, rate_limit_rps = ?, rate_limit_burst = ? WHERE id = ?",
		sa.Description, sa.State, micro(sa.UpdatedAt), sa.Owner, rps, burst, sa.ID)
	if err != nil {
		return fmt.Errorf("updating service account: %w", err)
	}
	return nil
}

func (t *sqliteTx) DeleteServiceAccount(ctx context.Context, id string) error {
	if _, err := t.exec(ctx, "DELETE FROM service_accounts WHERE id = ?", id); err != nil {
		return fmt.Errorf("deleting service account: %w", err)
	}
	return nil
}

// --- keys ---

const keyColumns = "id, sa_id, name, hash, last6, state, created_at, expires_at, last_used_at, revoked_at, successor_id"

func scanKey(r rowScanner) (keystore.StoredKey, error) {
	var k keystore.StoredKey
	var hash string
	var created int64
	var expires, used, revoked sql.NullInt64
	var successor sql.NullString
	if err := r.Scan(&k.ID, &k.ServiceAccountID, &k.Name, &hash, &k.Last6, &k.State, &created, &expires, &used, &revoked, &successor); err != nil {
		return k, err
	}
	h, err := keystore.ParseKeyHash(hash)
	if err != nil {
		return k, fmt.Errorf("key %s: %w", k.ID, err)
	}
	k.Hash = h
	k.CreatedAt = fromMicro(created)
	k.ExpiresAt, k.LastUsedAt, k.RevokedAt = fromMicroPtr(expires), fromMicroPtr(used), fromMicroPtr(revoked)
	k.SuccessorID = successor.String
	return k, nil
}

func (t *sqliteTx) InsertKey(ctx context.Context, k keystore.StoredKey) error {
	_, err := t.exec(ctx, "INSERT INTO api_keys ("+keyColumns+") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		k.ID, k.ServiceAccountID, k.Name, k.Hash.String(), k.Last6, k.State, micro(k.CreatedAt),
		microPtr(k.ExpiresAt), microPtr(k.LastUsedAt), microPtr(k.RevokedAt), nullString(k.SuccessorID))
	return insertErr("key", err)
}

func (t *sqliteTx) GetKey(ctx context.Context, saID, id string) (keystore.StoredKey, bool, error) {
	k, err := scanKey(t.queryRow(ctx, "SELECT "+keyColumns+" FROM api_keys WHERE id = ? AND sa_id = ?", id, saID))
	return found(k, err, "reading key")
}

func (t *sqliteTx) FindKeysByLast6(ctx context.Context, saID, last6 string) ([]keystore.StoredKey, error) {
	rows, err := t.query(ctx,
		"SELECT "+keyColumns+" FROM api_keys WHERE sa_id = ? AND last6 = ? ORDER BY created_at, id", saID, last6)
	return collect(rows, err, "finding keys", scanKey)
}

func (t *sqliteTx) ListKeys(ctx context.Context, saID string, afterCreated time.Time, afterID string, limit int) ([]keystore.StoredKey, error) {
	var rows *sql.Rows
	var err error
	if afterID == "" {
		rows, err = t.query(ctx,
			"SELECT "+keyColumns+" FROM api_keys WHERE sa_id = ? ORDER BY created_at, id LIMIT ?", saID, limit)
	} else {
		ac := micro(afterCreated)
		rows, err = t.query(ctx, "SELECT "+keyColumns+` FROM api_keys WHERE sa_id = ?
			AND (created_at > ? OR (created_at = ? AND id > ?)) ORDER BY created_at, id LIMIT ?`,
			saID, ac, ac, afterID, limit)
	}
	return collect(rows, err, "listing keys", scanKey)
}

func (t *sqliteTx) UnrevokedKeys(ctx context.Context, saID string) ([]keystore.StoredKey, error) {
	rows, err := t.query(ctx,
		"SELECT "+keyColumns+" FROM api_keys WHERE sa_id = ? AND state != 'revoked' ORDER BY created_at, id", saID)
	return collect(rows, err, "listing keys", scanKey)
}

func (t *sqliteTx) UpdateKey(ctx context.Context, k keystore.StoredKey) error {
	_, err := t.exec(ctx, "UPDATE api_keys SET name = ?, state = ?, expires_at = ?, revoked_at = ?, successor_id = ? WHERE id = ?",
		k.Name, k.State, microPtr(k.ExpiresAt), microPtr(k.RevokedAt), nullString(k.SuccessorID), k.ID)
	if err != nil {
		return fmt.Errorf("updating key: %w", err)
	}
	return nil
}

// --- grants ---

func (t *sqliteTx) PutGrant(ctx context.Context, g keystore.Grant) error {
	_, err := t.exec(ctx, `INSERT INTO grants (sa_id, project, workspace, role, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (sa_id, project) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at`,
		g.ServiceAccountID, g.Project, g.Workspace, g.Role, micro(g.CreatedAt), micro(g.UpdatedAt))
	if err != nil {
		return fmt.Errorf("writing grant: %w", err)
	}
	return nil
}

func (t *sqliteTx) GetGrant(ctx context.Context, saID, project string) (keystore.Grant, bool, error) {
	var g keystore.Grant
	var created, updated int64
	err := t.queryRow(ctx, `SELECT g.workspace, g.project, g.sa_id, s.name, g.role, g.created_at, g.updated_at
		FROM grants g JOIN service_accounts s ON s.id = g.sa_id WHERE g.sa_id = ? AND g.project = ?`, saID, project).
		Scan(&g.Workspace, &g.Project, &g.ServiceAccountID, &g.ServiceAccount, &g.Role, &created, &updated)
	g.ServiceAccount = keystore.FullName(g.ServiceAccount, g.Workspace)
	g.CreatedAt, g.UpdatedAt = fromMicro(created), fromMicro(updated)
	return found(g, err, "reading grant")
}

func (t *sqliteTx) DeleteGrant(ctx context.Context, saID, project string) (bool, error) {
	res, err := t.exec(ctx, "DELETE FROM grants WHERE sa_id = ? AND project = ?", saID, project)
	if err != nil {
		return false, fmt.Errorf("deleting grant: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("deleting grant: %w", err)
	}
	return n > 0, nil
}

func (t *sqliteTx) ListGrants(ctx context.Context, ws, project, afterName, afterProject string, limit int) ([]keystore.GrantRow, error) {
	rows, err := t.query(ctx, `SELECT g.workspace, g.project, g.sa_id, s.name, g.role, g.created_at, g.updated_at
		FROM grants g JOIN service_accounts s ON s.id = g.sa_id
		WHERE g.workspace = ? AND g.project IN (?, '*')
		  AND (s.name > ? OR (s.name = ? AND g.project > ?))
		ORDER BY s.name, g.project LIMIT ?`, ws, project, afterName, afterName, afterProject, limit)
	return collect(rows, err, "listing grants", func(r rowScanner) (keystore.GrantRow, error) {
		var g keystore.GrantRow
		var created, updated int64
		err := r.Scan(&g.Workspace, &g.Project, &g.ServiceAccountID, &g.AccountName, &g.Role, &created, &updated)
		g.ServiceAccount = keystore.FullName(g.AccountName, g.Workspace)
		g.CreatedAt, g.UpdatedAt = fromMicro(created), fromMicro(updated)
		return g, err
	})
}

func (t *sqliteTx) ListAccountGrants(ctx context.Context, saID, afterProject string, limit int) ([]keystore.Grant, error) {
	rows, err := t.query(ctx, `SELECT g.workspace, g.project, g.sa_id, s.name, g.role, g.created_at, g.updated_at
		FROM grants g JOIN service_accounts s ON s.id = g.sa_id
		WHERE g.sa_id = ? AND g.project > ? ORDER BY g.project LIMIT ?`, saID, afterProject, limit)
	return collect(rows, err, "listing grants", func(r rowScanner) (keystore.Grant, error) {
		var g keystore.Grant
		var created, updated int64
		err := r.Scan(&g.Workspace, &g.Project, &g.ServiceAccountID, &g.ServiceAccount, &g.Role, &created, &updated)
		g.ServiceAccount = keystore.FullName(g.ServiceAccount, g.Workspace)
		g.CreatedAt, g.UpdatedAt = fromMicro(created), fromMicro(updated)
		return g, err
	})
}

// --- audit ---

func (t *sqliteTx) InsertAudit(ctx context.Context, e keystore.AuditEvent) error {
	details, err := json.Marshal(e.Details)
	if err != nil {
		return fmt.Errorf("encoding audit details: %w", err)
	}
	principal, err := encodeAuditPrincipal(e.Principal)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "INSERT INTO audit (at, actor, action, workspace, target, details, principal) VALUES (?, ?, ?, ?, ?, ?, ?)",
		micro(e.At), e.Actor, e.Action, e.Workspace, e.Target, string(details), principal)
	if err != nil {
		return fmt.Errorf("inserting audit event: %w", err)
	}
	return nil
}

func (t *sqliteTx) AuditActors(ctx context.Context, ws, prefix string, limit int) ([]string, error) {
	rows, err := t.query(ctx, auditActorsQuery(len(prefix), func(int) string { return "?" }), prefix, ws, ws, limit)
	return collect(rows, err, "listing audit actors", scanActor)
}

func (t *sqliteTx) ListAudit(ctx context.Context, f keystore.AuditFilter, beforeID int64, limit int) ([]keystore.AuditEvent, error) {
	where, args := auditWhere(f, beforeID, func(int) string { return "?" }, func(v time.Time) any { return micro(v) })
	rows, err := t.query(ctx, "SELECT id, at, actor, action, workspace, target, details, principal FROM audit WHERE "+where+
		" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	return collect(rows, err, "listing audit events", func(r rowScanner) (keystore.AuditEvent, error) {
		var e keystore.AuditEvent
		var at int64
		var details, principal string
		if err := r.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Workspace, &e.Target, &details, &principal); err != nil {
			return e, err
		}
		e.At = fromMicro(at)
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

// --- helpers ---

// found turns sql.ErrNoRows into found=false and wraps other errors.
func found[T any](v T, err error, doing string) (T, bool, error) {
	switch {
	case err == nil:
		return v, true, nil
	case errors.Is(err, sql.ErrNoRows):
		var zero T
		return zero, false, nil
	}
	var zero T
	return zero, false, fmt.Errorf("%s: %w", doing, err)
}

// collect scans every row with scan, closing rows.
func collect[T any](rows *sql.Rows, err error, doing string, scan func(rowScanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", doing, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	return out, nil
}

var _ keystore.Tx = (*sqliteTx)(nil)
