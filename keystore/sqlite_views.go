package keystore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"
)

// The summary views (service_views.go) on SQLite.

func (t *sqliteTx) ListAccountSummaries(ctx context.Context, ws, contains, after string, now time.Time, limit int) ([]AccountSummary, error) {
	rows, err := t.query(ctx, `SELECT s.id, s.workspace, s.name, s.description, s.state, s.created_at, s.updated_at,
		(SELECT count(*) FROM api_keys k WHERE k.sa_id = s.id AND k.state = 'active' AND (k.expires_at IS NULL OR k.expires_at > ?)),
		(SELECT max(k.last_used_at) FROM api_keys k WHERE k.sa_id = s.id),
		(SELECT coalesce(group_concat(g.project || ':' || g.role, ','), '') FROM grants g WHERE g.sa_id = s.id)
		FROM service_accounts s
		WHERE s.workspace = ? AND s.name > ? AND instr(s.name, ?) > 0
		ORDER BY s.name LIMIT ?`, micro(now), ws, after, contains, limit)
	return collect(rows, err, "listing account summaries", func(r rowScanner) (AccountSummary, error) {
		var a AccountSummary
		var created, updated int64
		var used sql.NullInt64
		var projects string
		err := r.Scan(&a.ID, &a.Workspace, &a.Name, &a.Description, &a.State, &created, &updated, &a.LiveKeys, &used, &projects)
		a.CreatedAt, a.UpdatedAt = fromMicro(created), fromMicro(updated)
		a.FullName = FullName(a.Name, a.Workspace)
		a.LastUsedAt = fromMicroPtr(used)
		a.Projects = parseProjects(projects)
		return a, err
	})
}

func (t *sqliteTx) ListGrantsOfAccount(ctx context.Context, saID string) ([]Grant, error) {
	rows, err := t.query(ctx, `SELECT workspace, project, sa_id, role, created_at, updated_at
		FROM grants WHERE sa_id = ? ORDER BY project`, saID)
	return collect(rows, err, "listing an account's grants", func(r rowScanner) (Grant, error) {
		var g Grant
		var created, updated int64
		err := r.Scan(&g.Workspace, &g.Project, &g.ServiceAccountID, &g.Role, &created, &updated)
		g.CreatedAt, g.UpdatedAt = fromMicro(created), fromMicro(updated)
		return g, err
	})
}

func (t *sqliteTx) ListAuditFiltered(ctx context.Context, f AuditFilter, beforeID int64, limit int) ([]AuditEvent, error) {
	where, args := auditWhere(f, beforeID, func(int) string { return "?" }, func(v time.Time) any { return micro(v) })
	rows, err := t.query(ctx, "SELECT id, at, actor, action, workspace, target, details FROM audit WHERE "+where+
		" ORDER BY id DESC LIMIT ?", append(args, limit)...)
	return collect(rows, err, "listing audit events", func(r rowScanner) (AuditEvent, error) {
		var e AuditEvent
		var at int64
		var details string
		if err := r.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Workspace, &e.Target, &details); err != nil {
			return e, err
		}
		e.At = fromMicro(at)
		if err := json.Unmarshal([]byte(details), &e.Details); err != nil {
			return e, fmt.Errorf("decoding audit details of event %d: %w", e.ID, err)
		}
		return e, nil
	})
}

var _ viewTx = (*sqliteTx)(nil)
