package sqlstore

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds a stmtCache: the store's statements are a fixed set of texts,
// but the key-record query carries one parameter per key asked for (AuthRecords), and
// texts built at run time must not make the cache grow without end.
const maxCachedStmts = 128

// stmtCache keeps one prepared statement per SQL text of a database handle.
// modernc's SQLite parses and plans the text of every statement it runs afresh: a
// quarter of the store's CPU when the admin issues a key, in five short statements.
//
// A transaction holds the handle's one writer connection, and preparing at the handle
// level needs a connection of its own, so a text seen for the first time inside a
// transaction runs unprepared there and is prepared once the transaction has let its
// connection go (prepareWanted); from then on transactions bind the prepared statement to
// their connection (sql.Tx.StmtContext), which database/sql prepares on that connection
// only once. A nil *stmtCache prepares nothing: its methods run the text as given
// (readRev is shared with the PostgreSQL store, whose driver caches statements itself).
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	wanted map[string]struct{}
	closed bool // set by close: nothing more is prepared
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: map[string]*sql.Stmt{}, wanted: map[string]struct{}{}}
}

// lookup returns the prepared statement of query, or nil after noting that query is
// wanted.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st
	}
	if len(c.stmts)+len(c.wanted) < maxCachedStmts {
		c.wanted[query] = struct{}{}
	}
	return nil
}

// prepareWanted prepares the texts noted since the last call. It must not be called
// while a transaction of c.db is open on this goroutine (it needs a connection).
// A text that fails to prepare is left to run unprepared: the transaction that ran it
// has reported any error it has.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	if c == nil {
		return
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	var todo []string
	for q := range c.wanted {
		todo = append(todo, q)
	}
	clear(c.wanted)
	c.mu.Unlock()
	for _, q := range todo {
		st, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		c.mu.Lock()
		if _, dup := c.stmts[q]; dup || c.closed {
			_ = st.Close()
		} else {
			c.stmts[q] = st
		}
		c.mu.Unlock()
	}
}

// exec runs query in tx, prepared once it has been seen before.
func (c *stmtCache) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	if st := c.lookup(query); st != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return tx.ExecContext(ctx, query, args...)
}

// query runs query in tx, prepared once it has been seen before.
func (c *stmtCache) query(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if st := c.lookup(query); st != nil {
		return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return tx.QueryContext(ctx, query, args...)
}

// queryRow runs query in tx, prepared once it has been seen before.
func (c *stmtCache) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) *sql.Row {
	if st := c.lookup(query); st != nil {
		return tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return tx.QueryRowContext(ctx, query, args...)
}

// close closes every prepared statement; a prepareWanted still running closes what
// it prepares.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for q, st := range c.stmts {
		_ = st.Close()
		delete(c.stmts, q)
	}
}
