package keystore

import (
	"context"
	"database/sql"
	"fmt"
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
