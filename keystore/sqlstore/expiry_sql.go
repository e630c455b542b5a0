package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sagate/sagate/keystore"
)

// expiryAnnouncedMigration adds api_keys.expiry_announced: whether the admin has
// written the tombstone of the key's expiry and published its event (AnnounceExpiries),
// with an index of the keys still to announce, by expiry. The same statements serve
// SQLite and PostgreSQL.
const expiryAnnouncedMigration = `
ALTER TABLE api_keys ADD COLUMN expiry_announced BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX api_keys_expiry_to_announce ON api_keys (expires_at) WHERE ` + toAnnounce + `;
`

// toAnnounce selects the keys whose expiry is still to announce: it is the index's
// condition, written the same in every query so that both databases use the index.
const toAnnounce = `expires_at IS NOT NULL AND NOT expiry_announced AND state <> 'revoked'`

// expiryTx is what announceExpiries needs of a transaction of either store (groupSQL
// implements it for both).
type expiryTx interface {
	nextExpiryToAnnounce(ctx context.Context) (at time.Time, found bool, err error)
	expiredToAnnounce(ctx context.Context, now time.Time, limit int) ([]keystore.KeyHash, error)
	markExpiryAnnounced(ctx context.Context, hashes []keystore.KeyHash) error
}

func (g groupSQL) nextExpiryToAnnounce(ctx context.Context) (time.Time, bool, error) {
	var at time.Time
	var v any
	if err := g.queryRow(ctx, `SELECT min(expires_at) FROM api_keys WHERE `+toAnnounce).Scan(&v); err != nil {
		return at, false, fmt.Errorf("reading the next expiry: %w", err)
	}
	if v == nil {
		return at, false, nil
	}
	if err := (anyTime{&at}).Scan(v); err != nil {
		return at, false, fmt.Errorf("reading the next expiry: %w", err)
	}
	return at, true, nil
}

func (g groupSQL) expiredToAnnounce(ctx context.Context, now time.Time, limit int) ([]keystore.KeyHash, error) {
	rows, err := g.query(ctx, `SELECT hash FROM api_keys WHERE `+toAnnounce+` AND expires_at <= ?
ORDER BY expires_at LIMIT ?`, g.at(now), limit)
	return collect(rows, err, "listing expired keys", func(r rowScanner) (keystore.KeyHash, error) {
		var s string
		if err := r.Scan(&s); err != nil {
			return keystore.KeyHash{}, err
		}
		return keystore.ParseKeyHash(s)
	})
}

func (g groupSQL) markExpiryAnnounced(ctx context.Context, hashes []keystore.KeyHash) error {
	args := make([]any, len(hashes))
	for i, h := range hashes {
		args[i] = h.String()
	}
	marks := strings.TrimSuffix(strings.Repeat("?,", len(hashes)), ",")
	_, err := g.exec(ctx, `UPDATE api_keys SET expiry_announced = TRUE WHERE hash IN (`+marks+`)`, args...)
	return wrapErr("marking expiries announced", err)
}

// wrapErr adds what was being done to a non-nil err.
func wrapErr(doing string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// errNoExpiry rolls back an announcing transaction that found nothing to announce
// (another admin on the store did): its revision must not be used.
var errNoExpiry = errors.New("no expiry to announce")

// txStore is the part of both stores announceExpiries uses.
type txStore interface {
	Update(ctx context.Context, fn func(keystore.Tx) error) (int64, error)
	View(ctx context.Context, fn func(keystore.Tx) error) error
}

// announceExpiries implements keystore.ExpiryAnnouncer for both stores, now being the
// store's clock (the one AuthRecords tells expired keys by). It writes nothing unless a
// key is due: one indexed read per call.
func announceExpiries(ctx context.Context, st txStore, now time.Time, limit int) (keystore.Change, time.Time, error) {
	next := func() (time.Time, error) { return nextExpiry(ctx, st) }
	at, err := next()
	if err != nil || at.IsZero() || at.After(now) {
		return keystore.Change{}, at, err
	}
	var hashes []keystore.KeyHash
	rev, err := st.Update(ctx, func(tx keystore.Tx) error {
		et := tx.(expiryTx)
		var err error
		if hashes, err = et.expiredToAnnounce(ctx, now, limit); err != nil {
			return err
		}
		if len(hashes) == 0 {
			return errNoExpiry
		}
		if err := et.markExpiryAnnounced(ctx, hashes); err != nil {
			return err
		}
		return tx.InsertSyncPending(ctx, hashes)
	})
	c := keystore.Change{Rev: rev, Action: keystore.ActionKeyExpire, Hashes: hashes}
	if errors.Is(err, errNoExpiry) {
		c = keystore.Change{}
	} else if err != nil {
		return keystore.Change{}, time.Time{}, fmt.Errorf("announcing expired keys: %w", err)
	}
	at, err = next()
	return c, at, err
}

// nextExpiry implements keystore.ExpiryReporter for both stores: one indexed read.
func nextExpiry(ctx context.Context, st txStore) (time.Time, error) {
	var at time.Time
	err := st.View(ctx, func(tx keystore.Tx) error {
		var err error
		at, _, err = tx.(expiryTx).nextExpiryToAnnounce(ctx)
		return err
	})
	return at, err
}

// NextExpiry implements keystore.ExpiryReporter.
func (s *SQLiteStore) NextExpiry(ctx context.Context) (time.Time, error) { return nextExpiry(ctx, s) }

// NextExpiry implements keystore.ExpiryReporter.
func (s *PostgresStore) NextExpiry(ctx context.Context) (time.Time, error) { return nextExpiry(ctx, s) }

// AnnounceExpiries implements keystore.ExpiryAnnouncer.
func (s *SQLiteStore) AnnounceExpiries(ctx context.Context, limit int) (keystore.Change, time.Time, error) {
	return announceExpiries(ctx, s, s.now(), limit)
}

// AnnounceExpiries implements keystore.ExpiryAnnouncer.
func (s *PostgresStore) AnnounceExpiries(ctx context.Context, limit int) (keystore.Change, time.Time, error) {
	return announceExpiries(ctx, s, s.now(), limit)
}

var (
	_ keystore.ExpiryAnnouncer = (*SQLiteStore)(nil)
	_ keystore.ExpiryAnnouncer = (*PostgresStore)(nil)
	_ keystore.ExpiryReporter  = (*SQLiteStore)(nil)
	_ keystore.ExpiryReporter  = (*PostgresStore)(nil)
)
