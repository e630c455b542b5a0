package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// pgRecordColumns are the columns of one live key's Record; the account's roles (its
// grants and its groups', the view account_roles) come as one JSON array of [project,
// role] pairs (NULL when there are none), merged by keystore.AddRole.
const pgRecordColumns = `k.hash, k.id, k.sa_id, s.name, s.workspace, k.state, s.state, k.expires_at, s.rate_limit_rps, s.rate_limit_burst`

// pgLive keeps keys that are not revoked and not expired at $1, the admin's clock (as on
// SQLite), not the database's.
const pgLive = `k.state <> 'revoked' AND (k.expires_at IS NULL OR k.expires_at > $1)`

// pgRecordsByHash reads the records of the keys whose hashes are in the array $2. The
// grants are aggregated per key, which is cheap for the few keys of one change.
const pgRecordsByHash = `SELECT ` + pgRecordColumns + `,
	(SELECT jsonb_agg(jsonb_build_array(g.project, g.role))::text FROM account_roles g WHERE g.sa_id = k.sa_id)
FROM api_keys k JOIN service_accounts s ON s.id = k.sa_id
WHERE k.hash = ANY($2) AND ` + pgLive

// pgAllRecords reads every live key's record. The grants are aggregated once per account
// and joined, rather than once per key: it is the full reconcile's query.
const pgAllRecords = `SELECT ` + pgRecordColumns + `, r.roles
FROM api_keys k JOIN service_accounts s ON s.id = k.sa_id
LEFT JOIN (SELECT sa_id, jsonb_agg(jsonb_build_array(project, role))::text AS roles FROM account_roles GROUP BY sa_id) r ON r.sa_id = k.sa_id
WHERE ` + pgLive

// AuthRecords implements RecordSource in one REPEATABLE READ read-only transaction, so
// the revision and the records come from the same snapshot. The hashes go as one array
// parameter, whatever their number.
func (s *PostgresStore) AuthRecords(ctx context.Context, hashes []keystore.KeyHash) (map[keystore.KeyHash]wire.Record, int64, error) {
	recs := make(map[keystore.KeyHash]wire.Record, len(hashes))
	var rev int64
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		if rev, err = readRev(ctx, tx, nil); err != nil {
			return err
		}
		if len(hashes) == 0 {
			return nil
		}
		hs := make([]string, len(hashes))
		for i, h := range hashes {
			hs[i] = h.String()
		}
		return pgScanRecords(ctx, tx, pgRecordsByHash, []any{s.now(), hs}, rev,
			func(h keystore.KeyHash, r wire.Record) error {
				recs[h] = r
				return nil
			})
	})
	if err != nil {
		return nil, 0, fmt.Errorf("reading key records: %w", err)
	}
	return recs, rev, nil
}

// ScanAuthRecords implements RecordSource: it streams every live key from one REPEATABLE
// READ read-only transaction. pgx hands rows over as they arrive from the server, one at
// a time, so memory stays bounded whatever the number of keys; the snapshot keeps the
// scan consistent while writers go on.
func (s *PostgresStore) ScanAuthRecords(ctx context.Context, fn func(keystore.KeyHash, wire.Record) error) error {
	return s.read(ctx, func(tx *sql.Tx) error {
		rev, err := readRev(ctx, tx, nil)
		if err != nil {
			return fmt.Errorf("scanning key records: %w", err)
		}
		return pgScanRecords(ctx, tx, pgAllRecords, []any{s.now()}, rev, fn)
	})
}

