package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/sagate/sagate/keystore"
)

// groupSQL implements keystore.GroupTx for both SQL stores: the groups' tables
// (groupsMigration) are the same in both, and the two dialects differ only in their
// placeholders and in how times are stored, which bind and anyTime absorb.
type groupSQL struct {
	gtx *sql.Tx
	pg  bool // PostgreSQL: $n placeholders and TIMESTAMPTZ; else SQLite: ? and Unix microseconds
}

// bind rewrites q's ? placeholders as $1, $2, … on PostgreSQL. The queries of this file
// hold no ? in a literal.
func (g groupSQL) bind(q string) string {
	if !g.pg {
		return q
	}
	var b strings.Builder
	n := 0
	for _, c := range q {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// at is a time as the store's time columns hold it.
func (g groupSQL) at(t time.Time) any {
	if g.pg {
		return t.UTC()
	}
	return t.UnixMicro()
}

func (g groupSQL) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return g.gtx.ExecContext(ctx, g.bind(q), args...)
}

func (g groupSQL) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return g.gtx.QueryContext(ctx, g.bind(q), args...)
}

func (g groupSQL) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return g.gtx.QueryRowContext(ctx, g.bind(q), args...)
}

// anyTime scans a time column of either store: Unix microseconds or a timestamp.
type anyTime struct{ t *time.Time }

// Scan implements sql.Scanner.
func (a anyTime) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*a.t = fromMicro(v)
	case time.Time:
		*a.t = v.UTC()
	default:
		return fmt.Errorf("scanning a time: unexpected %T", src)
	}
	return nil
}

// groupColumns are a Group's columns, the member count last.
const groupColumns = `g.id, g.workspace, g.name, g.description, g.created_at, g.updated_at,
	(SELECT count(*) FROM access_group_members m WHERE m.group_id = g.id)`

func scanGroup(r rowScanner) (keystore.Group, error) {
	var g keystore.Group
	err := r.Scan(&g.ID, &g.Workspace, &g.Name, &g.Description, anyTime{&g.CreatedAt}, anyTime{&g.UpdatedAt}, &g.Members)
	return g, err
}

func (g groupSQL) InsertGroup(ctx context.Context, gr keystore.Group) error {
	_, err := g.exec(ctx, `INSERT INTO access_groups (id, workspace, name, description, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)`, gr.ID, gr.Workspace, gr.Name, gr.Description, g.at(gr.CreatedAt), g.at(gr.UpdatedAt))
	if g.pg {
		return pgInsertErr("group", err)
	}
	return insertErr("group", err)
}

func (g groupSQL) GetGroup(ctx context.Context, ws, name string) (keystore.Group, bool, error) {
	gr, err := scanGroup(g.queryRow(ctx, "SELECT "+groupColumns+" FROM access_groups g WHERE g.workspace = ? AND g.name = ?", ws, name))
	return found(gr, err, "reading group")
}

func (g groupSQL) ListGroups(ctx context.Context, ws, after string, limit int) ([]keystore.Group, error) {
	rows, err := g.query(ctx, "SELECT "+groupColumns+
		" FROM access_groups g WHERE g.workspace = ? AND g.name > ? ORDER BY g.name LIMIT ?", ws, after, limit)
	return collect(rows, err, "listing groups", scanGroup)
}

func (g groupSQL) UpdateGroup(ctx context.Context, gr keystore.Group) error {
	_, err := g.exec(ctx, "UPDATE access_groups SET description = ?, updated_at = ? WHERE id = ?",
		gr.Description, g.at(gr.UpdatedAt), gr.ID)
	if err != nil {
		return fmt.Errorf("updating group: %w", err)
	}
	return nil
}

func (g groupSQL) DeleteGroup(ctx context.Context, id string) error {
	if _, err := g.exec(ctx, "DELETE FROM access_groups WHERE id = ?", id); err != nil {
		return fmt.Errorf("deleting group: %w", err)
	}
	return nil
}

func (g groupSQL) PutGroupMember(ctx context.Context, m keystore.GroupMember) (bool, error) {
	saID := sql.NullString{String: m.ServiceAccountID, Valid: m.ServiceAccountID != ""}
	res, err := g.exec(ctx, `INSERT INTO access_group_members (group_id, principal, sa_id, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (group_id, principal) DO NOTHING`, m.GroupID, m.Principal, saID, g.at(m.CreatedAt))
	return affected(res, err, "writing group member")
}

func (g groupSQL) DeleteGroupMember(ctx context.Context, groupID, principal string) (bool, error) {
	res, err := g.exec(ctx, "DELETE FROM access_group_members WHERE group_id = ? AND principal = ?", groupID, principal)
	return affected(res, err, "deleting group member")
}

func (g groupSQL) ListGroupMembers(ctx context.Context, groupID, after string, limit int) ([]keystore.GroupMember, error) {
	rows, err := g.query(ctx, `SELECT gr.workspace, gr.name, m.group_id, m.principal, coalesce(m.sa_id, ''), coalesce(s.name, ''), m.created_at
		FROM access_group_members m JOIN access_groups gr ON gr.id = m.group_id LEFT JOIN service_accounts s ON s.id = m.sa_id
		WHERE m.group_id = ? AND m.principal > ? ORDER BY m.principal LIMIT ?`, groupID, after, limit)
	return collect(rows, err, "listing group members", func(r rowScanner) (keystore.GroupMember, error) {
		var m keystore.GroupMember
		err := r.Scan(&m.Workspace, &m.Group, &m.GroupID, &m.Principal, &m.ServiceAccountID, &m.Name, anyTime{&m.CreatedAt})
		m.Name = adminName(keystore.WorkspaceAdmin{Workspace: m.Workspace, Principal: m.Principal, Name: m.Name})
		return m, err
	})
}

