package keystore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// The summary views (service_views.go) on PostgreSQL.

func (t *postgresTx) ListAccountSummaries(ctx context.Context, ws, contains, after string, now time.Time, limit int) ([]AccountSummary, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT s.id, s.workspace, s.name, s.description, s.state, s.created_at, s.updated_at,
		(SELECT count(*) FROM api_keys k WHERE k.sa_id = s.id AND k.state = 'active' AND (k.expires_at IS NULL OR k.expires_at > $1)),
		(SELECT max(k.last_used_at) FROM api_keys k WHERE k.sa_id = s.id),
		(SELECT coalesce(string_agg(g.project || ':' || g.role, ','), '') FROM grants g WHERE g.sa_id = s.id)
		FROM service_accounts s
		WHERE s.workspace = $2 AND s.name > $3 AND strpos(s.name, $4) > 0
		ORDER BY s.name LIMIT $5`, now, ws, after, contains, limit)
	return collect(rows, err, "listing account summaries", func(r rowScanner) (AccountSummary, error) {
		var a AccountSummary
		var used sql.NullTime
		var projects string
		err := r.Scan(&a.ID, &a.Workspace, &a.Name, &a.Description, &a.State, &a.CreatedAt, &a.UpdatedAt, &a.LiveKeys, &used, &projects)
		a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
		a.FullName = FullName(a.Name, a.Workspace)
		a.LastUsedAt = fromNullTime(used)
		a.Projects = parseProjects(projects)
		return a, err
	})
}

func (t *postgresTx) ListGrantsOfAccount(ctx context.Context, saID string) ([]Grant, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT workspace, project, sa_id, role, created_at, updated_at
		FROM grants WHERE sa_id = $1 ORDER BY project`, saID)
	return collect(rows, err, "listing an account's grants", func(r rowScanner) (Grant, error) {
		var g Grant
		err := r.Scan(&g.Workspace, &g.Project, &g.ServiceAccountID, &g.Role, &g.CreatedAt, &g.UpdatedAt)
		g.CreatedAt, g.UpdatedAt = g.CreatedAt.UTC(), g.UpdatedAt.UTC()
		return g, err
	})
}

func (t *postgresTx) ListAuditFiltered(ctx context.Context, f AuditFilter, beforeID int64, limit int) ([]AuditEvent, error) {
	where, args := auditWhere(f, beforeID, func(n int) string { return "$" + strconv.Itoa(n) }, func(v time.Time) any { return v })
	rows, err := t.tx.QueryContext(ctx, "SELECT id, at, actor, action, workspace, target, details::text FROM audit WHERE "+where+
		" ORDER BY id DESC LIMIT $"+strconv.Itoa(len(args)+1), append(args, limit)...)
	return collect(rows, err, "listing audit events", func(r rowScanner) (AuditEvent, error) {
		var e AuditEvent
		var details string
		if err := r.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Workspace, &e.Target, &details); err != nil {
			return e, err
		}
		e.At = e.At.UTC()
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return e, fmt.Errorf("decoding audit details of event %d: %w", e.ID, err)
		}
		return e, nil
	})
}

var _ viewTx = (*postgresTx)(nil)
