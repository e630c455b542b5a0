package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sagate/sagate/keystore"
)

// sqliteOutboxMigration adds the outbox (outbox.go): one row per committed change whose
// Redis writes no admin has confirmed yet. created_at is Unix microseconds by SQLite's
// clock (sqliteNowMicros), the one PendingChanges measures ages with.
const sqliteOutboxMigration = `
CREATE TABLE sync_pending (
	rev        INTEGER PRIMARY KEY,
	hashes     TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
`

// sqliteNowMicros is SQLite's clock in Unix microseconds (millisecond resolution).
const sqliteNowMicros = `CAST(unixepoch('subsec') * 1000000 AS INTEGER)`

// InsertSyncPending implements Tx: the row carries the revision this transaction set.
func (t *sqliteTx) InsertSyncPending(ctx context.Context, hashes []keystore.KeyHash) error {
	_, err := t.exec(ctx, `INSERT INTO sync_pending (rev, hashes, created_at)
SELECT rev, ?, `+sqliteNowMicros+` FROM meta WHERE id = 1`, encodePendingHashes(hashes))
	return insertErr("pending change", err)
}

// PendingChanges implements SyncOutbox.
func (s *SQLiteStore) PendingChanges(ctx context.Context, minAge time.Duration, limit int) ([]keystore.PendingChange, error) {
	var out []keystore.PendingChange
	err := s.read(ctx, func(tx *sql.Tx) error {
		rows, err := s.rs.query(ctx, tx, `SELECT rev, hashes FROM sync_pending
WHERE created_at <= `+sqliteNowMicros+` - ? ORDER BY rev LIMIT ?`, minAge.Microseconds(), limit)
		out, err = collect(rows, err, "listing pending changes", scanPending)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// scanPending reads one outbox row (rev, hashes).
func scanPending(r rowScanner) (keystore.PendingChange, error) {
	var p keystore.PendingChange
	var hashes string
	if err := r.Scan(&p.Rev, &hashes); err != nil {
		return p, err
	}
	var err error
	p.Hashes, err = decodePendingHashes(hashes)
	return p, err
}

// CountPending implements SyncOutbox.
func (s *SQLiteStore) CountPending(ctx context.Context, minAge time.Duration) (int64, error) {
	var n int64
	err := s.read(ctx, func(tx *sql.Tx) error {
		return s.rs.queryRow(ctx, tx, `SELECT count(*) FROM sync_pending WHERE created_at <= `+sqliteNowMicros+` - ?`,
			minAge.Microseconds()).Scan(&n)
	})
	if err != nil {
		return 0, fmt.Errorf("counting pending changes: %w", err)
	}
	return n, nil
}

// ConfirmChanges implements SyncOutbox in one statement, whatever the number of revs.
func (s *SQLiteStore) ConfirmChanges(ctx context.Context, revs []int64) error {
	if len(revs) == 0 {
		return nil
	}
	list, err := json.Marshal(revs)
	if err != nil {
		return fmt.Errorf("confirming pending changes: %w", err)
	}
	err = s.write(ctx, func(tx *sql.Tx) error {
		_, err := s.ws.exec(ctx, tx, "DELETE FROM sync_pending WHERE rev IN (SELECT value FROM json_each(?))", string(list))
		return err
	})
	if err != nil {
		return fmt.Errorf("confirming pending changes: %w", err)
	}
	return nil
}

// ConfirmChangesThrough implements SyncOutbox.
func (s *SQLiteStore) ConfirmChangesThrough(ctx context.Context, rev int64) error {
	err := s.write(ctx, func(tx *sql.Tx) error {
		_, err := s.ws.exec(ctx, tx, "DELETE FROM sync_pending WHERE rev <= ?", rev)
		return err
	})
	if err != nil {
		return fmt.Errorf("confirming pending changes: %w", err)
	}
	return nil
}

var _ keystore.SyncOutbox = (*SQLiteStore)(nil)
