package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sagate/sagate/keystore"
)

// AccessTx over PostgreSQL, mirroring sqlite_access.go.

func (t *postgresTx) GetKeyByHash(ctx context.Context, h keystore.KeyHash) (keystore.StoredKey, keystore.ServiceAccount, bool, error) {
	var (
		k                      keystore.StoredKey
		sa                     keystore.ServiceAccount
		hash                   string
		expires, used, revoked sql.NullTime
	)
	err := t.tx.QueryRowContext(ctx, keyWithAccount+"$1", h.String()).Scan(
		&k.ID, &k.ServiceAccountID, &k.Name, &hash, &k.Last6, &k.State, &k.CreatedAt, &expires, &used, &revoked,
		&sa.ID, &sa.Workspace, &sa.Name, &sa.Description, &sa.State, &sa.CreatedAt, &sa.UpdatedAt)
	if _, ok, err := found(k, err, "reading key by hash"); !ok || err != nil {
		return keystore.StoredKey{}, keystore.ServiceAccount{}, false, err
	}
	k.Hash = h
	k.CreatedAt = k.CreatedAt.UTC()
	k.ExpiresAt, k.LastUsedAt, k.RevokedAt = fromNullTime(expires), fromNullTime(used), fromNullTime(revoked)
	sa.CreatedAt, sa.UpdatedAt = sa.CreatedAt.UTC(), sa.UpdatedAt.UTC()
	sa.FullName = keystore.FullName(sa.Name, sa.Workspace)
	return k, sa, true, nil
}

func (t *postgresTx) IsWorkspaceAdmin(ctx context.Context, ws, principal string) (bool, error) {
	var n int
	err := t.tx.QueryRowContext(ctx, "SELECT count(*) FROM workspace_admins WHERE workspace = $1 AND principal = $2", ws, principal).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("reading workspace admin: %w", err)
	}
	return n > 0, nil
}

func (t *postgresTx) PutWorkspaceAdmin(ctx context.Context, a keystore.WorkspaceAdmin) (bool, error) {
	res, err := t.tx.ExecContext(ctx, `INSERT INTO workspace_admins (workspace, principal, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (workspace, principal) DO NOTHING`, a.Workspace, a.Principal, a.CreatedAt)
	return affected(res, err, "writing workspace admin")
}

func (t *postgresTx) DeleteWorkspaceAdmin(ctx context.Context, ws, principal string) (bool, error) {
	res, err := t.tx.ExecContext(ctx, "DELETE FROM workspace_admins WHERE workspace = $1 AND principal = $2", ws, principal)
	return affected(res, err, "deleting workspace admin")
}

func (t *postgresTx) ListWorkspaceAdmins(ctx context.Context, ws, after string, limit int) ([]keystore.WorkspaceAdmin, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT a.workspace, a.principal, coalesce(s.name, ''), a.created_at
		FROM workspace_admins a LEFT JOIN service_accounts s ON 'sa:' || s.id = a.principal
		WHERE a.workspace = $1 AND a.principal > $2 ORDER BY a.principal LIMIT $3`, ws, after, limit)
	return collect(rows, err, "listing workspace admins", func(r rowScanner) (keystore.WorkspaceAdmin, error) {
		var a keystore.WorkspaceAdmin
		err := r.Scan(&a.Workspace, &a.Principal, &a.Name, &a.CreatedAt)
		a.CreatedAt = a.CreatedAt.UTC()
		a.Name = adminName(a)
		return a, err
	})
}

func (t *postgresTx) PutPersonRole(ctx context.Context, r keystore.PersonRole) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO person_roles (workspace, project, person, role, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (workspace, project, person) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at`,
		r.Workspace, r.Project, r.Person, r.Role, r.CreatedAt, r.UpdatedAt)
	if err != nil {
		return fmt.Errorf("writing person role: %w", err)
	}
	return nil
}

func pgScanPersonRole(r rowScanner) (keystore.PersonRole, error) {
	var p keystore.PersonRole
	err := r.Scan(&p.Workspace, &p.Project, &p.Person, &p.Role, &p.CreatedAt, &p.UpdatedAt)
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	return p, err
}

func (t *postgresTx) GetPersonRole(ctx context.Context, ws, project, person string) (keystore.PersonRole, bool, error) {
	p, err := pgScanPersonRole(t.tx.QueryRowContext(ctx, "SELECT "+personRoleColumns+
		" FROM person_roles WHERE workspace = $1 AND project = $2 AND person = $3", ws, project, person))
	return found(p, err, "reading person role")
}

func (t *postgresTx) DeletePersonRole(ctx context.Context, ws, project, person string) (bool, error) {
	res, err := t.tx.ExecContext(ctx, "DELETE FROM person_roles WHERE workspace = $1 AND project = $2 AND person = $3", ws, project, person)
	return affected(res, err, "deleting person role")
}

func (t *postgresTx) ListPersonRoles(ctx context.Context, ws, project string, limit int) ([]keystore.PersonRole, error) {
	rows, err := t.tx.QueryContext(ctx, "SELECT "+personRoleColumns+
		" FROM person_roles WHERE workspace = $1 AND project IN ($2, '*') ORDER BY person, project LIMIT $3", ws, project, limit)
	return collect(rows, err, "listing person roles", pgScanPersonRole)
}
