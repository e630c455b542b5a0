package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/sagate/sagate/keystore"
)

// postgresOutboxMigration adds the outbox (outbox.go), as on SQLite. created_at is the
// database server's clock_timestamp() at the insert, the clock PendingChanges measures
// ages with: admins on hosts whose clocks differ agree on a row's age.
const postgresOutboxMigration = `
CREATE TABLE sync_pending (
	rev        BIGINT PRIMARY KEY,
	hashes     TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL
);
`

// InsertSyncPending implements Tx: the row carries the revision this transaction set.
func (t *postgresTx) InsertSyncPending(ctx context.Context, hashes []keystore.KeyHash) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO sync_pending (rev, hashes, created_at)
SELECT rev, $1, clock_timestamp() FROM meta WHERE id = 1`, encodePendingHashes(hashes))
	return pgInsertErr("pending change", err)
}

// pgOlderThan keeps the outbox rows recorded at least $1 microseconds ago.
const pgOlderThan = `created_at <= clock_timestamp() - make_interval(secs => $1::double precision / 1000000)`

// PendingChanges implements SyncOutbox.
func (s *PostgresStore) PendingChanges(ctx context.Context, minAge time.Duration, limit int) ([]keystore.PendingChange, error) {
	var out []keystore.PendingChange
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT rev, hashes FROM sync_pending WHERE `+pgOlderThan+` ORDER BY rev LIMIT $2`,
			minAge.Microseconds(), limit)
		out, err = collect(rows, err, "listing pending changes", scanPending)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// CountPending implements SyncOutbox.
func (s *PostgresStore) CountPending(ctx context.Context, minAge time.Duration) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM sync_pending WHERE `+pgOlderThan, minAge.Microseconds()).Scan(&n); err != nil {
		return 0, fmt.Errorf("counting pending changes: %w", err)
	}
	return n, nil
}

// ConfirmChanges implements SyncOutbox in one statement (the revisions as one array).
func (s *PostgresStore) ConfirmChanges(ctx context.Context, revs []int64) error {
	if len(revs) == 0 {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, "DELETE FROM sync_pending WHERE rev = ANY($1)", revs); err != nil {
		return fmt.Errorf("confirming pending changes: %w", err)
	}
	return nil
}

// ConfirmChangesThrough implements SyncOutbox.
func (s *PostgresStore) ConfirmChangesThrough(ctx context.Context, rev int64) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM sync_pending WHERE rev <= $1", rev); err != nil {
		return fmt.Errorf("confirming pending changes: %w", err)
	}
	return nil
}

var _ keystore.SyncOutbox = (*PostgresStore)(nil)
