package sqlstore

import (
	"context"

	"github.com/sagate/sagate/keystore"
)

// FindWorkspaceKeysByLast6 implements keystore.Tx on SQLite.
func (t *sqliteTx) FindWorkspaceKeysByLast6(ctx context.Context, ws, last6 string, limit int) ([]keystore.StoredKey, error) {
	rows, err := t.query(ctx, "SELECT "+keyColumns+` FROM api_keys WHERE last6 = ?
		AND sa_id IN (SELECT id FROM service_accounts WHERE workspace = ?) ORDER BY created_at, id LIMIT ?`, last6, ws, limit)
	return collect(rows, err, "finding keys", scanKey)
}

// FindWorkspaceKeysByLast6 implements keystore.Tx on PostgreSQL.
func (t *postgresTx) FindWorkspaceKeysByLast6(ctx context.Context, ws, last6 string, limit int) ([]keystore.StoredKey, error) {
	rows, err := t.tx.QueryContext(ctx, "SELECT "+keyColumns+` FROM api_keys WHERE last6 = $1
		AND sa_id IN (SELECT id FROM service_accounts WHERE workspace = $2) ORDER BY created_at, id LIMIT $3`, last6, ws, limit)
	return collect(rows, err, "finding keys", pgScanKey)
}
