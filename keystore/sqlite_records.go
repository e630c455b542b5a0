package keystore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// recordQuery selects one live key per row with everything its Record needs; the
// account's grants come as "project\trole" lines (project names cannot hold a tab or a
// newline). Live: not revoked and not expired at ?1 (Unix microseconds).
const recordQuery = `SELECT k.hash, k.id, k.sa_id, s.name, s.workspace, k.state, s.state, k.expires_at,
	(SELECT group_concat(g.project || char(9) || g.role, char(10)) FROM grants g WHERE g.sa_id = k.sa_id)
FROM api_keys k JOIN service_accounts s ON s.id = k.sa_id
WHERE k.state != 'revoked' AND (k.expires_at IS NULL OR k.expires_at > ?1)`

// maxAuthRecordsBatch bounds the number of hashes in one IN (…) list.
const maxAuthRecordsBatch = 500

// AuthRecords implements RecordSource in one read transaction.
func (s *SQLiteStore) AuthRecords(ctx context.Context, hashes []KeyHash) (map[KeyHash]Record, int64, error) {
	recs := make(map[KeyHash]Record, len(hashes))
	var rev int64
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		if rev, err = readRev(ctx, tx); err != nil {
			return err
		}
		now := s.now().UnixMicro()
		for start := 0; start < len(hashes); start += maxAuthRecordsBatch {
			batch := hashes[start:min(start+maxAuthRecordsBatch, len(hashes))]
			args := make([]any, 0, len(batch)+1)
			args = append(args, now)
			for _, h := range batch {
				args = append(args, h.String())
			}
			q := recordQuery + " AND k.hash IN (?" + strings.Repeat(", ?", len(batch)-1) + ")"
			if err := scanRecords(ctx, tx, q, args, rev, func(h KeyHash, r Record) error {
				recs[h] = r
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("reading key records: %w", err)
	}
	return recs, rev, nil
}

// ScanAuthRecords implements RecordSource: it streams every live key from one read
// transaction, row by row, so memory stays bounded whatever the number of keys.
func (s *SQLiteStore) ScanAuthRecords(ctx context.Context, fn func(KeyHash, Record) error) error {
	return s.read(ctx, func(tx *sql.Tx) error {
		rev, err := readRev(ctx, tx)
		if err != nil {
			return fmt.Errorf("scanning key records: %w", err)
		}
		return scanRecords(ctx, tx, recordQuery, []any{s.now().UnixMicro()}, rev, fn)
	})
}

// RecordKeyUse implements RecordSource: it keeps the later of the stored and given times.
// It does not change the revision: last use is not part of a key's record.
func (s *SQLiteStore) RecordKeyUse(ctx context.Context, uses map[string]time.Time) error {
	if len(uses) == 0 {
		return nil
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, "UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?")
		if err != nil {
			return err
		}
		defer st.Close()
		for id, at := range uses {
			if _, err := st.ExecContext(ctx, at.UnixMicro(), id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("recording key use: %w", err)
	}
	return nil
}

func readRev(ctx context.Context, tx *sql.Tx) (int64, error) {
	var rev int64
	if err := tx.QueryRowContext(ctx, "SELECT rev FROM meta WHERE id = 1").Scan(&rev); err != nil {
		return 0, fmt.Errorf("reading revision: %w", err)
	}
	return rev, nil
}

// scanRecords runs a recordQuery and calls fn for each row as it is read.
func scanRecords(ctx context.Context, tx *sql.Tx, q string, args []any, rev int64, fn func(KeyHash, Record) error) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("querying key records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			hash, saName           string
			keyState, accountState string
			expires                sql.NullInt64
			grants                 sql.NullString
			r                      = Record{Rev: rev}
		)
		if err := rows.Scan(&hash, &r.KeyID, &r.SAID, &saName, &r.Workspace, &keyState, &accountState, &expires, &grants); err != nil {
			return fmt.Errorf("reading key record: %w", err)
		}
		h, err := ParseKeyHash(hash)
		if err != nil {
			return fmt.Errorf("reading key record %s: %w", r.KeyID, err)
		}
		r.SA = FullName(saName, r.Workspace)
		r.State = KeyActive
		if KeyState(keyState) != KeyActive || AccountState(accountState) != AccountActive {
			r.State = KeyDeactivated
		}
		if expires.Valid {
			r.Exp = fromMicro(expires.Int64).UnixMilli() // Service stores expiries in whole milliseconds
		}
		if grants.Valid && grants.String != "" {
			r.Roles = make(map[string]Role)
			for line := range strings.SplitSeq(grants.String, "\n") {
				p, role, _ := strings.Cut(line, "\t")
				r.Roles[p] = Role(role)
			}
		}
		if err := fn(h, r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading key records: %w", err)
	}
	return nil
}
