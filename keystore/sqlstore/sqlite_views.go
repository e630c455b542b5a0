package sqlstore

import (
	"context"
	"database/sql"
	"github.com/sagate/sagate/keystore"
	"time"
)

// The summary views (service_views.go) on SQLite.

func (t *sqliteTx) ListAccountSummaries(ctx context.Context, ws, contains, after string, now time.Time, limit int) ([]keystore.AccountSummary, error) {
	rows, err := t.query(ctx, `SELECT s.id, s.workspace, s.name, s.description, s.state, s.created_at, s.updated_at,
		(SELECT count(*) FROM api_keys k WHERE k.sa_id = s.id AND k.state = 'active' AND (k.expires_at IS NULL OR k.expires_at > ?)),
		(SELECT max(k.last_used_at) FROM api_keys k WHERE k.sa_id = s.id),
		(SELECT coalesce(group_concat(g.project || ':' || g.role, ','), '') FROM grants g WHERE g.sa_id = s.id)
		FROM service_accounts s
		WHERE s.workspace = ? AND s.name > ? AND instr(s.name, ?) > 0
		ORDER BY s.name LIMIT ?`, micro(now), ws, after, contains, limit)
	return collect(rows, err, "listing account summaries", func(r rowScanner) (keystore.AccountSummary, error) {
		var a keystore.AccountSummary
		var created, updated int64
		var used sql.NullInt64
		var projects string
		err := r.Scan(&a.ID, &a.Workspace, &a.Name, &a.Description, &a.State, &created, &updated, &a.LiveKeys, &used, &projects)
		a.CreatedAt, a.UpdatedAt = fromMicro(created), fromMicro(updated)
		a.FullName = keystore.FullName(a.Name, a.Workspace)
		a.LastUsedAt = fromMicroPtr(used)
		a.Projects = parseProjects(projects)
		return a, err
	})
}

func (t *sqliteTx) PersonReach(ctx context.Context, person string, limit int) ([]string, []keystore.ProjectRef, error) {
	rows, err := t.query(ctx, "SELECT workspace FROM workspace_admins WHERE principal = ? ORDER BY workspace LIMIT ?",
		keystore.PrincipalRefPerson+person, limit)
	admin, err := collect(rows, err, "listing a person's workspaces", func(r rowScanner) (string, error) {
		var ws string
		return ws, r.Scan(&ws)
	})
	if err != nil {
		return nil, nil, err
	}
	rows, err = t.query(ctx, personOwnerQuery(false), person, string(keystore.RoleOwner), keystore.PrincipalRefPerson+person, limit)
	owner, err := collect(rows, err, "listing a person's projects", func(r rowScanner) (keystore.ProjectRef, error) {
		var p keystore.ProjectRef
		return p, r.Scan(&p.Workspace, &p.Project)
	})
	return admin, owner, err
}

var _ keystore.ViewTx = (*sqliteTx)(nil)
