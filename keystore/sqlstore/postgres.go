package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/sagate/sagate/keystore"
)

// PostgreSQL store URL schemes (libpq's two spellings).
const (
	SchemePostgres   = "postgres://"
	SchemePostgreSQL = "postgresql://"
)

// Connection pool bounds of a PostgresStore.
const (
	postgresMaxOpenConns = 16
	postgresMaxIdleConns = 4
	postgresConnLifetime = 30 * time.Minute
)

// PostgresStore is the Store for high availability: several admins on one PostgreSQL
// database. It holds the same tables as SQLiteStore and keeps the same promises.
//
// How writers stay correct at READ COMMITTED: the first statement of every write
// transaction is UPDATE meta SET rev = rev + 1 … RETURNING rev. That row lock is held
// until commit, so write transactions (from this process or any other admin) run one
// after the other, and the revisions they return are consecutive in commit order. A
// writer that waited for the lock re-reads the row and increments the committed value;
// and because READ COMMITTED takes a fresh snapshot for each statement, every statement
// after that one sees everything the previous writers committed. Each write transaction
// therefore behaves as if it ran alone, without serialization failures to retry.
// LockWorkspace still takes SELECT … FOR UPDATE on the workspace row: it is what makes
// "count the accounts, then insert one" atomic by itself, should writers ever stop
// being serialised by the counter.
//
// Reads (View, AuthRecords, ScanAuthRecords) run in REPEATABLE READ READ ONLY
// transactions: one snapshot for the whole transaction, so the revision and the rows
// read with it belong together. They never block writers.
//
// The isolation level of every transaction is set explicitly, so a database whose
// default_transaction_isolation was changed behaves the same.
type PostgresStore struct {
	db  *sql.DB
	now func() time.Time
}

// OpenPostgres connects to the PostgreSQL database named by url (postgres:// or
// postgresql://, with libpq's parameters) and applies the schema migrations. An error
// never repeats the URL, which may hold a password.
func OpenPostgres(ctx context.Context, url string) (*PostgresStore, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		// pgx's message may quote the URL (best-effort redaction): say only what kind of failure it is.
		return nil, errors.New("opening postgres store: the URL does not parse as postgres://user:password@host:port/database?param=value")
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(postgresMaxOpenConns)
	db.SetMaxIdleConns(postgresMaxIdleConns)
	db.SetConnMaxLifetime(postgresConnLifetime)
	s := &PostgresStore{db: db, now: time.Now}
	if err := s.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening postgres store on %s: %w", describe(cfg), err)
	}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("opening postgres store on %s: %w", describe(cfg), err)
	}
	return s, nil
}

// describe names the database of cfg for error messages, without the password.
func describe(cfg *pgx.ConnConfig) string {
	return fmt.Sprintf("%s:%d/%s", cfg.Host, cfg.Port, cfg.Database)
}

// Ping checks that the database answers a query.
func (s *PostgresStore) Ping(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("pinging postgres store: %w", err)
	}
	return nil
}

// Close closes the connection pool.
func (s *PostgresStore) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing postgres store: %w", err)
	}
	return nil
}

// Update runs fn in one READ COMMITTED transaction after incrementing the revision,
// which serialises it with every other writer (see PostgresStore).
func (s *PostgresStore) Update(ctx context.Context, fn func(keystore.Tx) error) (int64, error) {
	var rev int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "UPDATE meta SET rev = rev + 1 WHERE id = 1 RETURNING rev").Scan(&rev); err != nil {
			return fmt.Errorf("incrementing revision: %w", err)
		}
		return fn(&postgresTx{tx: tx, groupSQL: groupSQL{gtx: tx, pg: true}})
	})
	if err != nil {
		return 0, err
	}
	return rev, nil
}

// View runs fn in one REPEATABLE READ, read-only transaction (one snapshot).
func (s *PostgresStore) View(ctx context.Context, fn func(keystore.Tx) error) error {
	return s.read(ctx, func(tx *sql.Tx) error { return fn(&postgresTx{tx: tx, groupSQL: groupSQL{gtx: tx, pg: true}}) })
}

// write runs fn in a READ COMMITTED transaction and commits it; fn's error is returned unchanged.
func (s *PostgresStore) write(ctx context.Context, fn func(*sql.Tx) error) error {
	return writeTx(ctx, s.db, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, fn)
}

// read runs fn in a REPEATABLE READ, read-only transaction; fn's error is returned unchanged.
func (s *PostgresStore) read(ctx context.Context, fn func(*sql.Tx) error) error {
	return readTx(ctx, s.db, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}, fn)
}

// pgUniqueViolation is PostgreSQL's SQLSTATE for a UNIQUE or PRIMARY KEY violation.
const pgUniqueViolation = "23505"

// isPostgresUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isPostgresUniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == pgUniqueViolation
}

var _ keystore.Store = (*PostgresStore)(nil)
