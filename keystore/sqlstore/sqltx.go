package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/sagate/sagate/keystore"
)

// writeTx runs fn in a transaction of db with opts and commits it; fn's error is
// returned unchanged (it may be a *Error for the caller). Shared by the SQL stores.
func writeTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("beginning write transaction: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing: %w", err)
	}
	return nil
}

// readTx runs fn in a read transaction of db with opts, always rolled back.
func readTx(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(*sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("beginning read transaction: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	return fn(tx)
}

// encodeAuditPrincipal is the text the audit table's principal column holds: JSON, or ""
// for none.
func encodeAuditPrincipal(p *keystore.AuditPrincipal) (string, error) {
	if p == nil {
		return "", nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("encoding the audit principal: %w", err)
	}
	return string(b), nil
}

// decodeAuditPrincipal reads the audit table's principal column.
func decodeAuditPrincipal(s string) (*keystore.AuditPrincipal, error) {
	if s == "" {
		return nil, nil
	}
	var p keystore.AuditPrincipal
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return nil, err
	}
	return &p, nil
}
