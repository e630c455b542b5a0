package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sagate/sagate/keystore"
	"github.com/sagate/sagate/keystore/wire"
)

// maxAuthRecordsBatch bounds the number of hashes in one IN (…) list.
const maxAuthRecordsBatch = 500

// authRecordsQuery reads the revision and the live keys among an IN (…) list put in its
// %s, in one statement: parsing is most of the cost of reading one key, as Apply does
// after each commit. One row per role of the account (account_roles: its grants and its
// groups' grants, merged by keystore.AddRole; one with NULL project for an account without
// grants); a single row with NULL hash when no key is live. Live: not revoked and not
// expired at ?1 (Unix microseconds).
const authRecordsQuery = `SELECT m.rev, k.hash, k.id, k.sa_id, s.name, s.workspace, k.state, s.state, k.expires_at, s.rate_limit_rps, s.rate_limit_burst, g.project, g.role
FROM meta m
LEFT JOIN api_keys k ON k.hash IN (%s) AND k.state != 'revoked' AND (k.expires_at IS NULL OR k.expires_at > ?1)
LEFT JOIN service_accounts s ON s.id = k.sa_id
LEFT JOIN account_roles g ON g.sa_id = k.sa_id
WHERE m.id = 1`

// AuthRecords implements RecordSource in one read transaction.
func (s *SQLiteStore) AuthRecords(ctx context.Context, hashes []keystore.KeyHash) (map[keystore.KeyHash]wire.Record, int64, error) {
	recs := make(map[keystore.KeyHash]wire.Record, len(hashes))
	var rev int64
	err := s.read(ctx, func(tx *sql.Tx) error {
		if len(hashes) == 0 {
			var err error
			rev, err = readRev(ctx, tx, s.rs)
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
			q := strings.Replace(authRecordsQuery, "%s", numberedParams(2, len(batch)), 1)
			var err error
			if rev, err = readAuthRecords(ctx, tx, s.rs, q, args, recs); err != nil {
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

// numberedParams returns "?from, ?from+1, …", n parameters: the IN list precedes ?1 in
// authRecordsQuery, so plain "?" would be numbered from 1.
func numberedParams(from, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("?" + strconv.Itoa(from+i))
	}
	return b.String()
}

// readAuthRecords runs an authRecordsQuery (through c's prepared statements), adds its
// records to recs, and returns the revision.
func readAuthRecords(ctx context.Context, tx *sql.Tx, c *stmtCache, q string, args []any, recs map[keystore.KeyHash]wire.Record) (int64, error) {
	rows, err := c.query(ctx, tx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("querying key records: %w", err)
	}
	defer rows.Close()
	var rev int64
	for rows.Next() {
		var (
			hash, keyID, saID, saName, ws, keyState, accountState sql.NullString
			expires, burst                                        sql.NullInt64
			rps                                                   sql.NullFloat64
			project, role                                         sql.NullString
		)
		if err := rows.Scan(&rev, &hash, &keyID, &saID, &saName, &ws, &keyState, &accountState, &expires, &rps, &burst, &project, &role); err != nil {
			return 0, fmt.Errorf("reading key record: %w", err)
		}
		if !hash.Valid || !saName.Valid {
			continue // no live key among the list (the row only carries the revision), or no account
		}
		h, err := keystore.ParseKeyHash(hash.String)
		if err != nil {
			return 0, fmt.Errorf("reading key record %s: %w", keyID.String, err)
		}
		r, seen := recs[h]
		if !seen {
			r = wire.Record{KeyID: keyID.String, SAID: saID.String, SA: keystore.FullName(saName.String, ws.String),
				Workspace: ws.String, Rev: rev,
				State: keystore.RecordState(keystore.KeyState(keyState.String), keystore.AccountState(accountState.String))}
			r.RPS, r.Burst = recordLimit(rps, burst)
			if expires.Valid {
				r.Exp = fromMicro(expires.Int64).UnixMilli() // Service stores expiries in whole milliseconds
			}
		}
		if project.Valid {
			r.Roles = keystore.AddRole(r.Roles, project.String, keystore.Role(role.String))
		}
		recs[h] = r
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("reading key records: %w", err)
	}
	return rev, nil
}

// ScanAuthRecords implements RecordSource: it streams every live key from one read
// transaction, scanChunk keys at a time, so memory stays bounded whatever the number of
// keys. Every
// Record.Rev is the revision of that transaction's snapshot.
//
// The accounts and their grants are read first (a few thousand rows at most), so that
// the scan of api_keys needs no join or subquery per key; the records of one account
// share one Roles map, which fn must not modify.
func (s *SQLiteStore) ScanAuthRecords(ctx context.Context, fn func(keystore.KeyHash, wire.Record) error) error {
	err := s.read(ctx, func(tx *sql.Tx) error {
		rev, err := readRev(ctx, tx, s.rs)
		if err != nil {
			return err
		}
		accounts, err := readRecordAccounts(ctx, tx)
		if err != nil {
			return err
		}
		st, err := tx.PrepareContext(ctx, scanKeysQuery)
		if err != nil {
			return fmt.Errorf("querying keys: %w", err)
		}
		defer st.Close()
		now := s.now().UnixMicro()
		for after := int64(math.MinInt64); ; {
			var (
				last  sql.NullInt64
				chunk []byte
			)
			if err := st.QueryRowContext(ctx, now, after).Scan(&last, &chunk); err != nil {
				return fmt.Errorf("reading key records: %w", err)
			}
			if !last.Valid {
				return nil // no live key after the last chunk
			}
			after = last.Int64
			for line := range bytes.SplitSeq(chunk, []byte(scanRowSep)) {
				if len(line) == 0 {
					continue // no live key in the chunk
				}
				h, r, a, err := parseScannedKey(line, accounts)
				if err != nil {
					return err
				}
				if a == nil {
					continue // as the inner join of recordQuery: no account, no record
				}
				r.Rev, r.SAID, r.SA, r.Workspace, r.Roles = rev, a.id, a.sa, a.ws, a.roles
				r.RPS, r.Burst = a.rps, a.burst
				if err := fn(h, r); err != nil {
					return err
				}
			}
		}
	})
	if err != nil {
		return fmt.Errorf("scanning key records: %w", err)
	}
	return nil
}

// scanKeysQuery reads up to scanChunk live keys (not revoked, not expired at ?1) whose
// rowids follow ?2: the last rowid read (NULL: no key), and the keys as one text value.
// Per key: its hash, its state, its expiry (empty: none), its account id, each followed
// by a unit separator (0x1f), then its key id; keys are separated by a record separator
// (0x1e). The pure-Go driver takes SQLite's connection mutex three times for each
// column of each row and allocates a string for each: with a row of five columns per
// key, that was most of the scan's cost. Hashes are hex, states and expiries have no
// separator, and ids are generated (newID), so the value splits unambiguously. One
// concat_ws per key, not four ||, which build a string each (BenchmarkScanAuthRecords:
// 7 % more keys a second); no column it joins can be NULL, which concat_ws would skip.
const scanKeysQuery = `SELECT max(r), group_concat(line, char(30)) FROM (
	SELECT rowid AS r, concat_ws(char(31), hash, state, ifnull(expires_at, ''), sa_id, id) AS line
	FROM api_keys WHERE rowid > ?2 AND state != 'revoked' AND (expires_at IS NULL OR expires_at > ?1)
	ORDER BY rowid LIMIT ` + scanChunk + `)`

// scanChunk is the most keys one scanKeysQuery returns.
const scanChunk = "1024"

// scanRowSep separates the keys of a scanKeysQuery value.
const scanRowSep = "\x1e"

// parseScannedKey splits a row of scanKeysQuery into the key's hash and the fields of
// its record that are the key's own (KeyID, State, Exp) and returns the key's account;
// a nil account when the store has none of that id.
func parseScannedKey(line []byte, accounts map[string]*recordAccount) (keystore.KeyHash, wire.Record, *recordAccount, error) {
	var (
		h      keystore.KeyHash
		r      wire.Record
		fields [4][]byte
	)
	rest := line
	for i := range fields {
		f, after, ok := bytes.Cut(rest, []byte{0x1f})
		if !ok {
			return h, r, nil, fmt.Errorf("reading key record: a row of %d fields, want 5", i+1)
		}
		fields[i], rest = f, after
	}
	r.KeyID = string(rest)
	if len(fields[0]) != 2*len(h) {
		return h, r, nil, fmt.Errorf("reading key record %s: the hash is %d characters, want %d", r.KeyID, len(fields[0]), 2*len(h))
	}
	if _, err := hex.Decode(h[:], fields[0]); err != nil {
		return h, r, nil, fmt.Errorf("reading key record %s: the hash is not hex", r.KeyID)
	}
	a := accounts[string(fields[3])]
	if a == nil {
		return h, r, nil, nil
	}
	var state keystore.KeyState
	switch string(fields[1]) {
	case string(keystore.KeyActive):
		state = keystore.KeyActive
	case string(keystore.KeyDeactivated):
		state = keystore.KeyDeactivated
	default:
		state = keystore.KeyState(fields[1])
	}
	r.State = keystore.RecordState(state, a.state)
	if len(fields[2]) > 0 {
		exp, err := strconv.ParseInt(string(fields[2]), 10, 64)
		if err != nil {
			return h, r, nil, fmt.Errorf("reading key record %s: the expiry is not a number", r.KeyID)
		}
		r.Exp = fromMicro(exp).UnixMilli() // Service stores expiries in whole milliseconds
	}
	return h, r, a, nil
}

// recordAccount is what the records of one account's keys share.
type recordAccount struct {
	id, sa, ws string
	state      keystore.AccountState
	roles      map[string]keystore.Role
	rps        float64 // the rate limit; 0: none
	burst      int64
}

// readRecordAccounts reads every service account with its roles (account_roles, merged
// by keystore.AddRole), keyed by account id.
func readRecordAccounts(ctx context.Context, tx *sql.Tx) (map[string]*recordAccount, error) {
	rows, err := tx.QueryContext(ctx, `SELECT s.id, s.name, s.workspace, s.state, s.rate_limit_rps, s.rate_limit_burst, g.project, g.role
FROM service_accounts s LEFT JOIN account_roles g ON g.sa_id = s.id`)
	if err != nil {
		return nil, fmt.Errorf("querying accounts: %w", err)
	}
	defer rows.Close()
	accounts := make(map[string]*recordAccount)
	for rows.Next() {
		var (
			id, name, ws, state string
			rps                 sql.NullFloat64
			burst               sql.NullInt64
			project, role       sql.NullString
		)
		if err := rows.Scan(&id, &name, &ws, &state, &rps, &burst, &project, &role); err != nil {
			return nil, fmt.Errorf("reading account: %w", err)
		}
		a, ok := accounts[id]
		if !ok {
			a = &recordAccount{id: id, sa: keystore.FullName(name, ws), ws: ws, state: keystore.AccountState(state)}
			a.rps, a.burst = recordLimit(rps, burst)
			accounts[id] = a
		}
		if project.Valid {
			a.roles = keystore.AddRole(a.roles, project.String, keystore.Role(role.String))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading accounts: %w", err)
	}
	return accounts, nil
}

// RecordKeyUse implements RecordSource: it keeps the later of the stored and given times,
// a given time clamped to the store's clock and to the key's revocation and expiry. It
// does not change the revision: last use is not part of a key's record.
func (s *SQLiteStore) RecordKeyUse(ctx context.Context, uses map[string]time.Time) error {
	if len(uses) == 0 {
		return nil
	}
	now := s.now().UnixMicro()
	err := s.write(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, `UPDATE api_keys
SET last_used_at = max(coalesce(last_used_at, 0), min(?1, ?3, coalesce(revoked_at, ?3), coalesce(expires_at, ?3)))
WHERE id = ?2 AND (state = 'revoked'
	OR (state = 'active' AND sa_id IN (SELECT id FROM service_accounts WHERE state = 'active')))`)
		if err != nil {
			return err
		}
		defer st.Close()
		for id, at := range uses {
			if _, err := st.ExecContext(ctx, at.UnixMicro(), id, now); err != nil {
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

// Revision implements RecordSource.
func (s *SQLiteStore) Revision(ctx context.Context) (int64, error) {
	var rev int64
	err := s.read(ctx, func(tx *sql.Tx) error {
		var err error
		rev, err = readRev(ctx, tx, s.rs)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("reading the store revision: %w", err)
	}
	return rev, nil
}

// KeyIdentities implements RecordSource.
func (s *SQLiteStore) KeyIdentities(ctx context.Context, hashes []keystore.KeyHash) (map[keystore.KeyHash]wire.Record, error) {
	out := make(map[keystore.KeyHash]wire.Record, len(hashes))
	if len(hashes) == 0 {
		return out, nil
	}
	err := s.read(ctx, func(tx *sql.Tx) error {
		for b := range slices.Chunk(hashes, maxAuthRecordsBatch) {
			args := make([]any, len(b))
			for i, h := range b {
				args[i] = h.String()
			}
			q := `SELECT k.hash, k.id, k.sa_id, s.name, s.workspace FROM api_keys k
JOIN service_accounts s ON s.id = k.sa_id WHERE k.hash IN (` + numberedParams(1, len(b)) + `)`
			if err := scanIdentities(ctx, tx, q, args, out); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading key identities: %w", err)
	}
	return out, nil
}

// scanIdentities runs a query of (hash, key id, account id, account name, workspace)
// rows and adds each identity to out.
func scanIdentities(ctx context.Context, tx *sql.Tx, q string, args []any, out map[keystore.KeyHash]wire.Record) error {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("querying key identities: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var hash, name string
		var r wire.Record
		if err := rows.Scan(&hash, &r.KeyID, &r.SAID, &name, &r.Workspace); err != nil {
			return fmt.Errorf("reading key identity: %w", err)
		}
		h, err := keystore.ParseKeyHash(hash)
		if err != nil {
			return fmt.Errorf("reading key identity %s: %w", r.KeyID, err)
		}
		r.SA = keystore.FullName(name, r.Workspace)
		out[h] = r
	}
	return rows.Err()
}

func readRev(ctx context.Context, tx *sql.Tx, c *stmtCache) (int64, error) {
	var rev int64
	if err := c.queryRow(ctx, tx, "SELECT rev FROM meta WHERE id = 1").Scan(&rev); err != nil {
		return 0, fmt.Errorf("reading revision: %w", err)
	}
	return rev, nil
}
