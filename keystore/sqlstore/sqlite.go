package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/sagate/sagate/keystore"
)

// SQLiteStore is the embedded Store: one SQLite file in WAL mode.
//
// Writes go through a pool of exactly one connection whose transactions begin with
// BEGIN IMMEDIATE, so writers queue in Go instead of failing with SQLITE_BUSY, and
// every write transaction holds the database's write lock from its first statement
// (which is what makes LockWorkspace a no-op). Reads go through a separate pool of
// read-only connections; in WAL mode each read transaction sees one snapshot and
// never blocks the writer. busy_timeout covers other processes opening the same file.
//
// Commits use synchronous=NORMAL: in WAL mode a committed transaction survives a crash
// of the process (SIGKILL), and only a power loss or OS crash can lose the last
// transactions before a checkpoint.
type SQLiteStore struct {
	path string
	w    *sql.DB    // one connection, BEGIN IMMEDIATE
	r    *sql.DB    // read-only connections
	ws   *stmtCache // w's prepared statements
	rs   *stmtCache // r's prepared statements
	now  func() time.Time
}

// OpenSQLite opens (creating if needed) the SQLite database at path and migrates it.
// A missing folder is created 0700 and a missing file 0600 (createPrivate).
func OpenSQLite(ctx context.Context, path string) (*SQLiteStore, error) {
	if path == "" {
		return nil, errors.New("opening sqlite store: empty path; use sqlite://./sagate.db or sqlite:///abs/path.db")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, errors.New("opening sqlite store: the path must not contain '?' or '#'")
	}
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	common := "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)"
	w, err := sql.Open("sqlite", path+common+"&_pragma=journal_mode(WAL)&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	s := &SQLiteStore{path: path, w: w, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", path+common+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening sqlite store %s for reading: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	s.r = r
	s.ws, s.rs = newStmtCache(s.w), newStmtCache(r)
	if err := s.Ping(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("opening sqlite store %s: %w", path, err)
	}
	return s, nil
}

// createPrivate creates the database file's folder (0700, with any missing parents) and
// the file itself (0600) when they do not exist, so that the keys' hashes and the audit
// trail are readable by the admin's user only. SQLite gives the -wal and -shm files the
// database file's mode. Existing folders and files are left as they are.
func createPrivate(path string) error {
	dir := filepath.Dir(path)
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating the folder %s: %w", dir, err)
		}
	} else if err != nil {
		return fmt.Errorf("checking the folder %s: %w", dir, err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil
	case err != nil:
		return fmt.Errorf("creating the database file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("creating the database file: %w", err)
	}
	return nil
}

// Path returns the database file's path as given to OpenSQLite.
func (s *SQLiteStore) Path() string { return s.path }

// Ping checks that both pools answer.
func (s *SQLiteStore) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("pinging sqlite store: %w", err)
	}
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("pinging sqlite store: %w", err)
	}
	return nil
}

// Close closes both pools.
func (s *SQLiteStore) Close() error {
	var errs []error
	if s.ws != nil {
		s.ws.close()
		s.rs.close()
	}
	if s.r != nil {
		errs = append(errs, s.r.Close())
	}
	errs = append(errs, s.w.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("closing sqlite store: %w", err)
	}
	return nil
}

// Update runs fn in one BEGIN IMMEDIATE transaction after incrementing the revision.
func (s *SQLiteStore) Update(ctx context.Context, fn func(keystore.Tx) error) (int64, error) {
	var rev int64
	err := s.write(ctx, func(tx *sql.Tx) error {
		t := &sqliteTx{tx: tx, stmts: s.ws, groupSQL: groupSQL{gtx: tx}}
		if err := t.queryRow(ctx, "UPDATE meta SET rev = rev + 1 WHERE id = 1 RETURNING rev").Scan(&rev); err != nil {
			return fmt.Errorf("incrementing revision: %w", err)
		}
		return fn(t)
	})
	if err != nil {
		return 0, err
	}
	return rev, nil
}

// View runs fn in one read transaction (one snapshot).
func (s *SQLiteStore) View(ctx context.Context, fn func(keystore.Tx) error) error {
	return s.read(ctx, func(tx *sql.Tx) error { return fn(&sqliteTx{tx: tx, stmts: s.rs, groupSQL: groupSQL{gtx: tx}}) })
}

// write runs fn in a write transaction and commits it; fn's error is returned
// unchanged. Statements first run in it are prepared once it is over (stmtCache).
func (s *SQLiteStore) write(ctx context.Context, fn func(*sql.Tx) error) error {
	err := writeTx(ctx, s.w, nil, fn)
	s.ws.prepareWanted(ctx)
	return err
}

// read runs fn in a read transaction; fn's error is returned unchanged. Statements
// first run in it are prepared once it is over (stmtCache).
func (s *SQLiteStore) read(ctx context.Context, fn func(*sql.Tx) error) error {
	err := readTx(ctx, s.r, &sql.TxOptions{ReadOnly: true}, fn)
	s.rs.prepareWanted(ctx)
	return err
}

// isUniqueViolation reports whether err is SQLite's UNIQUE or PRIMARY KEY constraint error.
func isUniqueViolation(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		c := se.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

var _ keystore.Store = (*SQLiteStore)(nil)
