package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/sagate/sagate/keystore"
)

// AccessTx over SQLite: authentication by key hash, workspace admins
// and people's project roles.

// keyWithAccount selects a key's columns then its account's, joined.
const keyWithAccount = `SELECT k.id, k.sa_id, k.name, k.hash, k.last6, k.state, k.created_at, k.expires_at, k.last_used_at, k.revoked_at,
	s.id, s.workspace, s.name, s.description, s.state, s.created_at, s.updated_at
	FROM api_keys k JOIN service_accounts s ON s.id = k.sa_id WHERE k.hash = `

func (t *sqliteTx) GetKeyByHash(ctx context.Context, h keystore.KeyHash) (keystore.StoredKey, keystore.ServiceAccount, bool, error) {
	var (
		k                      keystore.StoredKey
		sa                     keystore.ServiceAccount
		hash                   string
		kc, sc, su             int64
		expires, used, revoked sql.NullInt64
	)
	err := t.queryRow(ctx, keyWithAccount+"?", h.String()).Scan(
		&k.ID, &k.ServiceAccountID, &k.Name, &hash, &k.Last6, &k.State, &kc, &expires, &used, &revoked,
		&sa.ID, &sa.Workspace, &sa.Name, &sa.Description, &sa.State, &sc, &su)
	if _, ok, err := found(k, err, "reading key by hash"); !ok || err != nil {
		return keystore.StoredKey{}, keystore.ServiceAccount{}, false, err
	}
	k.Hash = h
	k.CreatedAt = fromMicro(kc)
	k.ExpiresAt, k.LastUsedAt, k.RevokedAt = fromMicroPtr(expires), fromMicroPtr(used), fromMicroPtr(revoked)
	sa.CreatedAt, sa.UpdatedAt = fromMicro(sc), fromMicro(su)
	sa.FullName = keystore.FullName(sa.Name, sa.Workspace)
	return k, sa, true, nil
}

// affected reports whether an INSERT, UPDATE or DELETE changed a row.
func affected(res sql.Result, err error, doing string) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("%s: %w", doing, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("%s: %w", doing, err)
	}
	return n > 0, nil
}

func (t *sqliteTx) IsWorkspaceAdmin(ctx context.Context, ws, principal string) (bool, error) {
	var n int
	err := t.queryRow(ctx, "SELECT count(*) FROM workspace_admins WHERE workspace = ? AND principal = ?", ws, principal).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("reading workspace admin: %w", err)
	}
	return n > 0, nil
}

func (t *sqliteTx) PutWorkspaceAdmin(ctx context.Context, a keystore.WorkspaceAdmin) (bool, error) {
	res, err := t.exec(ctx, `INSERT INTO workspace_admins (workspace, principal, created_at) VALUES (?, ?, ?)
		ON CONFLICT (workspace, principal) DO NOTHING`, a.Workspace, a.Principal, micro(a.CreatedAt))
	return affected(res, err, "writing workspace admin")
}

func (t *sqliteTx) DeleteWorkspaceAdmin(ctx context.Context, ws, principal string) (bool, error) {
	res, err := t.exec(ctx, "DELETE FROM workspace_admins WHERE workspace = ? AND principal = ?", ws, principal)
	return affected(res, err, "deleting workspace admin")
}

func (t *sqliteTx) ListWorkspaceAdmins(ctx context.Context, ws, after string, limit int) ([]keystore.WorkspaceAdmin, error) {
	rows, err := t.query(ctx, `SELECT a.workspace, a.principal, coalesce(s.name, ''), a.created_at
		FROM workspace_admins a LEFT JOIN service_accounts s ON 'sa:' || s.id = a.principal
		WHERE a.workspace = ? AND a.principal > ? ORDER BY a.principal LIMIT ?`, ws, after, limit)
	return collect(rows, err, "listing workspace admins", func(r rowScanner) (keystore.WorkspaceAdmin, error) {
		var a keystore.WorkspaceAdmin
		var created int64
		err := r.Scan(&a.Workspace, &a.Principal, &a.Name, &created)
		a.CreatedAt = fromMicro(created)
		a.Name = adminName(a)
		return a, err
	})
}

// adminName is the display name of an admin row whose Name holds the account's name ("" for a person).
func adminName(a keystore.WorkspaceAdmin) string {
	if a.Name != "" {
		return keystore.FullName(a.Name, a.Workspace)
	}
	if p, ok := strings.CutPrefix(a.Principal, keystore.PrincipalRefPerson); ok {
		return p
	}
	return a.Principal
}

func (t *sqliteTx) PutPersonRole(ctx context.Context, r keystore.PersonRole) error {
	_, err := t.exec(ctx, `INSERT INTO person_roles (workspace, project, person, role, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (workspace, project, person) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at`,
		r.Workspace, r.Project, r.Person, r.Role, micro(r.CreatedAt), micro(r.UpdatedAt))
	if err != nil {
		return fmt.Errorf("writing person role: %w", err)
	}
	return nil
}

const personRoleColumns = "workspace, project, person, role, created_at, updated_at"

func scanPersonRole(r rowScanner) (keystore.PersonRole, error) {
	var p keystore.PersonRole
	var created, updated int64
	err := r.Scan(&p.Workspace, &p.Project, &p.Person, &p.Role, &created, &updated)
	p.CreatedAt, p.UpdatedAt = fromMicro(created), fromMicro(updated)
	return p, err
}

func (t *sqliteTx) GetPersonRole(ctx context.Context, ws, project, person string) (keystore.PersonRole, bool, error) {
	p, err := scanPersonRole(t.queryRow(ctx, "SELECT "+personRoleColumns+
		" FROM person_roles WHERE workspace = ? AND project = ? AND person = ?", ws, project, person))
	return found(p, err, "reading person role")
}

func (t *sqliteTx) DeletePersonRole(ctx context.Context, ws, project, person string) (bool, error) {
	res, err := t.exec(ctx, "DELETE FROM person_roles WHERE workspace = ? AND project = ? AND person = ?", ws, project, person)
	return affected(res, err, "deleting person role")
}

func (t *sqliteTx) ListPersonRoles(ctx context.Context, ws, project string, limit int) ([]keystore.PersonRole, error) {
	rows, err := t.query(ctx, "SELECT "+personRoleColumns+
		" FROM person_roles WHERE workspace = ? AND project IN (?, '*') ORDER BY person, project LIMIT ?", ws, project, limit)
	return collect(rows, err, "listing person roles", scanPersonRole)
}
