package sqlstore

import (
	"context"
	"database/sql"
	"github.com/sagate/sagate/keystore"
	"time"
)

// The summary views (service_views.go) on PostgreSQL.

func (t *postgresTx) ListAccountSummaries(ctx context.Context, ws, contains, after string, now time.Time, limit int) ([]keystore.AccountSummary, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT s.id, s.workspace, s.name, s.description, s.state, s.created_at, s.updated_at,
		(SELECT count(*) FROM api_keys k WHERE k.sa_id = s.id AND k.state = 'active' AND (k.expires_at IS NULL OR k.expires_at > $1)),
		(SELECT max(k.last_used_at) FROM api_keys k WHERE k.sa_id = s.id),
		(SELECT coalesce(string_agg(g.project || ':' || g.role, ','), '') FROM grants g WHERE g.sa_id = s.id)
		FROM service_accounts s
		WHERE s.workspace = $2 AND s.name > $3 AND strpos(s.name, $4) > 0
		ORDER BY s.name LIMIT $5`, now, ws, after, contains, limit)
	return collect(rows, err, "listing account summaries", func(r rowScanner) (keystore.AccountSummary, error) {
		var a keystore.AccountSummary
		var used sql.NullTime
		var projects string
		err := r.Scan(&a.ID, &a.Workspace, &a.Name, &a.Description, &a.State, &a.CreatedAt, &a.UpdatedAt, &a.LiveKeys, &used, &projects)
		a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
		a.FullName = keystore.FullName(a.Name, a.Workspace)
		a.LastUsedAt = fromNullTime(used)
		a.Projects = parseProjects(projects)
		return a, err
	})
}

func (t *postgresTx) PersonReach(ctx context.Context, person string, limit int) ([]string, []keystore.ProjectRef, error) {
	rows, err := t.tx.QueryContext(ctx, "SELECT workspace FROM workspace_admins WHERE principal = $1 ORDER BY workspace LIMIT $2",
		keystore.PrincipalRefPerson+person, limit)
	admin, err := collect(rows, err, "listing a person's workspaces", func(r rowScanner) (string, error) {
		var ws string
		return ws, r.Scan(&ws)
	})
	if err != nil {
		return nil, nil, err
	}
	rows, err = t.tx.QueryContext(ctx, personOwnerQuery(true), person, string(keystore.RoleOwner), keystore.PrincipalRefPerson+person, limit)
	owner, err := collect(rows, err, "listing a person's projects", func(r rowScanner) (keystore.ProjectRef, error) {
		var p keystore.ProjectRef
		return p, r.Scan(&p.Workspace, &p.Project)
	})
	return admin, owner, err
}

var _ keystore.ViewTx = (*postgresTx)(nil)
