package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// WorkspaceAdminSince implements keystore.AccessTx on SQLite.
func (t *sqliteTx) WorkspaceAdminSince(ctx context.Context, ws, principal string) (time.Time, bool, error) {
	var at int64
	err := t.queryRow(ctx, "SELECT created_at FROM workspace_admins WHERE workspace = ? AND principal = ?", ws, principal).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading workspace admin: %w", err)
	}
	return fromMicro(at), true, nil
}

// WorkspaceAdminSince implements keystore.AccessTx on PostgreSQL.
func (t *postgresTx) WorkspaceAdminSince(ctx context.Context, ws, principal string) (time.Time, bool, error) {
	var at time.Time
	err := t.tx.QueryRowContext(ctx, "SELECT created_at FROM workspace_admins WHERE workspace = $1 AND principal = $2", ws, principal).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("reading workspace admin: %w", err)
	}
	return at.UTC(), true, nil
}