// RecordKeyUse implements RecordSource: it keeps the later of the stored and given times,
// a given time clamped to the admin's clock and to the key's revocation and expiry, in
// one statement. It
// does not change the revision (last use is not part of a record), but it takes the
// revision row's lock like a writer does: api_keys rows are then always locked by one
// transaction at a time, so two admins folding uses, or a fold and a revocation touching
// the same keys in another order, cannot deadlock.
func (s *PostgresStore) RecordKeyUse(ctx context.Context, uses map[string]time.Time) error {
	if len(uses) == 0 {
		return nil
	}
	now := s.now()
	ids := make([]string, 0, len(uses))
	ats := make([]time.Time, 0, len(uses))
	for id, at := range uses {
		ids = append(ids, id)
		ats = append(ats, at)
	}
	err := s.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, "SELECT 1 FROM meta WHERE id = 1 FOR NO KEY UPDATE"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE api_keys k
			SET last_used_at = GREATEST(k.last_used_at, LEAST(u.at, $3, k.revoked_at, k.expires_at))
			FROM unnest($1::text[], $2::timestamptz[]) AS u (id, at), service_accounts s
			WHERE k.id = u.id AND s.id = k.sa_id
			AND (k.state = 'revoked' OR (k.state = 'active' AND s.state = 'active'))`, ids, ats, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("recording key use: %w", err)
	}
	return nil
}

// Revision implements RecordSource.
func (s *PostgresStore) Revision(ctx context.Context) (int64, error) {
	var rev int64
	if err := s.db.QueryRowContext(ctx, "SELECT rev FROM meta WHERE id = 1").Scan(&rev); err != nil {
		return 0, fmt.Errorf("reading the store revision: %w", err)
	}
	return rev, nil
}

// KeyIdentities implements RecordSource.
func (s *PostgresStore) KeyIdentities(ctx context.Context, hashes []keystore.KeyHash) (map[keystore.KeyHash]wire.Record, error) {
	out := make(map[keystore.KeyHash]wire.Record, len(hashes))
	if len(hashes) == 0 {
		return out, nil
	}
	hs := make([]string, len(hashes))
	for i, h := range hashes {
		hs[i] = h.String()
	}
	err := s.read(ctx, func(tx *sql.Tx) error {
		return scanIdentities(ctx, tx, `SELECT k.hash, k.id, k.sa_id, s.name, s.workspace FROM api_keys k
JOIN service_accounts s ON s.id = k.sa_id WHERE k.hash = ANY($1)`, []any{hs}, out)
	})
	if err != nil {
		return nil, fmt.Errorf("reading key identities: %w", err)
	}
	return out, nil
}

// pgScanRecords runs pgRecordsByHash or pgAllRecords and calls fn for each row as it is read.
func pgScanRecords(ctx context.Context, tx *sql.Tx, q string, args []any, rev int64, fn func(keystore.KeyHash, wire.Record) error) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("querying key records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			hash, saName           string
			keyState, accountState string
			expires                sql.NullTime
			rps                    sql.NullFloat64
			burst                  sql.NullInt64
			grants                 sql.NullString
			r                      = wire.Record{Rev: rev}
		)
		if err := rows.Scan(&hash, &r.KeyID, &r.SAID, &saName, &r.Workspace, &keyState, &accountState, &expires, &rps, &burst, &grants); err != nil {
			return fmt.Errorf("reading key record: %w", err)
		}
		h, err := keystore.ParseKeyHash(hash)
		if err != nil {
			return fmt.Errorf("reading key record %s: %w", r.KeyID, err)
		}
		r.SA = keystore.FullName(saName, r.Workspace)
		r.State = keystore.RecordState(keystore.KeyState(keyState), keystore.AccountState(accountState))
		r.RPS, r.Burst = recordLimit(rps, burst)
		if expires.Valid {
			r.Exp = expires.Time.UnixMilli() // Service stores expiries in whole milliseconds
		}
		if grants.Valid {
			var pairs [][2]string
			if err := json.Unmarshal([]byte(grants.String), &pairs); err != nil {
				return fmt.Errorf("reading the roles of key record %s: %w", r.KeyID, err)
			}
			for _, p := range pairs {
				r.Roles = keystore.AddRole(r.Roles, p[0], keystore.Role(p[1]))
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