func (g groupSQL) IsGroupMember(ctx context.Context, ws, name, principal string) (bool, error) {
	var n int
	err := g.queryRow(ctx, `SELECT count(*) FROM access_group_members m JOIN access_groups gr ON gr.id = m.group_id
		WHERE gr.workspace = ? AND gr.name = ? AND m.principal = ?`, ws, name, principal).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("reading group member: %w", err)
	}
	return n > 0, nil
}

func (g groupSQL) GroupKeys(ctx context.Context, groupID string) ([]keystore.KeyHash, error) {
	rows, err := g.query(ctx, `SELECT k.hash FROM access_group_members m JOIN api_keys k ON k.sa_id = m.sa_id
		WHERE m.group_id = ? AND k.state <> 'revoked'`, groupID)
	return collect(rows, err, "listing the keys of a group", func(r rowScanner) (keystore.KeyHash, error) {
		var s string
		if err := r.Scan(&s); err != nil {
			return keystore.KeyHash{}, err
		}
		return keystore.ParseKeyHash(s)
	})
}

func (g groupSQL) PutGroupGrant(ctx context.Context, gg keystore.GroupGrant) error {
	_, err := g.exec(ctx, `INSERT INTO access_group_grants (group_id, project, workspace, role, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (group_id, project) DO UPDATE SET role = excluded.role, updated_at = excluded.updated_at`,
		gg.GroupID, gg.Project, gg.Workspace, gg.Role, g.at(gg.CreatedAt), g.at(gg.UpdatedAt))
	if err != nil {
		return fmt.Errorf("writing group grant: %w", err)
	}
	return nil
}

// groupGrantColumns are a GroupGrant's columns, of access_group_grants a joined with access_groups gr.
const groupGrantColumns = `a.workspace, a.project, gr.name, a.group_id, a.role, a.created_at, a.updated_at
	FROM access_group_grants a JOIN access_groups gr ON gr.id = a.group_id`

func scanGroupGrant(r rowScanner) (keystore.GroupGrant, error) {
	var gg keystore.GroupGrant
	err := r.Scan(&gg.Workspace, &gg.Project, &gg.Group, &gg.GroupID, &gg.Role, anyTime{&gg.CreatedAt}, anyTime{&gg.UpdatedAt})
	return gg, err
}

func (g groupSQL) GetGroupGrant(ctx context.Context, groupID, project string) (keystore.GroupGrant, bool, error) {
	gg, err := scanGroupGrant(g.queryRow(ctx, "SELECT "+groupGrantColumns+" WHERE a.group_id = ? AND a.project = ?", groupID, project))
	return found(gg, err, "reading group grant")
}

func (g groupSQL) DeleteGroupGrant(ctx context.Context, groupID, project string) (bool, error) {
	res, err := g.exec(ctx, "DELETE FROM access_group_grants WHERE group_id = ? AND project = ?", groupID, project)
	return affected(res, err, "deleting group grant")
}

func (g groupSQL) ListGroupGrants(ctx context.Context, groupID string) ([]keystore.GroupGrant, error) {
	rows, err := g.query(ctx, "SELECT "+groupGrantColumns+" WHERE a.group_id = ? ORDER BY a.project", groupID)
	return collect(rows, err, "listing group grants", scanGroupGrant)
}

func (g groupSQL) ListProjectGroupGrants(ctx context.Context, ws, project string, limit int) ([]keystore.GroupGrant, error) {
	rows, err := g.query(ctx, "SELECT "+groupGrantColumns+
		" WHERE a.workspace = ? AND a.project IN (?, '*') ORDER BY gr.name, a.project LIMIT ?", ws, project, limit)
	return collect(rows, err, "listing a project's group grants", scanGroupGrant)
}

func (g groupSQL) MemberGroupGrants(ctx context.Context, ws, principal, project string) ([]keystore.GroupGrant, error) {
	rows, err := g.query(ctx, "SELECT "+groupGrantColumns+` JOIN access_group_members m ON m.group_id = a.group_id
		WHERE a.workspace = ? AND (? = '' OR a.project IN (?, '*')) AND m.principal = ? ORDER BY gr.name, a.project`,
		ws, project, project, principal)
	return collect(rows, err, "listing a member's group grants", scanGroupGrant)
}

// personOwnerQuery reads the projects a person owns, by a role of its own or through a
// group, by workspace then project; its arguments are the person, the role "owner", the
// person's principal and the limit.
func personOwnerQuery(pg bool) string {
	return groupSQL{pg: pg}.bind(`SELECT workspace, project FROM person_roles WHERE person = ? AND role = ?
	UNION SELECT a.workspace, a.project FROM access_group_grants a JOIN access_group_members m ON m.group_id = a.group_id
	WHERE m.principal = ? AND a.role = 'owner'
	ORDER BY workspace, project LIMIT ?`)
}
