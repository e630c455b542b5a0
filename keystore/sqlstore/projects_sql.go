package sqlstore

import (
	"context"

	"github.com/sagate/sagate/keystore"
)

// ListProjects implements keystore.ProjectTx for both stores: every project named by a
// grant of an account, a group or a person, with the count of each.
func (g groupSQL) ListProjects(ctx context.Context, ws, after string, limit int) ([]keystore.ProjectSummary, error) {
	rows, err := g.query(ctx, `SELECT project, sum(a), sum(gr), sum(p) FROM (
		SELECT project, 1 AS a, 0 AS gr, 0 AS p FROM grants WHERE workspace = ?
		UNION ALL SELECT project, 0, 1, 0 FROM access_group_grants WHERE workspace = ?
		UNION ALL SELECT project, 0, 0, 1 FROM person_roles WHERE workspace = ?
	) x WHERE project > ? GROUP BY project ORDER BY project LIMIT ?`, ws, ws, ws, after, limit)
	return collect(rows, err, "listing projects", func(r rowScanner) (keystore.ProjectSummary, error) {
		p := keystore.ProjectSummary{Workspace: ws}
		return p, r.Scan(&p.Project, &p.Accounts, &p.Groups, &p.People)
	})
}
